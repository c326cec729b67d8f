"""Values that flow from ingress through the pipeline: pushes, targets, work items."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Push:
    """One manifest push as a sender reported it (parsers return these; no registry yet).

    ``hosts`` are registry host names the payload mentions; they are only cross-checked
    against the configured registry, never dialled.
    """

    repository: str
    tag: str | None
    digest: str | None = None
    media_type: str | None = None
    event_id: str | None = None
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ignored:
    """A notification entry that is authentic but needs no work, with a bounded reason."""

    reason: str
    repository: str | None = None
    tag: str | None = None
    detail: str = ""  # what was wrong with a malformed entry (no payload values)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a parser sees of one webhook request: raw body, content type, all header lines."""

    body: bytes
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # CIMultiDictProxy in the service


@dataclass(frozen=True, slots=True)
class ParsedNotification:
    pushes: tuple[Push, ...] = ()
    ignored: tuple[Ignored, ...] = ()


@dataclass(frozen=True, slots=True)
class PushEvent:
    """A push attributed to a configured registry by the webhook it arrived on."""

    webhook: str
    registry: str
    repository: str
    tag: str
    digest: str | None = None
    media_type: str | None = None
    event_id: str | None = None
    received_at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True, order=True)
class Target:
    namespace: str
    image_stream: str
    tag: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.image_stream}:{self.tag}"


def log_fields(event: PushEvent, target: Target | None = None) -> dict[str, str | None]:
    """The fields every log line about one push carries (never secrets)."""
    fields = {
        "event_id": event.event_id,
        "webhook": event.webhook,
        "registry": event.registry,
        "repository": event.repository,
        "tag": event.tag,
        "digest": event.digest,
    }
    if target is not None:
        fields["target"] = str(target)
    return fields


@dataclass(frozen=True, slots=True)
class Work:
    """One unit of queued work: map the image behind ``event`` to ``target``."""

    event: PushEvent
    target: Target

    @property
    def key(self) -> Target:
        # Work is coalesced per target: a newer push for the same tag replaces an older one.
        return self.target
