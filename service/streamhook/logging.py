"""structlog set-up: JSON lines (console on a TTY); stdlib and aiohttp logs routed through."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

_URL_TOKEN_PATH = re.compile(r"^(/webhooks/[^/]+)/[^/?]+")

_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


_LEADING_KEYS = ("timestamp", "level", "logger", "event")


def _leading_keys_first(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
    """timestamp, level, logger and event first, so a JSON line reads from the left."""
    leading = {k: event_dict.pop(k) for k in _LEADING_KEYS if k in event_dict}
    return {**leading, **event_dict}


def configure(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and stream.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer()
        if use_console
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
    structlog.configure(
        processors=[
            *_SHARED_PROCESSORS,
            structlog.processors.format_exc_info
            if not use_console
            else structlog.processors.ExceptionPrettyPrinter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *_SHARED_PROCESSORS],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _leading_keys_first,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library chatter stays at warning unless we debug.
    for noisy in ("kubernetes_asyncio", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def redact_path(path: str) -> str:
    """Hide a URL token (``/webhooks/<name>/<token>``) from anything logged."""
    return _URL_TOKEN_PATH.sub(r"\1/<redacted>", path)


class AccessLogger(AbstractAccessLogger):
    """aiohttp access log as structured events, with URL tokens redacted."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            "http.access",
            extra={
                "method": request.method,
                "path": redact_path(request.path),
                "status": response.status,
                "duration_ms": round(time * 1000, 2),
                "remote": request.remote,
            },
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
