"""HTTP-level helpers for the registry client: status → error, Retry-After, capped reads."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from streamhook._streams import read_capped as read_capped_stream
from streamhook.errors import ContentInvalid, RegistryRejected, RegistryUnavailable, StreamhookError

MAX_RETRY_AFTER_SECONDS = 24 * 3600.0
MAX_ERROR_BODY_BYTES = 8 * 1024
MAX_ERROR_CODE_LENGTH = 64

REASON_AUTH = "registry-auth"
REASON_NOT_FOUND = "registry-not-found"
REASON_RATE_LIMITED = "registry-rate-limited"
REASON_UNAVAILABLE = "registry-unavailable"
REASON_TLS = "registry-tls"
REASON_REDIRECT = "registry-redirect"
REASON_TOO_LARGE = "too-large"
REASON_DIGEST_MISMATCH = "digest-mismatch"

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_SECONDS = re.compile(r"[0-9]{1,12}", re.ASCII)
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]+", re.ASCII)

Origin = tuple[str, str, int | None]


@dataclass(frozen=True, slots=True)
class Reply:
    """A finished exchange: the body is read (capped) only for 2xx and error statuses."""

    method: str
    url: URL
    shown: str  # the URL as errors and logs may show it: no query, no foreign path
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


def origin(url: URL) -> Origin:
    return (url.scheme.lower(), (url.host or "").lower(), url.port)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # "-0000" dates: UTC by RFC 5322
            when = when.replace(tzinfo=UTC)
        delay = when.timestamp() - now
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(0.0, delay), MAX_RETRY_AFTER_SECONDS)


def registry_error_code(body: bytes) -> str | None:
    """``errors[0].code`` of a distribution error body, if it is a short plain token."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    errors = document.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    code = errors[0].get("code")
    if not isinstance(code, str) or not _ERROR_CODE.fullmatch(code):
        return None
    return code[:MAX_ERROR_CODE_LENGTH]


def describe(registry: str, reply: Reply) -> str:
    """``registry local: GET /v2/x/manifests/y → 404 MANIFEST_UNKNOWN`` (no query, no body)."""
    code = registry_error_code(reply.body) if reply.body else None
    suffix = f" {code}" if code else ""
    return f"registry {registry}: {reply.method} {reply.shown} → {reply.status}{suffix}"


def status_error(
    registry: str,
    reply: Reply,
    *,
    now: float,
    rejected_reason: str | None = None,
) -> StreamhookError:
    """429/408/5xx are temporary; everything else is a rejection (``rejected_reason`` if given)."""
    message = describe(registry, reply)
    status = reply.status
    if status == 429 or status >= 500 or status == 408:
        retry_after = parse_retry_after(reply.headers.get("Retry-After"), now)
        reason = REASON_RATE_LIMITED if status == 429 else REASON_UNAVAILABLE
        return RegistryUnavailable(message, reason=reason, retry_after=retry_after)
    if rejected_reason is not None:
        return RegistryRejected(message, reason=rejected_reason)
    if status in (401, 403):
        return RegistryRejected(message, reason=REASON_AUTH)
    if status == 404:
        return RegistryRejected(message, reason=REASON_NOT_FOUND)
    return RegistryRejected(message)


def transport_error(
    registry: str, method: str, shown: str, exc: BaseException
) -> RegistryUnavailable:
    """Connection failures and timeouts; only the exception's class reaches the message."""
    reason = REASON_UNAVAILABLE
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        reason = REASON_TLS
    return RegistryUnavailable(
        f"registry {registry}: {method} {shown} failed: {type(exc).__name__}", reason=reason
    )


def content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("Content-Length")
    if value is None or not _SECONDS.fullmatch(value.strip()):
        return None
    return int(value)


def too_large(registry: str, shown: str, limit: int) -> ContentInvalid:
    return ContentInvalid(
        f"registry {registry}: {shown} is larger than {limit} bytes", reason=REASON_TOO_LARGE
    )


async def read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The whole body, or None as soon as it (or its Content-Length) passes ``limit``."""
    return await read_capped_stream(
        response.content, limit, announced=content_length(response.headers)
    )


async def read_error_body(response: aiohttp.ClientResponse) -> bytes:
    """Up to MAX_ERROR_BODY_BYTES of an error body; what we cannot read we do without."""
    chunks: list[bytes] = []
    remaining = MAX_ERROR_BODY_BYTES
    try:
        while remaining > 0:
            chunk = await response.content.read(remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except (aiohttp.ClientError, TimeoutError):
        pass
    return b"".join(chunks)
