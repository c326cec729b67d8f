from __future__ import annotations

import pytest

from streamhook.errors import PermanentError, TemporaryError
from streamhook.retry import RetryPolicy, retrying


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(errors: list[Exception]):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    async def op() -> str:
        calls["n"] += 1
        if errors:
            raise errors.pop(0)
        return "ok"

    return op, calls


async def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    policy = RetryPolicy(initial_delay=1, max_delay=5, max_attempts=10, deadline=1000)
    t = FakeTime()
    op, calls = failing([TemporaryError("x") for _ in range(5)])
    assert await retrying(op, policy, sleep=t.sleep, clock=t.clock, rng=lambda: 1.0) == "ok"
    assert t.sleeps == [1, 2, 4, 5, 5]
    assert calls["n"] == 6


async def test_retry_after_is_a_floor() -> None:
    policy = RetryPolicy(initial_delay=1, max_delay=5, max_attempts=3, deadline=1000)
    t = FakeTime()
    op, _ = failing([TemporaryError("slow down", retry_after=17)])
    await retrying(op, policy, sleep=t.sleep, clock=t.clock, rng=lambda: 0.5)
    assert t.sleeps == [17]


async def test_permanent_errors_are_not_retried() -> None:
    t = FakeTime()
    op, calls = failing([PermanentError("no")])
    with pytest.raises(PermanentError):
        await retrying(op, RetryPolicy(), sleep=t.sleep, clock=t.clock)
    assert calls["n"] == 1 and t.sleeps == []


async def test_gives_up_after_attempts_and_deadline() -> None:
    t = FakeTime()
    op, calls = failing([TemporaryError(str(i)) for i in range(10)])
    with pytest.raises(TemporaryError, match="2"):
        await retrying(op, RetryPolicy(max_attempts=3), sleep=t.sleep, clock=t.clock)
    assert calls["n"] == 3
    t2 = FakeTime()
    op2, calls2 = failing([TemporaryError("x", retry_after=100) for _ in range(10)])
    with pytest.raises(TemporaryError):
        await retrying(op2, RetryPolicy(deadline=150), sleep=t2.sleep, clock=t2.clock)
    assert calls2["n"] == 2 and t2.sleeps == [100]


async def test_should_continue_stops_superseded_work() -> None:
    t = FakeTime()
    op, calls = failing([TemporaryError("x") for _ in range(5)])
    with pytest.raises(TemporaryError):
        await retrying(
            op, RetryPolicy(), sleep=t.sleep, clock=t.clock, should_continue=lambda: False
        )
    assert calls["n"] == 1
