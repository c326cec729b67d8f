"""Kubernetes Event bodies about an ImageStream (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streamhook.errors import truncate

COMPONENT = "streamhook"
MAX_EVENT_MESSAGE = 1024  # kopf's cap; the API has none for core/v1 Events, etcd does
MAX_EVENT_REASON = 128  # events.k8s.io validation limit, kept for core/v1 too


def event_body(
    *,
    namespace: str,
    image_stream: str,
    reason: str,
    message: str,
    warning: bool,
    now: datetime,
    instance: str,
) -> dict[str, Any]:
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{image_stream}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": "image.openshift.io/v1",
            "kind": "ImageStream",
            "name": image_stream,
            "namespace": namespace,
        },
        "reason": truncate(reason, MAX_EVENT_REASON),
        "message": truncate(message, MAX_EVENT_MESSAGE),
        "type": "Warning" if warning else "Normal",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
