"""The one retry helper: capped exponential backoff with full jitter, honouring Retry-After.

Only ``TemporaryError`` is retried; everything else propagates at once. A server's
``retry_after`` hint is a floor for the next delay. Retrying stops after ``max_attempts``
or when the next sleep would pass the deadline; the last error is then raised.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from streamhook.errors import TemporaryError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_delay: float = 1.0
    max_delay: float = 30.0
    max_attempts: int = 8
    deadline: float = 300.0

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Full-jitter delay before retry number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.initial_delay * 2.0 ** (attempt - 1))
        return ceiling * rng()

    def next_delay(
        self, attempt: int, error: TemporaryError, rng: Callable[[], float] = random.random
    ) -> float:
        delay = self.backoff(attempt, rng)
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return delay


OnRetry = Callable[[int, TemporaryError, float], None]
Sleep = Callable[[float], Awaitable[None]]


async def retrying(
    operation: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    on_retry: OnRetry | None = None,
    should_continue: Callable[[], bool] = lambda: True,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: Callable[[], float] = random.random,
) -> T:
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation()
        except TemporaryError as error:
            delay = policy.next_delay(attempt, error, rng)
            out_of_time = clock() - started + delay > policy.deadline
            if attempt >= policy.max_attempts or out_of_time or not should_continue():
                raise
            if on_retry is not None:
                on_retry(attempt, error, delay)
            await sleep(delay)
