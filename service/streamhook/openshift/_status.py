"""Turn API answers into streamhook's error tree (pure functions, no I/O).

Only ``kind: Status`` bodies are read, and only their ``reason``, ``message`` and
``details``; any other body is ignored (kopf's rule: never echo arbitrary response bodies).
Messages are single-line, stripped of anything that looks like a credential, and truncated.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from streamhook.errors import APIRejected, APIUnavailable, StreamhookError, truncate

MAX_STATUS_BODY_BYTES = 64 * 1024  # bigger bodies are not a Status worth parsing
MAX_RETRY_AFTER_SECONDS = 3600.0  # a server hint beyond an hour is treated as an hour

_CREDENTIALS = re.compile(
    r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"  # Authorization header values
    r"|\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"  # JWTs (service account tokens)
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

# Permanent answers, by status code: retrying the same request cannot help.
_REJECTED_REASONS = {
    400: "api-bad-request",
    401: "api-unauthorized",
    403: "api-forbidden",
    404: "api-not-found",
    405: "api-rejected",
    406: "api-rejected",
    410: "api-rejected",
    413: "api-too-large",
    415: "api-rejected",
    422: "api-invalid",
}


@dataclass(frozen=True, slots=True)
class APIStatus:
    """The parts of a ``metav1.Status`` body streamhook acts on."""

    reason: str = ""
    message: str = ""
    details_kind: str | None = None
    details_name: str | None = None
    retry_after_seconds: float | None = None


class APIFailure(Exception):
    """A non-2xx answer, before the caller decides what it means for its operation."""

    def __init__(
        self,
        code: int,
        *,
        http_reason: str = "",
        status: APIStatus | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"HTTP {code}")
        self.code = code
        self.http_reason = http_reason
        self.status = status or APIStatus()
        self.retry_after = retry_after

    def is_missing(self, kind: str, name: str | None = None) -> bool:
        """404 whose Status ``details`` name this kind (and name, when given)."""
        if self.code != 404 or self.status.details_kind != kind:
            return False
        return name is None or self.status.details_name == name

    def error(self, operation: str, subject: str) -> StreamhookError:
        message = describe(operation, subject, self.code, self.status.reason or self.http_reason)
        if self.status.message:
            message = f"{message}: {clean_message(self.status.message)}"
        reason = _REJECTED_REASONS.get(self.code)
        if reason is not None:
            return APIRejected(message, status=self.code, reason=reason)
        if self.code == 409:
            return APIUnavailable(message, reason="api-conflict", retry_after=self.retry_after)
        if self.code == 429:
            return APIUnavailable(message, reason="api-throttled", retry_after=self.retry_after)
        if self.code == 408:
            return APIUnavailable(message, reason="api-timeout", retry_after=self.retry_after)
        if 400 <= self.code < 500:
            return APIRejected(message, status=self.code, reason="api-rejected")
        return APIUnavailable(message, reason="api-unavailable", retry_after=self.retry_after)


def describe(operation: str, subject: str, code: int, reason: str) -> str:
    text = f"{operation} {subject}: HTTP {code}"
    return f"{text} {clean_message(reason)}" if reason else text


def clean_message(text: str) -> str:
    """One line, no credentials, at most ``errors.MAX_DETAIL`` characters."""
    text = _CREDENTIALS.sub(lambda m: f"{m.group(1) or ''} <redacted>".strip(), text)
    return truncate(_CONTROL.sub(" ", text).strip())


def parse_status(body: bytes | str | None) -> APIStatus | None:
    if not body or len(body) > MAX_STATUS_BODY_BYTES:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("kind") != "Status":
        return None
    details = data.get("details")
    if not isinstance(details, dict):
        details = {}
    return APIStatus(
        reason=_text(data.get("reason")),
        message=_text(data.get("message")),
        details_kind=_text(details.get("kind")) or None,
        details_name=_text(details.get("name")) or None,
        retry_after_seconds=_seconds(details.get("retryAfterSeconds")),
    )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP-date; None when absent or bad."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(delta, 0.0), MAX_RETRY_AFTER_SECONDS)


def failure_from_response(
    code: int,
    *,
    http_reason: str | None,
    headers: Mapping[str, str] | None,
    body: bytes | str | None,
) -> APIFailure:
    status = parse_status(body)
    retry_after = parse_retry_after((headers or {}).get("Retry-After"))
    if retry_after is None and status is not None:
        retry_after = status.retry_after_seconds
    return APIFailure(code, http_reason=http_reason or "", status=status, retry_after=retry_after)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not value.isdigit():
            return None
        value = int(value)
    if not isinstance(value, int | float) or math.isnan(value) or value < 0:
        return None
    return min(float(value), MAX_RETRY_AFTER_SECONDS)


def transport_error(operation: str, subject: str, exc: BaseException) -> APIUnavailable:
    """Timeouts, refused connections, TLS failures: nothing was answered, try again later."""
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        reason, what = "api-timeout", "timed out"
    elif isinstance(exc, aiohttp.ClientSSLError):
        reason, what = "api-tls", "TLS failure"
    else:
        reason, what = "api-unreachable", "connection failed"
    detail = clean_message(str(exc))
    message = (
        f"{operation} {subject}: {what} ({type(exc).__name__}{': ' + detail if detail else ''})"
    )
    return APIUnavailable(message, reason=reason)
