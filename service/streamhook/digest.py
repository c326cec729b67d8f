"""Content digests: ``sha256:<hex>`` of exact bytes, and schema1 JWS canonical payloads."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from streamhook import mediatypes

_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(value: str | None) -> bool:
    """True for a well-formed ``sha256:<64 lower-case hex>`` digest (the only kind we fetch)."""
    return value is not None and _DIGEST.fullmatch(value) is not None


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def schema1_payload(body: bytes) -> bytes:
    """The signed bytes of a schema1 JWS manifest (what its digest covers).

    A signed schema1 manifest carries ``signatures[].protected`` whose JSON has
    ``formatLength`` and ``formatTail``: the payload is ``body[:formatLength] + tail``.
    Unsigned manifests are their own payload.
    """
    try:
        document: Any = json.loads(body)
    except ValueError:
        return body
    signatures = document.get("signatures") if isinstance(document, dict) else None
    if not isinstance(signatures, list) or not signatures:
        return body
    try:
        protected = json.loads(_b64url(signatures[0]["protected"]))
        length = int(protected["formatLength"])
        tail = _b64url(protected["formatTail"])
    except (KeyError, TypeError, ValueError):
        return body
    if not 0 < length <= len(body):
        return body
    return body[:length] + tail


def manifest_digest(body: bytes, media_type: str | None) -> str:
    """The digest a registry reports for these manifest bytes."""
    if media_type in mediatypes.SCHEMA1_TYPES:
        return sha256_digest(schema1_payload(body))
    return sha256_digest(body)
