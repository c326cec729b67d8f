"""N worker tasks draining the queue, with retries, outcomes, and a bounded graceful drain."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from streamhook.errors import TemporaryError
from streamhook.events import Work, log_fields
from streamhook.metrics import Metrics
from streamhook.pipeline.mapper import Mapped, Mapper, describe, latency
from streamhook.pipeline.queue import QueueClosed, WorkQueue
from streamhook.retry import RetryPolicy, retrying

log = structlog.get_logger(__name__)

EventRecorder = Callable[[Work, str, str, bool], Awaitable[None]]


class Workers:
    def __init__(
        self,
        queue: WorkQueue,
        mapper: Mapper,
        metrics: Metrics,
        *,
        count: int,
        policy: RetryPolicy,
        record_event: EventRecorder | None = None,
    ) -> None:
        self._queue = queue
        self._mapper = mapper
        self._metrics = metrics
        self._count = count
        self._policy = policy
        self._record_event = record_event
        self._tasks: list[asyncio.Task[None]] = []
        self._in_progress: set[Work] = set()
        self.stopped = False

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not all(t.done() for t in self._tasks)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"streamhook-worker-{i}")
            for i in range(self._count)
        ]

    async def stop(self, deadline: float) -> int:
        """Close the queue, let workers drain it for up to ``deadline`` seconds.

        Returns how much work was abandoned (waiting or in flight when time ran out).
        """
        self.stopped = True
        self._queue.close()
        pending: set[asyncio.Task[None]] = set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=deadline)
        abandoned = [*self._in_progress, *self._queue.waiting()]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for work in abandoned:
            # Named one by one so an operator can re-push exactly these (streamhook map).
            log.warning(
                "shutdown.abandoned_work", **log_fields(work.event, work.target), deadline=deadline
            )
        return len(abandoned)

    async def _run(self) -> None:
        while True:
            try:
                work = await self._queue.get()
            except QueueClosed:
                return
            self._metrics.queue_depth.set(self._queue.depth)
            self._metrics.queue_in_flight.set(self._queue.in_flight)
            self._in_progress.add(work)
            try:
                await self.process(work)
            finally:
                self._in_progress.discard(work)
                self._queue.done(work)
                self._metrics.queue_in_flight.set(self._queue.in_flight)

    async def process(self, work: Work) -> str:
        """Map ``work``; never raises (a worker must outlive any one push). Returns the outcome."""
        event = work.event
        bound = log.bind(**log_fields(event, work.target))

        def on_retry(attempt: int, error: TemporaryError, delay: float) -> None:
            self._metrics.retries.labels(event.registry, error.reason).inc()
            bound.warning(
                "mapping.retry",
                attempt=attempt,
                reason=error.reason,
                error=str(error),
                delay=round(delay, 3),
            )

        try:
            result: Mapped = await retrying(
                lambda: self._mapper.map(work),
                self._policy,
                on_retry=on_retry,
                should_continue=lambda: not self._queue.has_newer(work),
            )
        except Exception as error:  # every failure ends here; a worker must survive it
            if isinstance(error, TemporaryError) and self._queue.has_newer(work):
                outcome, reason = "superseded", error.reason
            else:
                outcome, reason = describe(error)
            self._metrics.mappings.labels(event.registry, outcome, reason).inc()
            if outcome == "failed" and reason == "internal":
                bound.exception("mapping.failed", outcome=outcome, reason=reason)
            else:
                level = bound.info if outcome in ("skipped", "superseded") else bound.error
                level("mapping." + outcome, outcome=outcome, reason=reason, error=str(error))
            if outcome == "failed" and self._record_event is not None:
                await self._record_event(work, "MappingFailed", f"{reason}: {error}", True)
            return outcome
        seconds = latency(work)
        self._metrics.mappings.labels(event.registry, "mapped", "ok").inc()
        self._metrics.push_to_mapping.labels(event.registry).observe(seconds)
        bound.info(
            "mapping.done",
            outcome="mapped",
            digest=result.digest,
            media_type=result.media_type,
            children=result.children,
            seconds=round(seconds, 3),
        )
        if self._record_event is not None:
            message = (
                f"{event.registry}/{event.repository}:{event.tag} mapped to "
                f"{work.target} as {result.digest}"
            )
            await self._record_event(work, "Mapped", message, False)
        return "mapped"
