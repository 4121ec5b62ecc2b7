"""RenewableProducer's turns, with a stand-in producer whose start waits to be let go."""

import asyncio
from typing import Any

import pytest

from pelastus_hub.clients import RenewableProducer


class SlowStartProducer:
    def __init__(self, log: list[str], gate: asyncio.Event) -> None:
        self.log, self.gate = log, gate

    async def start(self) -> None:
        await self.gate.wait()
        self.log.append("start")

    async def stop(self) -> None:
        self.log.append("stop")


class Clients:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.gate = asyncio.Event()
        self.made: list[dict[str, Any]] = []

    def producer(self, **config: Any) -> SlowStartProducer:
        self.made.append(config)
        return SlowStartProducer(self.log, self.gate)


async def started() -> tuple[RenewableProducer, Clients]:
    clients = Clients()
    clients.gate.set()
    renewable = RenewableProducer(clients, "to the test", acks="all")  # type: ignore[arg-type]
    await renewable.start()
    return renewable, clients


async def test_idempotence_is_always_on() -> None:
    _, clients = await started()
    assert clients.made == [{"acks": "all", "enable_idempotence": True}]


async def test_only_a_failure_of_the_current_producer_renews_it() -> None:
    renewable, clients = await started()
    first = renewable.current
    assert await renewable.ready() is first
    renewable.failed(object())  # type: ignore[arg-type]  # one renewed away already
    assert await renewable.ready() is first
    renewable.failed(first)  # type: ignore[arg-type]
    second = await renewable.ready()
    assert second is not first and clients.log == ["start", "start", "stop"]


async def test_concurrent_senders_make_one_new_producer() -> None:
    renewable, clients = await started()
    renewable.failed(renewable.current)  # type: ignore[arg-type]
    clients.gate.clear()
    senders = [asyncio.create_task(renewable.ready()) for _ in range(3)]
    await asyncio.sleep(0)
    clients.gate.set()
    assert len({id(p) for p in await asyncio.gather(*senders)}) == 1
    assert len(clients.made) == 2


async def test_a_stop_while_a_new_producer_connects_leaves_none_running() -> None:
    renewable, clients = await started()
    renewable.failed(renewable.current)  # type: ignore[arg-type]
    clients.gate.clear()
    sender = asyncio.create_task(renewable.ready())
    await asyncio.sleep(0)  # the new one is connecting
    await renewable.stop()
    clients.gate.set()
    with pytest.raises(RuntimeError, match="stopped"):
        await sender
    assert renewable.current is None
    assert clients.log == ["start", "stop", "start", "stop"]  # the old, then the new one
    with pytest.raises(RuntimeError, match="not started"):
        await renewable.ready()
