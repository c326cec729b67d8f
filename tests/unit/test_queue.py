from __future__ import annotations

import asyncio

import pytest

from streamhook.events import PushEvent, Target, Work
from streamhook.pipeline.queue import MemoryQueue, Offer, QueueClosed


def work(tag: str = "v1", digest: str | None = None, stream: str = "app") -> Work:
    event = PushEvent(webhook="w", registry="r", repository="demo/app", tag=tag, digest=digest)
    return Work(event, Target("demo", stream, tag))


async def test_burst_for_one_target_coalesces_to_the_newest() -> None:
    queue = MemoryQueue(10)
    assert queue.offer(work(digest="sha256:1")) is Offer.QUEUED
    assert queue.offer(work(digest="sha256:2")) is Offer.COALESCED
    assert queue.offer(work(digest="sha256:3")) is Offer.COALESCED
    assert queue.depth == 1
    got = await queue.get()
    assert got.event.digest == "sha256:3"


async def test_capacity_counts_waiting_targets() -> None:
    queue = MemoryQueue(2)
    assert queue.offer(work("a")) is Offer.QUEUED
    assert queue.offer(work("b")) is Offer.QUEUED
    assert queue.offer(work("c")) is Offer.FULL
    assert queue.offer(work("a", digest="sha256:new")) is Offer.COALESCED


async def test_target_in_flight_is_not_handed_to_a_second_worker() -> None:
    queue = MemoryQueue(10)
    queue.offer(work(digest="sha256:1"))
    first = await queue.get()
    assert queue.offer(work(digest="sha256:2")) is Offer.QUEUED
    assert queue.has_newer(first)
    second_get = asyncio.ensure_future(queue.get())
    queue.offer(work("other"))
    other = await asyncio.wait_for(second_get, 5)
    assert other.target.tag == "other"  # the busy target waits
    queue.done(first)
    newer = await asyncio.wait_for(queue.get(), 5)
    assert newer.event.digest == "sha256:2"


async def test_get_waits_for_work_and_close_drains_then_stops() -> None:
    queue = MemoryQueue(10)
    waiter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    queue.offer(work("a"))
    assert (await asyncio.wait_for(waiter, 5)).target.tag == "a"
    queue.offer(work("b"))
    queue.close()
    assert queue.offer(work("c")) is Offer.CLOSED
    assert (await queue.get()).target.tag == "b"
    with pytest.raises(QueueClosed):
        await queue.get()


async def test_join_returns_when_everything_is_done() -> None:
    queue = MemoryQueue(10)
    queue.offer(work("a"))
    joined = asyncio.ensure_future(queue.join())
    item = await queue.get()
    await asyncio.sleep(0)
    assert not joined.done()
    queue.done(item)
    await asyncio.wait_for(joined, 5)
