"""Prometheus metrics. Labels are bounded: webhook, registry, outcome, reason, method, status.

Never an image, repository or tag: those would grow without bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from streamhook import __version__

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        Info("streamhook_build", "The running streamhook.", registry=r).info(
            {"version": __version__}
        )
        self.webhook_requests = Counter(
            "streamhook_webhook_requests_total",
            "Webhook HTTP requests by answer.",
            ["webhook", "status"],
            registry=r,
        )
        self.events = Counter(
            "streamhook_events_total",
            "Notification entries by outcome (queued, coalesced, ignored, rejected).",
            ["webhook", "outcome", "reason"],
            registry=r,
        )
        self.registry_requests = Counter(
            "streamhook_registry_requests_total",
            "Requests to registries by method and HTTP status (or error class).",
            ["registry", "method", "status"],
            registry=r,
        )
        self.mappings = Counter(
            "streamhook_mappings_total",
            "Mapping attempts that finished, by outcome and reason.",
            ["registry", "outcome", "reason"],
            registry=r,
        )
        self.api_requests = Counter(
            "streamhook_openshift_requests_total",
            "Writes to the OpenShift API by operation and outcome.",
            ["operation", "outcome"],
            registry=r,
        )
        self.retries = Counter(
            "streamhook_retries_total",
            "Retries of mapping work after a temporary failure.",
            ["registry", "reason"],
            registry=r,
        )
        self.queue_depth = Gauge("streamhook_queue_depth", "Work waiting in the queue.", registry=r)
        self.queue_in_flight = Gauge(
            "streamhook_queue_in_flight", "Work being processed by workers.", registry=r
        )
        self.queue_capacity = Gauge(
            "streamhook_queue_capacity", "Maximum work waiting in the queue.", registry=r
        )
        self.push_to_mapping = Histogram(
            "streamhook_push_to_mapping_seconds",
            "From receiving the notification to the mapping being written.",
            ["registry"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def observe_registry_request(self, registry: str, method: str, status: str) -> None:
        self.registry_requests.labels(registry, method, status).inc()

    def observe_api_request(self, operation: str, outcome: str) -> None:
        self.api_requests.labels(operation, outcome).inc()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
