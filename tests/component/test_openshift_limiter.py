"""Client-side token bucket and in-flight cap, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from streamhook.openshift import RateLimiter, TokenBucket


class FakeClock:
    """``clock()`` for the limiter; ``sleep`` records the wait and moves time forward."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def test_bucket_starts_full_then_reserves_in_order() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=4, burst=3, clock=clock)
    waits = [bucket.reserve() for _ in range(6)]
    assert waits == [0.0, 0.0, 0.0, 0.25, 0.5, 0.75]


def test_bucket_refills_at_qps_up_to_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=2, burst=5, clock=clock)
    for _ in range(5):
        bucket.reserve()
    clock.now += 1.0
    assert bucket.available == pytest.approx(2.0)
    clock.now += 3600
    assert bucket.available == 5.0  # never more than burst


def test_clock_going_backwards_adds_nothing() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=1, burst=1, clock=clock)
    bucket.reserve()
    clock.now -= 50
    assert bucket.available == 0.0


@pytest.mark.parametrize(("qps", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_bucket_rejects_nonsense(qps: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(qps=qps, burst=burst)


async def test_limiter_throttles_beyond_the_burst_and_logs_it() -> None:
    clock = FakeClock()
    limiter = RateLimiter(qps=10, burst=2, max_in_flight=4, clock=clock, sleep=clock.sleep)

    with structlog.testing.capture_logs() as logs:
        for _ in range(4):
            async with limiter.slot("mapping"):
                pass

    assert clock.sleeps == [0.1, 0.1]
    assert limiter.throttled == 2
    assert limiter.throttled_seconds == pytest.approx(0.2)
    throttled = [e for e in logs if e["event"] == "openshift.throttled"]
    assert [(e["log_level"], e["operation"]) for e in throttled] == [("debug", "mapping")] * 2


async def test_limiter_caps_calls_in_flight() -> None:
    limiter = RateLimiter(qps=1000, burst=1000, max_in_flight=2)
    release = asyncio.Event()
    inside = 0
    most_inside = 0
    entered = asyncio.Condition()

    async def call() -> None:
        nonlocal inside, most_inside
        async with limiter.slot("image"):
            inside += 1
            most_inside = max(most_inside, inside)
            async with entered:
                entered.notify_all()
            await release.wait()
            inside -= 1

    tasks = [asyncio.create_task(call()) for _ in range(5)]
    async with entered:
        await asyncio.wait_for(entered.wait_for(lambda: inside == 2), 5)
    for _ in range(3):  # give queued callers every chance to sneak in
        await asyncio.sleep(0)
    assert inside == 2
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert most_inside == 2


async def test_cancelled_waiter_gives_its_token_back() -> None:
    clock = FakeClock()
    gate = asyncio.Event()
    later_sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        if not gate.is_set():
            await asyncio.Event().wait()  # the first waiter blocks until cancelled
        later_sleeps.append(seconds)

    limiter = RateLimiter(qps=1, burst=1, max_in_flight=4, clock=clock, sleep=sleep)
    async with limiter.slot("event"):
        pass
    waiter = asyncio.create_task(limiter.slot("event").__aenter__())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gate.set()

    clock.now += 1.0  # one token earned since; the cancelled reservation must not eat it
    async with limiter.slot("event"):
        pass
    assert later_sleeps == []


def test_limiter_rejects_no_slots() -> None:
    with pytest.raises(ValueError):
        RateLimiter(qps=1, burst=1, max_in_flight=0)
