from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from streamhook import logging as shlogging


@pytest.fixture
def stream():  # type: ignore[no-untyped-def]
    buffer = io.StringIO()
    shlogging.configure("info", "json", buffer)
    yield buffer
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_structlog_and_stdlib_records_are_json_lines_reading_from_the_left(stream) -> None:  # type: ignore[no-untyped-def]
    structlog.get_logger("streamhook.test").info("mapping.done", digest="sha256:x")
    logging.getLogger("aiohttp.access").info("http.access", extra={"status": 202})
    first, second = lines(stream)
    assert list(first)[:4] == ["timestamp", "level", "logger", "event"]
    assert (first["event"], first["digest"]) == ("mapping.done", "sha256:x")
    assert (second["logger"], second["event"], second["status"]) == (
        "aiohttp.access",
        "http.access",
        202,
    )


def test_context_variables_are_merged(stream) -> None:  # type: ignore[no-untyped-def]
    with structlog.contextvars.bound_contextvars(event_id="e-1"):
        structlog.get_logger().info("x")
    assert lines(stream)[0]["event_id"] == "e-1"


def test_levels_below_the_configured_one_are_dropped(stream) -> None:  # type: ignore[no-untyped-def]
    structlog.get_logger().debug("hidden")
    assert lines(stream) == []


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/webhooks/quay/s3cret-token", "/webhooks/quay/<redacted>"),
        ("/webhooks/quay", "/webhooks/quay"),
        ("/readyz", "/readyz"),
    ],
)
def test_url_tokens_are_redacted(path: str, shown: str) -> None:
    assert shlogging.redact_path(path) == shown
