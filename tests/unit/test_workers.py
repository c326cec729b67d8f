"""Workers: outcomes, retries, superseding, graceful drain. The mapper is a scripted stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from streamhook.errors import ContentInvalid, TemporaryError, UnsupportedManifest
from streamhook.events import PushEvent, Target, Work
from streamhook.metrics import Metrics
from streamhook.pipeline.mapper import Mapped
from streamhook.pipeline.queue import MemoryQueue
from streamhook.pipeline.workers import Workers
from streamhook.retry import RetryPolicy

FAST = RetryPolicy(initial_delay=0.001, max_delay=0.002, max_attempts=4, deadline=5)


def work(tag: str = "v1", digest: str = "sha256:" + "a" * 64) -> Work:
    event = PushEvent(webhook="w", registry="r", repository="demo/app", tag=tag, digest=digest)
    return Work(event, Target("demo", "app", tag))


class ScriptedMapper:
    """Runs ``script(work, attempt)`` for each call; records what it was asked to map."""

    def __init__(self, script: Callable[[Work, int], object]) -> None:
        self.script = script
        self.calls: list[Work] = []
        self.release = asyncio.Event()
        self.release.set()
        self.called = asyncio.Event()

    async def map(self, work: Work, *, reference: str | None = None) -> Mapped:
        self.calls.append(work)
        self.called.set()
        await self.release.wait()
        result = self.script(work, len(self.calls))
        if isinstance(result, BaseException):
            raise result
        return Mapped(work.event.digest or "", "application/vnd.oci.image.manifest.v1+json", 0)


def outcome_count(metrics: Metrics, outcome: str, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "streamhook_mappings_total", {"registry": "r", "outcome": outcome, "reason": reason}
    )
    return value or 0.0


def make(mapper: ScriptedMapper, count: int = 1, events: list | None = None):  # type: ignore[no-untyped-def]
    queue = MemoryQueue(10)
    metrics = Metrics()

    async def record(work: Work, reason: str, message: str, warning: bool) -> None:
        if events is not None:
            events.append((reason, warning))

    workers = Workers(queue, mapper, metrics, count=count, policy=FAST, record_event=record)  # type: ignore[arg-type]
    return queue, metrics, workers


async def test_success_is_counted_observed_and_reported() -> None:
    events: list = []
    _queue, metrics, workers = make(ScriptedMapper(lambda w, n: None), events=events)
    assert await workers.process(work()) == "mapped"
    assert outcome_count(metrics, "mapped", "ok") == 1
    assert (
        metrics.registry.get_sample_value(
            "streamhook_push_to_mapping_seconds_count", {"registry": "r"}
        )
        == 1
    )
    assert events == [("Mapped", False)]


async def test_temporary_errors_are_retried_then_succeed() -> None:
    mapper = ScriptedMapper(
        lambda w, n: TemporaryError("x", reason="api-unavailable") if n < 3 else None
    )
    _queue, metrics, workers = make(mapper)
    assert await workers.process(work()) == "mapped"
    assert len(mapper.calls) == 3
    assert (
        metrics.registry.get_sample_value(
            "streamhook_retries_total", {"registry": "r", "reason": "api-unavailable"}
        )
        == 2
    )


async def test_retries_exhausted_is_a_failure_with_a_warning_event() -> None:
    events: list = []
    mapper = ScriptedMapper(lambda w, n: TemporaryError("down", reason="registry-unavailable"))
    _queue, metrics, workers = make(mapper, events=events)
    assert await workers.process(work()) == "failed"
    assert len(mapper.calls) == FAST.max_attempts
    assert outcome_count(metrics, "failed", "registry-unavailable") == 1
    assert events == [("MappingFailed", True)]


async def test_permanent_errors_are_not_retried_and_unsupported_is_skipped() -> None:
    mapper = ScriptedMapper(lambda w, n: ContentInvalid("bad", reason="digest-mismatch"))
    _, metrics, workers = make(mapper)
    assert await workers.process(work()) == "failed"
    assert len(mapper.calls) == 1
    assert outcome_count(metrics, "failed", "digest-mismatch") == 1
    mapper2 = ScriptedMapper(lambda w, n: UnsupportedManifest("sig", reason="artifact"))
    _, metrics2, workers2 = make(mapper2)
    assert await workers2.process(work()) == "skipped"
    assert outcome_count(metrics2, "skipped", "artifact") == 1


async def test_unexpected_exceptions_do_not_kill_the_worker() -> None:
    mapper = ScriptedMapper(lambda w, n: RuntimeError("bug") if n == 1 else None)
    queue, metrics, workers = make(mapper)
    workers.start()
    queue.offer(work("a"))
    queue.offer(work("b"))
    await asyncio.wait_for(queue.join(), 5)
    assert outcome_count(metrics, "failed", "internal") == 1
    assert outcome_count(metrics, "mapped", "ok") == 1
    assert workers.running
    assert await workers.stop(5) == 0


async def test_work_superseded_while_backing_off_stops_retrying() -> None:
    queue, metrics, workers = make(ScriptedMapper(lambda w, n: None))
    first = work(digest="sha256:" + "1" * 64)

    def script(w: Work, n: int) -> object:
        queue.offer(work(digest="sha256:" + "2" * 64))  # a newer push arrives meanwhile
        return TemporaryError("x", reason="registry-unavailable")

    workers._mapper = ScriptedMapper(script)  # type: ignore[assignment]
    assert await workers.process(first) == "superseded"
    assert outcome_count(metrics, "superseded", "registry-unavailable") == 1


async def test_stop_drains_queued_work_before_returning() -> None:
    mapper = ScriptedMapper(lambda w, n: None)
    queue, _metrics, workers = make(mapper, count=2)
    workers.start()
    for tag in ("a", "b", "c", "d"):
        queue.offer(work(tag))
    assert await workers.stop(5) == 0
    assert sorted(w.target.tag for w in mapper.calls) == ["a", "b", "c", "d"]
    assert not workers.running


async def test_stop_abandons_work_past_the_deadline() -> None:
    mapper = ScriptedMapper(lambda w, n: None)
    mapper.release.clear()  # mappings hang until released
    queue, _metrics, workers = make(mapper, count=1)
    workers.start()
    queue.offer(work("a"))
    queue.offer(work("b"))
    await asyncio.wait_for(mapper.called.wait(), 5)
    abandoned = await workers.stop(0.05)
    assert abandoned == 2  # one in flight, one waiting
    assert not workers.running
