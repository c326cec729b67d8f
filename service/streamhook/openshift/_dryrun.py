"""The dry-run writer: JSON Lines of exactly the bodies the cluster writer would POST.

One body per line, compact, keys in the order given, ASCII-escaped exactly as
kubernetes-asyncio's ``json.dumps`` would send them; each line is written whole and flushed
under a lock so concurrent workers never interleave. Nothing is validated or looked up:
a dry run cannot know whether the stream exists, so no ``imagestreams`` line is printed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import IO, Any

import structlog

from streamhook.openshift._protocol import (
    OP_IMAGE,
    OP_MAPPING,
    OUTCOME_DRY_RUN,
    Observer,
    notify,
)

log = structlog.get_logger(__name__)

STDOUT = "-"


def json_line(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":")) + "\n"


class DryRunWriter:
    """``ImageWriter`` that prints; ``output`` is ``"-"`` (stdout) or a file to append to."""

    def __init__(self, output: str = STDOUT, *, observer: Observer | None = None) -> None:
        self._output = output
        self._observer = observer
        self._lock = asyncio.Lock()
        self._file: IO[str] | None = None
        if output != STDOUT:
            self._file = open(output, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    async def create_image(self, image: dict[str, Any]) -> None:
        await self._emit(json_line(image))
        notify(self._observer, OP_IMAGE, OUTCOME_DRY_RUN)

    async def create_mapping(self, mapping: dict[str, Any]) -> None:
        await self._emit(json_line(mapping))
        notify(self._observer, OP_MAPPING, OUTCOME_DRY_RUN)

    async def record_event(
        self,
        *,
        namespace: str,
        image_stream: str,
        reason: str,
        message: str,
        warning: bool = False,
    ) -> None:
        return None

    async def close(self) -> None:
        async with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    async def _emit(self, line: str) -> None:
        async with self._lock:
            if self._output == STDOUT:
                # Looked up per line so a replaced sys.stdout (tests, redirection) is honoured.
                sys.stdout.write(line)
                sys.stdout.flush()
                return
            if self._file is None:
                raise RuntimeError("dry-run writer is closed")
            await asyncio.to_thread(_write_and_flush, self._file, line)


def _write_and_flush(stream: IO[str], line: str) -> None:
    stream.write(line)
    stream.flush()
