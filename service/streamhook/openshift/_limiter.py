"""Client-side throttling for API calls: a token bucket (qps, burst) plus an in-flight cap.

kubernetes-asyncio has neither (docs/field-notes.md §3.4), so every call the writer makes
takes a slot here first. Tokens are *reserved* in arrival order, like Go's ``rate.Limiter``:
a caller that finds the bucket empty learns at once how long it must wait, so waiters are
served first come, first served without a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)

# Same as OpenShiftConfig's defaults (docs/field-notes.md §3.5).
DEFAULT_QPS = 10.0
DEFAULT_BURST = 20
DEFAULT_MAX_IN_FLIGHT = 8

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """``qps`` tokens per second, at most ``burst`` saved up; may go negative (reservations)."""

    def __init__(self, qps: float, burst: int, *, clock: Clock = time.monotonic) -> None:
        if qps <= 0:
            raise ValueError("qps must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self._rate = float(qps)
        self._capacity = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
        self._updated = now

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before it may be used (0: go now)."""
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    def give_back(self) -> None:
        """Return a reserved token that was never used (the waiter was cancelled)."""
        self._refill()
        self._tokens = min(self._capacity, self._tokens + 1.0)

    @property
    def available(self) -> float:
        self._refill()
        return self._tokens


class RateLimiter:
    """``async with limiter.slot("mapping"):`` around every API call."""

    def __init__(
        self,
        *,
        qps: float = DEFAULT_QPS,
        burst: int = DEFAULT_BURST,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._bucket = TokenBucket(qps, burst, clock=clock)
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._sleep = sleep
        self.throttled = 0  # calls that had to wait for a token
        self.throttled_seconds = 0.0

    @contextlib.asynccontextmanager
    async def slot(self, operation: str) -> AsyncIterator[None]:
        # The in-flight slot is taken first so a token is never spent while queued for one.
        async with self._in_flight:
            wait = self._bucket.reserve()
            if wait > 0:
                self.throttled += 1
                self.throttled_seconds += wait
                log.debug("openshift.throttled", operation=operation, wait_seconds=round(wait, 3))
                try:
                    await self._sleep(wait)
                except asyncio.CancelledError:
                    self._bucket.give_back()
                    raise
            yield
