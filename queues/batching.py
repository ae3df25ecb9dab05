"""Group commit: many concurrent callers, one database transaction per batch.

While a batch is being written, new items queue up and form the next batch, so latency at
low load is one transaction and throughput at high load is many items per transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Runs ``run(items)`` on batches of submitted items; each caller gets its item's result.

    ``run`` returns one result per item, in order; if it raises, every item of the batch
    gets that exception.  One batch runs at a time.
    """

    def __init__(self, run: Callable[[Sequence[T]], Awaitable[Sequence[R]]], max_size: int = 200):
        self._run = run
        self._max_size = max_size
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let callers scheduled in the same tick join the batch
        while self._pending:
            batch, self._pending = self._pending[: self._max_size], self._pending[self._max_size :]
            try:
                results = await self._run([item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
