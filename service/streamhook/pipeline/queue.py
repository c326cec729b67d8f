"""The work queue: bounded, coalescing per target, one worker per target at a time.

``WorkQueue`` is the interface the ingress and workers use; ``MemoryQueue`` keeps work in
memory (a durable journal can implement the same protocol later).

Coalescing: while work for a target waits, a newer push for that target replaces it (the
burst maps the newest once). While a target is being processed, a newer push waits and
runs after it, so two workers never write the same tag concurrently.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from typing import Protocol

from streamhook.events import Target, Work


class Offer(enum.Enum):
    QUEUED = "queued"
    COALESCED = "coalesced"  # replaced older waiting work for the same target
    FULL = "full"
    CLOSED = "closed"


class QueueClosed(Exception):
    """``get`` after ``close`` once the queue has nothing left."""


class WorkQueue(Protocol):
    """What the ingress and the workers need of a queue (a durable journal can provide it)."""

    @property
    def depth(self) -> int: ...

    @property
    def in_flight(self) -> int: ...

    @property
    def capacity(self) -> int: ...

    def offer(self, work: Work) -> Offer: ...

    def has_newer(self, work: Work) -> bool: ...

    def waiting(self) -> list[Work]: ...

    async def get(self) -> Work: ...

    def done(self, work: Work) -> None: ...

    def close(self) -> None: ...

    async def join(self) -> None: ...


class MemoryQueue:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._waiting: dict[Target, Work] = {}
        self._ready: deque[Target] = deque()
        self._in_flight: set[Target] = set()
        self._changed = asyncio.Event()
        self._closed = False

    @property
    def depth(self) -> int:
        """Work waiting, not counting work being processed."""
        return len(self._waiting)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, work: Work) -> Offer:
        if self._closed:
            return Offer.CLOSED
        key = work.key
        if key in self._waiting:
            self._waiting[key] = work
            return Offer.COALESCED
        if len(self._waiting) >= self._capacity:
            return Offer.FULL
        self._waiting[key] = work
        if key not in self._in_flight:
            self._ready.append(key)
        self._changed.set()
        return Offer.QUEUED

    def has_newer(self, work: Work) -> bool:
        """True when newer work for the same target is waiting (``work`` is superseded)."""
        return work.key in self._waiting

    def waiting(self) -> list[Work]:
        """Work not yet handed to a worker, oldest target first."""
        return list(self._waiting.values())

    async def get(self) -> Work:
        while True:
            if self._ready:
                key = self._ready.popleft()
                self._in_flight.add(key)
                return self._waiting.pop(key)
            if self._closed:
                raise QueueClosed
            await self._wait_for_change()

    def done(self, work: Work) -> None:
        key = work.key
        self._in_flight.discard(key)
        if key in self._waiting:
            self._ready.append(key)
        self._changed.set()

    def close(self) -> None:
        """Refuse new work; ``get`` keeps handing out what is queued, then raises QueueClosed."""
        self._closed = True
        self._changed.set()

    async def join(self) -> None:
        """Wait until nothing is waiting or in flight."""
        while self._waiting or self._in_flight:
            await self._wait_for_change()

    async def _wait_for_change(self) -> None:
        # Checking state and clearing happen without an await in between, so no wake-up is lost.
        self._changed.clear()
        await self._changed.wait()
