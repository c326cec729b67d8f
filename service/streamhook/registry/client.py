"""OCI distribution client for one configured registry (aiohttp).

Only ``config.url`` is dialled, plus two kinds of hosts the registry itself names: the
bearer-token realm from its ``WWW-Authenticate`` challenge (see ``_auth``), and blob
storage it redirects to (S3-style). Authorization goes to the registry's own origin only;
storage gets none, the realm gets the basic credentials (as Docker sends them).

No retries here beyond the single re-authentication after a 401: callers wrap calls in
``streamhook.retry.retrying``, which reads ``TemporaryError.retry_after``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

import aiohttp
import structlog
from cachetools import LRUCache
from yarl import URL

from streamhook import __version__, mediatypes
from streamhook.config import RegistryConfig
from streamhook.digest import manifest_digest, sha256_digest
from streamhook.errors import ConfigError, ContentInvalid, RegistryRejected
from streamhook.registry._auth import (
    BasicCredentials,
    Challenge,
    TokenCache,
    TokenKey,
    TokenResponseError,
    choose_challenge,
    parse_challenges,
    parse_token_response,
    pull_scope,
)
from streamhook.registry._dockerconfig import load_credentials
from streamhook.registry._http import (
    REASON_AUTH,
    REASON_DIGEST_MISMATCH,
    REASON_REDIRECT,
    REDIRECT_STATUSES,
    Origin,
    Reply,
    content_length,
    describe,
    origin,
    read_capped,
    read_error_body,
    status_error,
    too_large,
    transport_error,
)
from streamhook.registry._models import FetchedManifest, ManifestRef, RequestObserver
from streamhook.registry._names import (
    is_strict_digest,
    validate_digest,
    validate_reference,
    validate_repository,
)

log = structlog.get_logger(__name__)

DEFAULT_CACHE_SIZE = 512
DEFAULT_MANIFEST_CACHE_BYTES = 64 * 1024 * 1024
DEFAULT_BLOB_CACHE_BYTES = 128 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024
USER_AGENT = f"streamhook/{__version__}"

Clock = Callable[[], float]
V = TypeVar("V")


def _bounded_cache(count: int, budget: int, size_of: Callable[[V], int]) -> LRUCache[str, V]:
    """An LRU holding at most ``count`` entries and ``budget`` bytes.

    Every entry weighs at least ``budget / count``, so the byte budget also caps the count.
    """
    floor = budget // count if count > 0 else budget + 1
    return LRUCache(maxsize=budget, getsizeof=lambda value: max(size_of(value), floor))


def _in_repository(repository: str, digest: str) -> str:
    """Manifest cache key: a manifest counts as present only in the repository it came from,
    so a mapping never names ``repo@digest`` that ``repo`` itself was not asked for."""
    return f"{repository}@{digest}"


def _remember(cache: LRUCache[str, V], key: str, value: V) -> None:
    with contextlib.suppress(ValueError):  # larger than the whole budget: not cached
        cache[key] = value


def _ssl_setting(config: RegistryConfig) -> ssl.SSLContext | bool:
    if config.insecure_skip_tls_verify:
        return False
    if config.ca_file:
        context = ssl.create_default_context()
        try:
            context.load_verify_locations(cafile=config.ca_file)
        except (OSError, ssl.SSLError):
            raise ConfigError(
                [f"registries[{config.name}].caFile: {config.ca_file!r} is not a PEM CA bundle"]
            ) from None
        return context
    return True


def _credentials(config: RegistryConfig) -> BasicCredentials | None:
    auth = config.auth
    if auth.username is not None and auth.password is not None:
        return BasicCredentials(auth.username, auth.password.get_secret_value())
    if auth.docker_config_json:
        hosts = [config.url_host, *sorted(config.known_hosts - {config.url_host})]
        credentials = load_credentials(auth.docker_config_json, hosts)
        if credentials is None:
            log.warning("registry.dockerconfig.no-credentials", registry=config.name, host=hosts[0])
        return credentials
    return None


class RegistryClient:
    """Reads manifests and blobs from one registry; usable as ``async with``."""

    def __init__(
        self,
        config: RegistryConfig,
        *,
        observer: RequestObserver | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self._config = config
        self._name = config.name
        # Credentials in URLs would make aiohttp send its own Authorization: never wanted.
        self._base = URL(config.url).with_user(None)
        self._origin: Origin = origin(self._base)
        self._observer = observer
        self._wall_clock = wall_clock
        self._timeout = aiohttp.ClientTimeout(
            total=config.timeout_seconds, connect=config.connect_timeout_seconds
        )
        self._ssl = _ssl_setting(config)
        self._credentials = _credentials(config)
        self._challenge: Challenge | None = None
        self._tokens = TokenCache(clock)
        self._token_locks: dict[TokenKey, asyncio.Lock] = {}
        self._manifests: LRUCache[str, FetchedManifest] = _bounded_cache(
            cache_size, DEFAULT_MANIFEST_CACHE_BYTES, lambda m: len(m.body)
        )
        self._blobs: LRUCache[str, bytes] = _bounded_cache(
            cache_size, DEFAULT_BLOB_CACHE_BYTES, len
        )
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # -- public operations -------------------------------------------------------------

    async def resolve(self, repository: str, reference: str) -> ManifestRef:
        """The digest a tag (or digest) points at now, from a HEAD (GET if HEAD lacks it)."""
        validate_repository(repository)
        validate_reference(reference)
        by_digest = is_strict_digest(reference)
        cached = self._manifests.get(_in_repository(repository, reference)) if by_digest else None
        if cached is not None:
            return ManifestRef(cached.digest, cached.media_type, len(cached.body))
        reply = await self._request(
            "HEAD",
            self._manifest_url(repository, reference),
            repository,
            accept=mediatypes.ACCEPT_MANIFESTS,
        )
        self._raise_unless_success(reply)
        digest = reply.headers.get("Docker-Content-Digest")
        if is_strict_digest(digest):
            if by_digest and digest != reference:
                raise self._mismatch(reply.shown)
            return ManifestRef(
                digest,
                mediatypes.normalize(reply.headers.get("Content-Type")),
                content_length(reply.headers),
            )
        # Some registries answer HEAD without the digest: GET and compute it (and keep it).
        log.debug("registry.head-without-digest", registry=self._name, path=reply.shown)
        fetched = await self._fetch_manifest(repository, reference)
        return ManifestRef(fetched.digest, fetched.media_type, len(fetched.body))

    async def manifest(self, repository: str, digest: str) -> FetchedManifest:
        """The manifest with this digest, verified and size-capped; cached by digest."""
        validate_repository(repository)
        validate_digest(digest)
        cached = self._manifests.get(_in_repository(repository, digest))
        if cached is not None:
            return cached
        return await self._fetch_manifest(repository, digest)

    async def blob(self, repository: str, digest: str, *, max_bytes: int) -> bytes:
        """The blob with this digest (following storage redirects), verified and capped."""
        validate_repository(repository)
        validate_digest(digest)
        url = self._base.with_path(f"/v2/{repository}/blobs/{digest}")
        cached = self._blobs.get(digest)
        if cached is not None:
            if len(cached) > max_bytes:
                raise too_large(self._name, url.path, max_bytes)
            return cached
        for _hop in range(MAX_REDIRECTS + 1):
            reply = await self._request("GET", url, repository, limit=max_bytes)
            if reply.status not in REDIRECT_STATUSES:
                break
            url = self._redirect_target(reply)
        else:
            raise RegistryRejected(
                f"registry {self._name}: more than {MAX_REDIRECTS} redirects for blob {digest}",
                reason=REASON_REDIRECT,
            )
        self._raise_unless_success(reply)
        if sha256_digest(reply.body) != digest:
            raise self._mismatch(reply.shown)
        _remember(self._blobs, digest, reply.body)
        return reply.body

    # -- manifests -------------------------------------------------------------------------

    def _manifest_url(self, repository: str, reference: str) -> URL:
        return self._base.with_path(f"/v2/{repository}/manifests/{reference}")

    async def _fetch_manifest(self, repository: str, reference: str) -> FetchedManifest:
        reply = await self._request(
            "GET",
            self._manifest_url(repository, reference),
            repository,
            accept=mediatypes.ACCEPT_MANIFESTS,
            limit=self._config.max_manifest_bytes,
        )
        self._raise_unless_success(reply)
        media_type = mediatypes.normalize(reply.headers.get("Content-Type"))
        digest = manifest_digest(reply.body, media_type)
        announced = reply.headers.get("Docker-Content-Digest")
        expected = reference if is_strict_digest(reference) else None
        if (expected and digest != expected) or (
            is_strict_digest(announced) and digest != announced
        ):
            raise self._mismatch(reply.shown)
        fetched = FetchedManifest(digest, media_type, reply.body)
        _remember(self._manifests, _in_repository(repository, digest), fetched)
        return fetched

    def _mismatch(self, shown: str) -> ContentInvalid:
        return ContentInvalid(
            f"registry {self._name}: {shown} content does not match its digest",
            reason=REASON_DIGEST_MISMATCH,
        )

    # -- requests and authentication --------------------------------------------------

    async def _request(
        self,
        method: str,
        url: URL,
        repository: str,
        *,
        accept: str | None = None,
        limit: int = 0,
    ) -> Reply:
        """One request, authenticated when it goes to the registry, re-authenticated once."""
        scope = pull_scope(repository)
        to_registry = origin(url) == self._origin
        reauthenticated = False
        while True:
            headers = {"Accept": accept} if accept else {}
            challenge = self._challenge if to_registry else None
            if challenge is not None:
                headers["Authorization"] = await self._authorization(challenge, scope)
            reply = await self._exchange(method, url, headers, limit=limit)
            if reply.status != 401 or not to_registry or reauthenticated:
                return reply
            if challenge is not None and challenge.scheme == "bearer":
                self._tokens.discard((challenge.realm, challenge.service, scope))
            self._learn_challenge(reply)
            reauthenticated = True

    def _learn_challenge(self, reply: Reply) -> None:
        challenge = choose_challenge(parse_challenges(reply.headers.getall("WWW-Authenticate", [])))
        if challenge is None:
            raise RegistryRejected(
                describe(self._name, reply) + " without a usable WWW-Authenticate challenge",
                reason=REASON_AUTH,
            )
        if challenge.scheme == "basic" and self._credentials is None:
            raise RegistryRejected(
                describe(self._name, reply) + ": basic credentials required, none configured",
                reason=REASON_AUTH,
            )
        if challenge.scheme == "bearer":
            self._check_realm(challenge.realm)
        if challenge != self._challenge:
            log.debug("registry.challenge", registry=self._name, scheme=challenge.scheme)
        self._challenge = challenge

    def _check_realm(self, realm: str) -> None:
        try:
            url = URL(realm)
        except ValueError:
            url = URL()
        problem = None
        if url.scheme not in ("http", "https") or not url.host:
            problem = "is not an http(s) URL"
        elif url.scheme == "http" and self._base.scheme == "https":
            problem = "would downgrade to plain http"
        if problem:
            raise RegistryRejected(
                f"registry {self._name}: token realm {problem}", reason=REASON_AUTH
            )

    async def _authorization(self, challenge: Challenge, scope: str) -> str:
        if challenge.scheme == "basic":
            assert self._credentials is not None  # checked when the challenge was learnt
            return self._credentials.header()
        return "Bearer " + await self._bearer_token(challenge, scope)

    async def _bearer_token(self, challenge: Challenge, scope: str) -> str:
        key: TokenKey = (challenge.realm, challenge.service, scope)
        token = self._tokens.get(key)
        if token is not None:
            return token
        # One token request per key at a time; concurrent callers wait and reuse it.
        lock = self._token_locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                token = self._tokens.get(key)
                if token is None:
                    token = await self._fetch_token(challenge, scope)
        finally:
            if not lock.locked():
                self._token_locks.pop(key, None)
        return token

    async def _fetch_token(self, challenge: Challenge, scope: str) -> str:
        query = {"scope": scope}
        if challenge.service:
            query["service"] = challenge.service
        url = URL(challenge.realm).extend_query(query)
        headers = {}
        if self._credentials is not None:
            headers["Authorization"] = self._credentials.header()
        try:
            reply = await self._exchange("GET", url, headers, limit=MAX_TOKEN_RESPONSE_BYTES)
        except ContentInvalid:
            raise RegistryRejected(
                f"registry {self._name}: token response too large", reason=REASON_AUTH
            ) from None
        if not 200 <= reply.status < 300:
            raise status_error(
                self._name, reply, now=self._wall_clock(), rejected_reason=REASON_AUTH
            )
        try:
            token, lifetime = parse_token_response(reply.body)
        except TokenResponseError as exc:
            raise RegistryRejected(f"registry {self._name}: {exc}", reason=REASON_AUTH) from None
        self._tokens.put((challenge.realm, challenge.service, scope), token, lifetime)
        log.debug("registry.token", registry=self._name, scope=scope, lifetime=lifetime)
        return token

    def _redirect_target(self, reply: Reply) -> URL:
        location = reply.headers.get("Location")
        target = None
        if location:
            try:
                target = reply.url.join(URL(location, encoded=True))
            except ValueError:
                target = None
        if target is None or target.scheme not in ("http", "https") or not target.host:
            raise RegistryRejected(
                describe(self._name, reply) + " without a usable Location", reason=REASON_REDIRECT
            )
        return target.with_user(None)

    def _raise_unless_success(self, reply: Reply) -> None:
        if not 200 <= reply.status < 300:
            raise status_error(self._name, reply, now=self._wall_clock())

    # -- transport ----------------------------------------------------------------------

    def _open_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError(f"registry client {self._name} is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl),
                timeout=self._timeout,
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": USER_AGENT},
                trust_env=False,
            )
        return self._session

    def _shown(self, url: URL) -> str:
        # Storage URLs may carry credentials in their path or query: show only the host.
        if origin(url) == self._origin:
            return url.path
        return f"{url.scheme}://{url.host}:{url.port}/…"

    async def _exchange(
        self, method: str, url: URL, headers: dict[str, str], *, limit: int
    ) -> Reply:
        """Send once; read a success body up to ``limit``, an error body a little."""
        session = self._open_session()
        shown = self._shown(url)
        outcome: str | None = None
        try:
            async with session.request(
                method, url, headers=headers, allow_redirects=False, timeout=self._timeout
            ) as response:
                outcome = str(response.status)
                if 200 <= response.status < 300:
                    body = b"" if method == "HEAD" else await read_capped(response, limit)
                    if body is None:
                        raise too_large(self._name, shown, limit)
                elif response.status in REDIRECT_STATUSES:
                    body = b""
                else:
                    body = await read_error_body(response)
                log.debug(
                    "registry.request",
                    registry=self._name,
                    method=method,
                    path=shown,
                    status=response.status,
                )
                return Reply(method, url, shown, response.status, response.headers, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            outcome = type(exc).__name__
            log.debug(
                "registry.request", registry=self._name, method=method, path=shown, error=outcome
            )
            raise transport_error(self._name, method, shown, exc) from exc
        finally:
            if outcome is not None and self._observer is not None:
                self._observer(self._name, method, outcome)
