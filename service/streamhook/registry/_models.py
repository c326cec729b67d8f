"""Values the registry client returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ManifestRef:
    """What a tag (or digest) points at, from a HEAD: no manifest bytes."""

    digest: str
    media_type: str | None
    size: int | None


@dataclass(frozen=True, slots=True)
class FetchedManifest:
    """Digest-verified manifest bytes; ``media_type`` is the normalized Content-Type."""

    digest: str
    media_type: str | None
    body: bytes


# (registry name, HTTP method, status code or exception class name) — for metrics.
RequestObserver = Callable[[str, str, str], None]
