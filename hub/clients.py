"""Where the hub's Kafka clients are made: one place that knows the connection.

Every part that talks to Kafka is handed a KafkaClients and asks it for the client it
needs, with that client's own settings; the connection options (HubSettings.kafka_options)
are merged in here. A test hands in a stand-in instead, and no part makes a client of
its own.
"""

from typing import Any, Self

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from pelastus_hub.settings import HubSettings


class KafkaClients:
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    @classmethod
    def from_settings(cls, settings: HubSettings) -> Self:
        return cls(settings.kafka_options())

    def producer(self, **config: Any) -> AIOKafkaProducer:
        return AIOKafkaProducer(**self.options | config)

    def consumer(self, *topics: str, **config: Any) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(*topics, **self.options | config)

    def admin(self, **config: Any) -> AIOKafkaAdminClient:
        return AIOKafkaAdminClient(**self.options | config)

    def client(self, **config: Any) -> AIOKafkaClient:
        """The bare client: cluster metadata, nothing else."""
        return AIOKafkaClient(**self.options | config)
