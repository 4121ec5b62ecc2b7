"""Taking up, giving up and losing the lead, with a stand-in producer."""

import contextlib
from typing import Any, ClassVar

import pytest
from aiokafka.errors import KafkaTimeoutError, ProducerFenced

from pelastus_hub.picture import leadership
from pelastus_hub.picture.leadership import Leadership


class Producer:
    """Stands in for a transactional AIOKafkaProducer; `fail` is raised by the next send."""

    made: ClassVar[list["Producer"]] = []
    fail: ClassVar[Exception | None] = None

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.stopped = False
        Producer.made.append(self)

    async def start(self) -> None: ...

    async def stop(self) -> None:
        self.stopped = True

    @contextlib.asynccontextmanager
    async def transaction(self) -> Any:
        yield

    async def send(self, topic: str, value: bytes, key: bytes) -> Any:
        if Producer.fail is not None:
            raise Producer.fail
        self.sent.append((topic, key, value))

        async def acked() -> None: ...

        return acked()


@pytest.fixture(autouse=True)
def producer(monkeypatch: pytest.MonkeyPatch) -> None:
    Producer.made.clear()
    monkeypatch.setattr(Producer, "fail", None)
    monkeypatch.setattr(leadership, "AIOKafkaProducer", Producer)


async def test_the_lead_is_taken_up_with_a_shared_transactional_id_and_given_up() -> None:
    lead = Leadership({"bootstrap_servers": "x"}, "hub-snapshots")
    assert await lead.settle() is False and not lead.leading  # not assigned yet
    lead.assigned = True
    assert await lead.settle() is True and lead.leading
    assert await lead.settle() is False  # already leading
    assert Producer.made[0].options["transactional_id"] == "hub-snapshots"
    assert await lead.send([("national.capability", b"national", b"{}")])
    lead.assigned = False
    await lead.settle()
    assert not lead.leading and Producer.made[0].stopped


async def test_a_fenced_leader_stays_down_until_assigned_anew() -> None:
    lead = Leadership({}, "hub-snapshots")
    lead.assigned = True
    await lead.settle()
    Producer.fail = ProducerFenced()
    assert await lead.send([("national.capability", b"national", b"{}")]) is False
    assert not lead.leading and not lead.assigned
    assert await lead.settle() is False and len(Producer.made) == 1  # no fencing back


async def test_another_error_steps_down_and_the_next_tick_tries_again() -> None:
    lead = Leadership({}, "hub-snapshots")
    lead.assigned = True
    await lead.settle()
    Producer.fail = KafkaTimeoutError()
    assert await lead.send([("national.capability", b"national", b"{}")]) is False
    assert not lead.leading and lead.assigned
    Producer.fail = None
    assert await lead.settle() is True and len(Producer.made) == 2
