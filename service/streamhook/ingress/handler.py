"""``POST /webhooks/{name}[/{token}]``: cap the body, authenticate, parse, route, enqueue.

No registry or API I/O happens here: the answer depends only on the request and the
queue, so senders get it within milliseconds.

Answers: 202 work accepted; 200 authentic but nothing to do; 400 malformed; 401 auth failed
(no detail); 404 unknown webhook; 413 body too large; 503 + Retry-After queue full or
shutting down (nothing was queued from that request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from streamhook import rules
from streamhook._streams import read_capped as read_capped_stream
from streamhook.config import Settings, WebhookConfig
from streamhook.events import (
    Delivery,
    Ignored,
    ParsedNotification,
    Push,
    PushEvent,
    Work,
    log_fields,
)
from streamhook.ingress._auth import authenticate, body_digest
from streamhook.ingress._errors import MalformedPayload
from streamhook.ingress.formats import parser_for
from streamhook.metrics import Metrics
from streamhook.pipeline.queue import Offer, WorkQueue

log = structlog.get_logger(__name__)


class BodyTooLarge(Exception):
    pass


async def read_capped(request: web.Request, limit: int) -> bytes:
    """Read the raw body, refusing more than ``limit`` bytes without buffering them."""
    body = await read_capped_stream(request.content, limit, announced=request.content_length)
    if body is None:
        raise BodyTooLarge
    return body


@dataclass
class _Routed:
    works: list[Work]
    ignored: list[Ignored]


class WebhookIngress:
    def __init__(self, settings: Settings, queue: WorkQueue, metrics: Metrics) -> None:
        self._settings = settings
        self._queue = queue
        self._metrics = metrics
        self.accepting = True

    def _answer(self, hook: str, status: int, body: dict[str, Any], **headers: str) -> web.Response:
        self._metrics.webhook_requests.labels(hook, str(status)).inc()
        return web.json_response(body, status=status, headers=headers or None)

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        url_token = request.match_info.get("token")
        hook = self._settings.webhook(name)
        if hook is None:
            # Unknown names are not echoed into metrics labels (unbounded).
            return self._answer("(unknown)", 404, {"error": "no such webhook"})
        limit = hook.max_body_bytes or self._settings.server.max_body_bytes
        try:
            body = await read_capped(request, limit)
        except BodyTooLarge:
            log.warning("webhook.too_large", webhook=hook.name, limit=limit)
            return self._answer(hook.name, 413, {"error": f"body larger than {limit} bytes"})
        if not await authenticate(
            hook.auth,
            webhook_format=hook.format,
            headers=request.headers,
            body=body,
            url_token=url_token,
        ):
            log.warning("webhook.unauthorized", webhook=hook.name, remote=request.remote)
            return self._answer(hook.name, 401, {"error": "unauthorized"})
        parser = parser_for(hook.format)
        if parser is None:
            log.error("webhook.format_unsupported", webhook=hook.name, format=hook.format)
            return self._answer(hook.name, 400, {"error": f"format {hook.format!r} not supported"})
        try:
            parsed = parser(Delivery(body, request.content_type, request.headers))
        except MalformedPayload as exc:
            log.warning(
                "webhook.malformed", webhook=hook.name, problem=str(exc), body=body_digest(body)
            )
            return self._answer(hook.name, 400, {"error": str(exc)})
        return self._enqueue(hook, parsed)

    def _route(self, hook: WebhookConfig, parsed: ParsedNotification) -> _Routed:
        registry = self._settings.registry(hook.registry)
        routed = _Routed([], list(parsed.ignored))
        for push in parsed.pushes:
            foreign = [h for h in push.hosts if h not in registry.known_hosts]
            if foreign:
                log.warning(
                    "webhook.host_mismatch",
                    webhook=hook.name,
                    registry=registry.name,
                    payload_hosts=list(push.hosts),
                    repository=push.repository,
                )
                routed.ignored.append(Ignored("host-mismatch", push.repository, push.tag))
                continue
            routed_push = self._decide(hook, push)
            if isinstance(routed_push, Ignored):
                routed.ignored.append(routed_push)
            else:
                routed.works.append(routed_push)
        return routed

    def _decide(self, hook: WebhookConfig, push: Push) -> Work | Ignored:
        if push.tag is None:
            return Ignored("untagged", push.repository)
        event = PushEvent(
            webhook=hook.name,
            registry=hook.registry,
            repository=push.repository,
            tag=push.tag,
            digest=push.digest,
            media_type=push.media_type,
            event_id=push.event_id,
        )
        decision = rules.decide(self._settings.rules, event)
        if decision.target is None:
            log.info(
                "webhook.not_mapped",
                **log_fields(event),
                reason=decision.reason,
                detail=decision.detail,
                rule=decision.rule_index,
            )
            return Ignored(decision.reason, push.repository, push.tag)
        return Work(event, decision.target)

    def _enqueue(self, hook: WebhookConfig, parsed: ParsedNotification) -> web.Response:
        routed = self._route(hook, parsed)
        for item in routed.ignored:
            self._metrics.events.labels(hook.name, "ignored", item.reason).inc()
            if item.detail:
                log.warning(
                    "webhook.entry_skipped",
                    webhook=hook.name,
                    reason=item.reason,
                    problem=item.detail,
                )
        summary: dict[str, Any] = {
            "accepted": [],
            "ignored": [
                {"reason": i.reason, "repository": i.repository, "tag": i.tag}
                for i in routed.ignored
            ],
        }
        if not routed.works:
            return self._answer(hook.name, 200, summary)
        retry_after = str(self._settings.queue.retry_after_seconds)
        fresh = {w.key for w in routed.works if not self._queue.has_newer(w)}
        if not self.accepting or self._queue.depth + len(fresh) > self._queue.capacity:
            for _ in routed.works:
                self._metrics.events.labels(hook.name, "rejected", "queue-full").inc()
            log.warning("webhook.queue_full", webhook=hook.name, depth=self._queue.depth)
            return self._answer(
                hook.name,
                503,
                {"error": "cannot accept work now; retry later"},
                **{"Retry-After": retry_after},
            )
        for work in routed.works:
            offer = self._queue.offer(work)
            outcome = "queued" if offer is Offer.QUEUED else offer.value
            self._metrics.events.labels(hook.name, outcome, "push").inc()
            log.info("webhook.accepted", **log_fields(work.event, work.target), outcome=outcome)
            summary["accepted"].append(
                {
                    "repository": work.event.repository,
                    "tag": work.event.tag,
                    "target": str(work.target),
                    "outcome": outcome,
                }
            )
        self._metrics.queue_depth.set(self._queue.depth)
        return self._answer(hook.name, 202, summary)
