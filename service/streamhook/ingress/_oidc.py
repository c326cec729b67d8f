"""OIDC ID-token verification: Google-signed tokens of Pub/Sub push subscriptions (§7.2).

Keys come from a JWK set file (re-read when it changes) or URL (cached for JWKS_TTL_SECONDS,
refetched on an unknown key id at most once per MIN_REFRESH_SECONDS, so forged key ids cannot
make us hammer the URL). Only RS256 verifies: ``alg: none`` and HMAC algorithms never do.
Tokens never reach logs; only the kind of problem does.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import jwt
import structlog

from streamhook._streams import read_capped
from streamhook.config import OidcAuth

log = structlog.get_logger(__name__)

ALGORITHMS = ("RS256",)
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud"]
LEEWAY_SECONDS = 60.0
MAX_TOKEN_CHARS = 16 * 1024
JWKS_TTL_SECONDS = 3600.0
MIN_REFRESH_SECONDS = 30.0
FETCH_TIMEOUT_SECONDS = 5.0
MAX_JWKS_BYTES = 512 * 1024


class _JwksTooLarge(Exception):
    pass


FETCH_PROBLEMS = (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWTError, _JwksTooLarge)


def _keys_by_id(document: Any) -> dict[str, jwt.PyJWK]:
    """Usable keys of a JWK set by ``kid``; raises ValueError or PyJWTError when unusable."""
    if not isinstance(document, dict):
        raise ValueError("a JWK set is a JSON object")
    return {key.key_id: key for key in jwt.PyJWKSet.from_dict(document).keys if key.key_id}


class _KeySource(Protocol):
    async def find(self, key_id: str) -> jwt.PyJWK | None: ...


class _FileKeys:
    def __init__(self, path: str) -> None:
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}

    def _current(self) -> dict[str, jwt.PyJWK]:
        try:
            stat = os.stat(self._path)
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                self._keys = _keys_by_id(json.loads(Path(self._path).read_bytes()))
                self._stamp = stamp
        except (OSError, ValueError, jwt.PyJWTError) as exc:
            log.warning("oidc.jwks_unreadable", path=self._path, problem=type(exc).__name__)
        return self._keys

    async def find(self, key_id: str) -> jwt.PyJWK | None:
        return self._current().get(key_id)


class _UrlKeys:
    def __init__(self, url: str) -> None:
        self._url = url
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf
        self._inflight: asyncio.Task[None] | None = None

    async def _download(self) -> bytes:
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(self._url, allow_redirects=False) as reply,
        ):
            reply.raise_for_status()
            body = await read_capped(reply.content, MAX_JWKS_BYTES)
            if body is None:
                raise _JwksTooLarge
            return body

    async def _fetch(self) -> None:
        try:
            keys = _keys_by_id(json.loads(await self._download()))
        except FETCH_PROBLEMS as exc:
            log.warning("oidc.jwks_unavailable", url=self._url, problem=type(exc).__name__)
            return
        self._keys, self._fetched_at = keys, time.monotonic()
        log.info("oidc.jwks_fetched", url=self._url, keys=len(keys))

    async def _refresh(self) -> None:
        task = self._inflight
        if task is None or task.done():
            self._attempted_at = time.monotonic()
            task = self._inflight = asyncio.create_task(self._fetch())
        # Shielded: one caller giving up must not cancel the fetch the others wait for.
        await asyncio.shield(task)

    async def find(self, key_id: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        expired = now - self._fetched_at > JWKS_TTL_SECONDS
        may_retry = now - self._attempted_at > MIN_REFRESH_SECONDS
        in_flight = self._inflight is not None and not self._inflight.done()
        if in_flight or ((expired or key_id not in self._keys) and may_retry):
            await self._refresh()
        return self._keys.get(key_id)


_SOURCES: dict[str, _KeySource] = {}


def _source(oidc: OidcAuth) -> _KeySource:
    """One cache per JWK set location, shared by every webhook that names it."""
    location = f"file:{oidc.jwks_file}" if oidc.jwks_file is not None else f"url:{oidc.jwks_url}"
    source = _SOURCES.get(location)
    if source is None:
        if oidc.jwks_file is not None:
            source = _FileKeys(oidc.jwks_file)
        else:
            source = _UrlKeys(oidc.jwks_url or "")
        _SOURCES[location] = source
    return source


async def _verify(oidc: OidcAuth, token: str) -> bool:
    if len(token) > MAX_TOKEN_CHARS:
        return False
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return False
    key_id = header.get("kid")
    if header.get("alg") not in ALGORITHMS or not isinstance(key_id, str):
        log.info("oidc.rejected", problem="algorithm-or-key-id")
        return False
    key = await _source(oidc).find(key_id)
    if key is None:
        log.info("oidc.rejected", problem="unknown-key-id", kid=key_id[:64])
        return False
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=list(ALGORITHMS),
            audience=oidc.audience,
            issuer=oidc.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as exc:
        log.info("oidc.rejected", problem=type(exc).__name__)
        return False
    if oidc.email is not None and (
        claims.get("email") != oidc.email or claims.get("email_verified") is not True
    ):
        log.info("oidc.rejected", problem="email")
        return False
    return True


async def verify_bearer(oidc: OidcAuth, tokens: list[str]) -> bool:
    """True when one of the bearer tokens is a valid ID token for this configuration."""
    for token in tokens:
        if await _verify(oidc, token):
            return True
    return False
