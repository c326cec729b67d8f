"""The aiohttp application: ``create_app(settings)`` with typed AppKeys and cleanup contexts.

Start-up order (cleanup runs in reverse): registry clients → OpenShift writer → workers.
On shutdown the ingress stops accepting (503), workers drain the queue for up to
``server.shutdownTimeoutSeconds``, then the writer and clients close.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import structlog
from aiohttp import web

from streamhook import __version__
from streamhook.config import Settings
from streamhook.events import Work
from streamhook.ingress.handler import WebhookIngress
from streamhook.metrics import Metrics
from streamhook.openshift import ImageWriter, create_writer
from streamhook.pipeline.mapper import Mapper
from streamhook.pipeline.queue import MemoryQueue, WorkQueue
from streamhook.pipeline.workers import Workers
from streamhook.registry import RegistryClient
from streamhook.retry import RetryPolicy

log = structlog.get_logger(__name__)

WriterFactory = Callable[[Settings, Metrics], Awaitable[ImageWriter]]

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
QUEUE: web.AppKey[WorkQueue] = web.AppKey("queue")
INGRESS = web.AppKey("ingress", WebhookIngress)
REGISTRIES: web.AppKey[Mapping[str, RegistryClient]] = web.AppKey("registries")
WRITER = web.AppKey("writer", ImageWriter)
WORKERS = web.AppKey("workers", Workers)


async def default_writer(settings: Settings, metrics: Metrics) -> ImageWriter:
    return await create_writer(settings.openshift, observer=metrics.observe_api_request)


def retry_policy(settings: Settings) -> RetryPolicy:
    retry = settings.retry
    return RetryPolicy(
        initial_delay=retry.initial_delay_seconds,
        max_delay=retry.max_delay_seconds,
        max_attempts=retry.max_attempts,
        deadline=retry.deadline_seconds,
    )


def open_registries(settings: Settings, metrics: Metrics) -> dict[str, RegistryClient]:
    return {
        r.name: RegistryClient(r, observer=metrics.observe_registry_request)
        for r in settings.registries
    }


def event_recorder(
    settings: Settings, writer: ImageWriter
) -> Callable[[Work, str, str, bool], Awaitable[None]] | None:
    if not settings.openshift.events:
        return None

    async def record(work: Work, reason: str, message: str, warning: bool) -> None:
        await writer.record_event(
            namespace=work.target.namespace,
            image_stream=work.target.image_stream,
            reason=reason,
            message=message,
            warning=warning,
        )

    return record


def create_app(
    settings: Settings,
    *,
    writer_factory: WriterFactory = default_writer,
    registries: Mapping[str, RegistryClient] | None = None,
) -> web.Application:
    app = web.Application()
    metrics = Metrics()
    queue = MemoryQueue(settings.queue.capacity)
    metrics.queue_capacity.set(settings.queue.capacity)
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[QUEUE] = queue
    app[INGRESS] = WebhookIngress(settings, queue, metrics)

    async def registries_ctx(app: web.Application) -> AsyncIterator[None]:
        owned = registries is None
        app[REGISTRIES] = open_registries(settings, metrics) if owned else dict(registries or {})
        yield
        if owned:
            for client in app[REGISTRIES].values():
                await client.close()

    async def writer_ctx(app: web.Application) -> AsyncIterator[None]:
        app[WRITER] = await writer_factory(settings, metrics)
        yield
        await app[WRITER].close()

    async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
        mapper = Mapper(settings, app[REGISTRIES], app[WRITER])
        workers = Workers(
            queue,
            mapper,
            metrics,
            count=settings.queue.workers,
            policy=retry_policy(settings),
            record_event=event_recorder(settings, app[WRITER]),
        )
        app[WORKERS] = workers
        workers.start()
        log.info(
            "streamhook.started",
            version=__version__,
            listen=settings.server.listen,
            mode=settings.openshift.mode,
            webhooks=[w.name for w in settings.webhooks],
            registries=[r.name for r in settings.registries],
            rules=len(settings.rules),
        )
        yield
        await drain(app)  # already done when serve() drained before closing the listener

    app.cleanup_ctx.extend([registries_ctx, writer_ctx, workers_ctx])
    ingress = app[INGRESS]
    app.router.add_post("/webhooks/{name}", ingress.handle)
    app.router.add_post("/webhooks/{name}/{token}", ingress.handle)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    return app


async def drain(app: web.Application) -> int:
    """Stop accepting work (webhooks answer 503), then let the workers finish the queue for up
    to ``server.shutdownTimeoutSeconds``. Returns how much work was abandoned. Idempotent."""
    app[INGRESS].accepting = False
    if WORKERS not in app:
        return 0
    workers = app[WORKERS]
    if workers.stopped:
        return 0
    log.info("streamhook.draining", queued=app[QUEUE].depth, in_flight=app[QUEUE].in_flight)
    abandoned = await workers.stop(app[SETTINGS].server.shutdown_timeout_seconds)
    log.info("streamhook.stopped", abandoned=abandoned)
    return abandoned


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": __version__})


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    queue = app[QUEUE]
    problems = []
    if WORKERS not in app or not app[WORKERS].running:
        problems.append("workers not running")
    if not app[INGRESS].accepting:
        problems.append("shutting down")
    if queue.depth >= queue.capacity:
        problems.append("queue full")
    if problems:
        return web.json_response({"status": "not ready", "problems": problems}, status=503)
    return web.json_response({"status": "ready", "queue": queue.depth})


async def metrics_endpoint(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    queue = request.app[QUEUE]
    metrics.queue_depth.set(queue.depth)
    metrics.queue_in_flight.set(queue.in_flight)
    body, content_type = metrics.render()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response
