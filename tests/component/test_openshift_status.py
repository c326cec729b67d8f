"""Classification of API answers into APIRejected / APIUnavailable (pure functions)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import aiohttp
import pytest

from streamhook.errors import APIRejected, APIUnavailable
from streamhook.openshift._status import (
    MAX_RETRY_AFTER_SECONDS,
    APIFailure,
    clean_message,
    failure_from_response,
    parse_retry_after,
    parse_status,
    transport_error,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _status(code: int, **extra: object) -> bytes:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, **extra}
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("code", "kind", "reason"),
    [
        (400, APIRejected, "api-bad-request"),
        (401, APIRejected, "api-unauthorized"),
        (403, APIRejected, "api-forbidden"),
        (404, APIRejected, "api-not-found"),
        (405, APIRejected, "api-rejected"),
        (413, APIRejected, "api-too-large"),
        (418, APIRejected, "api-rejected"),
        (422, APIRejected, "api-invalid"),
        (408, APIUnavailable, "api-timeout"),
        (409, APIUnavailable, "api-conflict"),
        (429, APIUnavailable, "api-throttled"),
        (500, APIUnavailable, "api-unavailable"),
        (503, APIUnavailable, "api-unavailable"),
        (302, APIUnavailable, "api-unavailable"),
    ],
)
def test_status_codes_map_to_errors(code: int, kind: type, reason: str) -> None:
    failure = failure_from_response(code, http_reason="Reason", headers={}, body=_status(code))
    error = failure.error("create", "imagestreammapping ns/s:t")
    assert type(error) is kind
    assert error.reason == reason
    if isinstance(error, APIRejected):
        assert error.status == code
    assert str(error).startswith(f"create imagestreammapping ns/s:t: HTTP {code}")


def test_status_message_and_reason_are_used() -> None:
    body = _status(
        422, reason="Invalid", message='ImageStreamMapping "app" is invalid: tag: Required'
    )
    error = failure_from_response(422, http_reason="Unprocessable", headers={}, body=body).error(
        "create", "x"
    )
    assert (
        str(error)
        == 'create x: HTTP 422 Invalid: ImageStreamMapping "app" is invalid: tag: Required'
    )


def test_missing_stream_is_recognised_only_by_kind_and_name() -> None:
    def failure(details: object) -> APIFailure:
        return failure_from_response(
            404, http_reason="", headers={}, body=_status(404, details=details)
        )

    assert failure({"name": "app", "kind": "imagestreammappings"}).is_missing(
        "imagestreammappings", "app"
    )
    assert not failure({"name": "other", "kind": "imagestreammappings"}).is_missing(
        "imagestreammappings", "app"
    )
    assert not failure({"name": "team-a", "kind": "namespaces"}).is_missing(
        "imagestreammappings", "app"
    )
    assert not failure("not-an-object").is_missing("imagestreammappings", "app")


@pytest.mark.parametrize(
    "body",
    [
        None,
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[1,2]",
        b'{"kind":"Pod"}',
        json.dumps({"kind": "Status", "message": "x" * 70_000}).encode(),  # too big to bother
    ],
)
def test_bodies_that_are_not_a_status_are_ignored(body: bytes | None) -> None:
    assert parse_status(body) is None
    error = failure_from_response(
        500, http_reason="Internal Server Error", headers={}, body=body
    ).error("create", "x")
    assert str(error) == "create x: HTTP 500 Internal Server Error"


def test_status_fields_of_the_wrong_type_are_ignored() -> None:
    status = parse_status(
        json.dumps(
            {
                "kind": "Status",
                "message": 5,
                "reason": ["x"],
                "details": {"kind": 1, "retryAfterSeconds": "9"},
            }
        )
    )
    assert status is not None
    assert (status.message, status.reason, status.details_kind) == ("", "", None)
    assert status.retry_after_seconds == 9.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),  # in the past: now
        ("999999999999", MAX_RETRY_AFTER_SECONDS),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_header(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_retry_after_header_wins_over_status_details() -> None:
    body = _status(429, details={"retryAfterSeconds": 3})
    assert (
        failure_from_response(
            429, http_reason="", headers={"Retry-After": "11"}, body=body
        ).retry_after
        == 11
    )
    assert failure_from_response(429, http_reason="", headers={}, body=body).retry_after == 3
    bogus = _status(429, details={"retryAfterSeconds": True})
    assert failure_from_response(429, http_reason="", headers=None, body=bogus).retry_after is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.DEF-123_~+/=", "Authorization: Bearer <redacted>"),
        ("token eyJhbGciOi.eyJzdWIiOiJ4.c2lnbmF0dXJl here", "token <redacted> here"),
        ("line one\nline two\r\x1b[0m", "line one line two [0m"),  # no raw ESC
        ("plain", "plain"),
    ],
)
def test_messages_are_cleaned(text: str, expected: str) -> None:
    assert clean_message(text) == expected


def test_messages_are_truncated() -> None:
    assert len(clean_message("y" * 10_000)) == 256


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (TimeoutError(), "api-timeout"),
        (aiohttp.ServerTimeoutError("read"), "api-timeout"),
        (aiohttp.ServerDisconnectedError(), "api-unreachable"),
        (ConnectionRefusedError(111, "refused"), "api-unreachable"),
    ],
)
def test_transport_errors_are_temporary(exc: BaseException, reason: str) -> None:
    error = transport_error("create", "image sha256:x", exc)
    assert isinstance(error, APIUnavailable)
    assert error.reason == reason
    assert error.retry_after is None
    assert str(error).startswith("create image sha256:x: ")
