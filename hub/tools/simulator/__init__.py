"""Simulated department traffic, and the oracle of what the hub must make of it.

generate() is pure, so a (registry, seed, start, rate, shares) always yields the same bytes
and tests can predict the hub's state with ground_truth(). world builds the departments from
the seed, fleet moves their units, traffic turns that into messages (invalid spoils some),
oracle works out what the hub must know after them, and sending's run() produces it all to
Kafka.
"""

from pelastus_hub.tools.simulator.message import Message, message_data
from pelastus_hub.tools.simulator.oracle import final_states, ground_truth
from pelastus_hub.tools.simulator.sending import run
from pelastus_hub.tools.simulator.traffic import generate

__all__ = ["Message", "final_states", "generate", "ground_truth", "message_data", "run"]
