"""The lock of the worker's states, with the batch transaction that runs on after it.

A batch is processed, its outputs and offsets committed in one transaction, and a
catch-up from the changelogs or a revocation never comes in between: a tombstone read
mid-batch would remove a state about to be written, and partitions revoked before their
offsets commit would be read again by their next owner.

The batch loop holds the lock only while it processes a batch (processing()): the
batch's transaction then runs on while the next batch is fetched and processed, and
that one's transaction waits for it. Everyone else (`async with`) also waits until the
transaction in flight has committed, so for them a batch is still all or nothing.
"""

import asyncio
from collections.abc import Coroutine
from typing import Any


class StateLock:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._committing: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        await self._lock.acquire()
        try:
            await self.committed()
        except BaseException:
            self._lock.release()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()

    def processing(self) -> asyncio.Lock:
        """The lock alone, for the batch loop and for what may run beside a transaction in
        flight (a snapshot's catch-up, StateSync.catch_up)."""
        return self._lock

    def commit(self, transaction: Coroutine[Any, Any, None]) -> None:
        """Run a batch's transaction on, holding the lock (processing()): after the one
        before it (await committed() first)."""
        assert self._lock.locked(), "a batch's transaction starts under processing()"
        assert self._committing is None, "one transaction in flight at a time"
        self._committing = asyncio.ensure_future(transaction)

    async def committed(self) -> None:
        """Wait for the transaction in flight, if any, to end; raises what failed it."""
        task = self._committing
        if task is None:
            return
        try:
            # A waiter cancelled (a stopping task) leaves the transaction to finish.
            await asyncio.shield(task)
        finally:
            if task.done() and self._committing is task:
                self._committing = None
