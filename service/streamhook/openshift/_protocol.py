"""What the pipeline codes against: the writer protocol and the metrics observer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

# observer(operation, outcome): both bounded tokens, safe as metric labels.
Observer = Callable[[str, str], None]

OP_IMAGE = "image"
OP_MAPPING = "mapping"
OP_IMAGE_STREAM = "imagestream"
OP_EVENT = "event"

OUTCOME_CREATED = "created"
OUTCOME_EXISTS = "exists"
OUTCOME_DRY_RUN = "dry-run"
OUTCOME_FAILED = "failed"


class ImageWriter(Protocol):
    async def create_image(self, image: dict[str, Any]) -> None:
        """POST the cluster-scoped Image as given; AlreadyExists counts as success."""

    async def create_mapping(self, mapping: dict[str, Any]) -> None:
        """POST the ImageStreamMapping; creates a missing stream (if allowed) and retries once."""

    async def record_event(
        self,
        *,
        namespace: str,
        image_stream: str,
        reason: str,
        message: str,
        warning: bool = False,
    ) -> None:
        """Best-effort Kubernetes Event about the ImageStream; failures are only logged."""

    async def close(self) -> None: ...


def notify(observer: Observer | None, operation: str, outcome: str) -> None:
    """Call the observer; a broken metrics hook must never fail a write."""
    if observer is None:
        return
    try:
        observer(operation, outcome)
    except Exception:
        log.exception("openshift.observer_failed", operation=operation, outcome=outcome)
