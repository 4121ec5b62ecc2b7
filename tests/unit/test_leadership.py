"""Taking up, giving up and losing the lead, with stand-in Kafka clients."""

import pytest
from aiokafka.errors import KafkaTimeoutError, ProducerFenced

from pelastus_hub.picture.leadership import Leadership
from tests.unit.fakes import FakeKafka, Sent

SNAPSHOT = ("national.capability", b"national", b"{}")


@pytest.fixture
def kafka() -> FakeKafka:
    return FakeKafka()


async def test_the_lead_is_taken_up_with_a_shared_transactional_id_and_given_up(
    kafka: FakeKafka,
) -> None:
    lead = Leadership(kafka, "hub-snapshots")
    assert await lead.settle() is False and not lead.leading  # not assigned yet
    lead.assigned = True
    assert await lead.settle() is True and lead.leading
    assert await lead.settle() is False  # already leading
    assert kafka.producers[0].config == {"transactional_id": "hub-snapshots"}
    assert await lead.send([SNAPSHOT])
    assert kafka.written == [Sent(*SNAPSHOT)]
    lead.assigned = False
    await lead.settle()
    assert not lead.leading and kafka.log == ["start", "commit", "stop"]


async def test_a_fenced_leader_stays_down_until_assigned_anew(kafka: FakeKafka) -> None:
    lead = Leadership(kafka, "hub-snapshots")
    lead.assigned = True
    await lead.settle()
    kafka.refuse_every = ProducerFenced()
    assert await lead.send([SNAPSHOT]) is False
    assert not lead.leading and not lead.assigned
    assert await lead.settle() is False and len(kafka.producers) == 1  # no fencing back


async def test_another_error_steps_down_and_the_next_tick_tries_again(kafka: FakeKafka) -> None:
    lead = Leadership(kafka, "hub-snapshots")
    lead.assigned = True
    await lead.settle()
    kafka.refuse_every = KafkaTimeoutError()
    assert await lead.send([SNAPSHOT]) is False
    assert not lead.leading and lead.assigned
    kafka.refuse_every = None
    assert await lead.settle() is True and len(kafka.producers) == 2
    assert kafka.written == []
