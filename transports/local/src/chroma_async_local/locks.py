"""A readers–writer lock for anyio (asyncio and trio), one per collection.

Reads of a collection run together; a write runs alone, because the store's numpy arrays
and index change under it. A waiting writer stops new readers from entering, so a steady
stream of queries cannot starve ingestion. Everything happens on the event loop thread,
so plain counters suffice; waiting is done on :class:`anyio.Event` objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

__all__ = ["ReadWriteLock"]


class ReadWriteLock:
    """``async with lock.read():`` / ``async with lock.write():``."""

    def __init__(self) -> None:
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0
        self._waiters: list[anyio.Event] = []

    @property
    def readers(self) -> int:
        return self._readers

    @property
    def writing(self) -> bool:
        return self._writing

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for event in waiters:
            event.set()

    async def _wait(self) -> None:
        event = anyio.Event()
        self._waiters.append(event)
        await event.wait()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[None]:
        while self._writing or self._writers_waiting:
            await self._wait()
        self._readers += 1
        try:
            yield
        finally:
            self._readers -= 1
            if self._readers == 0:
                self._wake()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[None]:
        self._writers_waiting += 1
        try:
            while self._writing or self._readers:
                await self._wait()
        except BaseException:
            self._writers_waiting -= 1
            self._wake()  # readers held back by this writer may go
            raise
        self._writers_waiting -= 1
        self._writing = True
        try:
            yield
        finally:
            self._writing = False
            self._wake()
