"""Bounded reading of HTTP bodies (webhooks, registry answers, JWK sets)."""

from __future__ import annotations

import aiohttp

READ_CHUNK_BYTES = 64 * 1024


async def read_capped(
    stream: aiohttp.StreamReader, limit: int, *, announced: int | None = None
) -> bytes | None:
    """The whole body, or None as soon as it (or its announced length) passes ``limit``.

    Nothing beyond ``limit`` plus one chunk is ever held in memory.
    """
    if announced is not None and announced > limit:
        return None
    chunks: list[bytes] = []
    received = 0
    async for chunk in stream.iter_chunked(READ_CHUNK_BYTES):
        received += len(chunk)
        if received > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
