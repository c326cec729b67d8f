"""A configurable fake OCI distribution registry (aiohttp), for component and pipeline tests.

    registry = FakeRegistry(auth="bearer", username="u", password="p")
    image = registry.put_image("demo/app", tags=["v1"])          # config + layer + manifest
    await registry.serve(aiohttp_server)                          # registry.url: http://127.0.0.1:N
    registry.fail_next("/v2/demo/app/manifests/*", 429, headers={"Retry-After": "2"})
    ...
    assert registry.count("GET", "/v2/*/manifests/*") == 1

Content is stored per repository like a real registry (``/v2/<repo>/manifests/<tag|digest>``,
``/v2/<repo>/blobs/<digest>``, ``GET /v2/``). Auth modes: ``none``; ``basic``; ``bearer`` with a
token endpoint (``/token`` on the same server, or on a second server via
``serve_token_endpoint``) that checks service, scope and basic credentials, and counts requests.

Faults (each for the next N matching requests; paths are globs over the request path):
``fail_next`` (any status, headers, body — checked before auth, like a proxy in front),
``truncate_next`` (announce the full Content-Length, send part, drop the connection),
``stall_next`` (never answer; released when the client gives up or the server stops).
Switches: ``head_digest_header``, ``get_digest_header``, ``chunked`` (no Content-Length),
``enforce_accept``, ``redirect_blobs`` (to a ``FakeStorage`` origin, the same origin, or a
redirect loop). ``put_manifest(..., digest=…)`` and ``put_blob(..., digest=…)`` store bytes
under a wrong digest.
Every request is recorded (method, path, query, headers) in ``requests``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import fnmatch
import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict, CIMultiDictProxy
from pytest_aiohttp import AiohttpServer

from streamhook import mediatypes

AuthMode = Literal["none", "basic", "bearer"]
TokenField = Literal["token", "access_token", "both"]
RedirectMode = Literal["same-origin", "loop"]

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DEFAULT_SERVICE = "fake-registry"
DEFAULT_TOKEN_EXPIRES_IN = 300
CHUNK_BYTES = 1024

_CONTENT_PATH = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs)/(?P<ref>[^/]+)$")
_STORAGE_PATH = re.compile(r"^/_storage/(?P<name>.+)/(?P<digest>sha256:[a-f0-9]{64})$")
_PULL_SCOPE = re.compile(r"^repository:(?P<name>[^:]+):(?P<actions>[a-z,*]+)$")

_ERROR_CODES = {
    400: "UNSUPPORTED",
    401: "UNAUTHORIZED",
    403: "DENIED",
    404: "NAME_UNKNOWN",
    429: "TOOMANYREQUESTS",
}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def error_body(code: str, message: str = "") -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message or code.lower()}]}).encode()


@dataclass(frozen=True)
class RecordedRequest:
    server: str  # "registry", "token" or "storage"
    method: str
    path: str
    query: Mapping[str, str]
    headers: CIMultiDictProxy[str]

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")


@dataclass(frozen=True)
class TokenRequest:
    service: str | None
    scopes: tuple[str, ...]
    username: str | None  # from basic credentials; None when anonymous
    granted: bool


@dataclass(frozen=True)
class StoredManifest:
    body: bytes
    media_type: str


@dataclass(frozen=True)
class PushedImage:
    """What ``put_image`` stored: the manifest and the blobs it references."""

    repository: str
    digest: str
    media_type: str
    body: bytes
    config_digest: str
    config: bytes
    layer_digests: tuple[str, ...]


@dataclass
class _Fault:
    kind: Literal["status", "truncate", "stall"]
    path: str
    methods: frozenset[str] | None
    remaining: int
    status: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    keep: int | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.methods is not None and method not in self.methods:
            return False
        return fnmatch.fnmatchcase(path, self.path)


def _glob_matches(pattern: str | None, path: str) -> bool:
    return pattern is None or fnmatch.fnmatchcase(path, pattern)


def _accepted(accept: str | None) -> set[str] | None:
    if not accept:
        return None
    return {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}


def _record(log: list[RecordedRequest], server: str) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        log.append(
            RecordedRequest(
                server,
                request.method,
                request.path,
                dict(request.query),
                CIMultiDictProxy(CIMultiDict(request.headers)),
            )
        )
        response: web.StreamResponse = await handler(request)
        return response

    return middleware


class FakeStorage:
    """A second origin that serves the registry's blobs, as S3 does behind a redirect."""

    def __init__(self, registry: FakeRegistry) -> None:
        self._registry = registry
        self.requests: list[RecordedRequest] = []
        self.url = ""
        self.signature = secrets.token_hex(8)

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[_record(self.requests, "storage")])
        app.router.add_get("/blobs/{digest}", self._blob)
        return app

    async def serve(self, aiohttp_server: AiohttpServer, **server_kwargs: Any) -> TestServer:
        server = await aiohttp_server(self.make_app(), **server_kwargs)
        self.url = f"{server.scheme}://{server.host}:{server.port}"
        return server

    def location(self, digest: str) -> str:
        # Presigned-URL style: the credential is in the query, never in a header.
        return f"{self.url}/blobs/{digest}?X-Signature={self.signature}"

    async def _blob(self, request: web.Request) -> web.StreamResponse:
        digest = request.match_info["digest"]
        data = self._registry.any_blob(digest)
        if request.query.get("X-Signature") != self.signature or data is None:
            return web.Response(status=403, body=b"<Error><Code>AccessDenied</Code></Error>")
        return web.Response(body=data, content_type="application/octet-stream")

    @property
    def authorization_headers(self) -> list[str | None]:
        return [r.authorization for r in self.requests]


class FakeRegistry:
    """An OCI distribution registry in memory; every switch may be changed between requests."""

    def __init__(
        self,
        *,
        auth: AuthMode = "none",
        username: str = "fake-user",
        password: str = "fake-password",
        service: str = DEFAULT_SERVICE,
        token_expires_in: int | None = DEFAULT_TOKEN_EXPIRES_IN,
        token_field: TokenField = "token",
        anonymous_pull: bool = False,
    ) -> None:
        self.auth = auth
        self.username = username
        self.password = password
        self.service = service
        self.token_expires_in = token_expires_in  # None: left out of the token response
        self.token_field = token_field
        self.anonymous_pull = anonymous_pull  # bearer: issue tokens without credentials too
        self.challenge_override: str | None = None  # exact WWW-Authenticate to send on 401
        self.head_digest_header = True  # send Docker-Content-Digest on manifest HEADs
        self.get_digest_header = True  # … and on manifest GETs
        self.chunked = False
        self.enforce_accept = True
        self.blob_redirect: FakeStorage | RedirectMode | None = None
        self.blob_redirect_status = 307
        self.url = ""
        self.realm: str | None = None  # None: this server's own /token
        self.requests: list[RecordedRequest] = []
        self.token_requests: list[TokenRequest] = []
        self._manifests: dict[tuple[str, str], StoredManifest] = {}
        self._tags: dict[tuple[str, str], str] = {}
        self._blobs: dict[tuple[str, str], bytes] = {}
        self._faults: list[_Fault] = []
        self._tokens: dict[str, frozenset[str]] = {}  # token -> repositories it may pull
        self._stall_release = asyncio.Event()

    # -- serving ------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[_record(self.requests, "registry"), self._faulty])
        app.router.add_route("*", "/v2/", self._base)
        app.router.add_route("*", "/v2/{tail:.+}", self._content)
        app.router.add_get("/_storage/{tail:.+}", self._same_origin_storage)
        app.router.add_get("/token", self._token)
        app.on_shutdown.append(self._on_shutdown)
        return app

    def make_token_app(self) -> web.Application:
        app = web.Application(middlewares=[_record(self.requests, "token"), self._faulty])
        app.router.add_get("/token", self._token)
        return app

    async def serve(self, aiohttp_server: AiohttpServer, **server_kwargs: Any) -> TestServer:
        """Start on 127.0.0.1 (pass ``ssl=context`` for TLS); the fixture stops it."""
        server = await aiohttp_server(self.make_app(), **server_kwargs)
        self.url = f"{server.scheme}://{server.host}:{server.port}"
        return server

    async def serve_token_endpoint(
        self, aiohttp_server: AiohttpServer, **server_kwargs: Any
    ) -> TestServer:
        """Serve ``/token`` on its own origin and name it as the realm in challenges."""
        server = await aiohttp_server(self.make_token_app(), **server_kwargs)
        self.realm = f"{server.scheme}://{server.host}:{server.port}/token"
        return server

    @property
    def host(self) -> str:
        """``host:port`` as a registry client would name it."""
        return self.url.split("://", 1)[1]

    def release_stalled(self) -> None:
        self._stall_release.set()

    async def _on_shutdown(self, _app: web.Application) -> None:
        self.release_stalled()

    # -- content ------------------------------------------------------------------------

    def put_manifest(
        self,
        repository: str,
        body: bytes,
        media_type: str,
        *,
        tags: Iterable[str] = (),
        digest: str | None = None,
    ) -> str:
        """Store a manifest; ``digest`` overrides the true sha256 (a wrong-digest fault)."""
        digest = digest or sha256(body)
        self._manifests[(repository, digest)] = StoredManifest(body, media_type)
        for tag in tags:
            self._tags[(repository, tag)] = digest
        return digest

    def put_blob(self, repository: str, data: bytes, *, digest: str | None = None) -> str:
        digest = digest or sha256(data)
        self._blobs[(repository, digest)] = data
        return digest

    def tag(self, repository: str, tag: str, digest: str) -> None:
        self._tags[(repository, tag)] = digest

    def any_blob(self, digest: str) -> bytes | None:
        for (_repo, stored), data in self._blobs.items():
            if stored == digest:
                return data
        return None

    def put_image(
        self,
        repository: str,
        *,
        tags: Iterable[str] = (),
        config: Mapping[str, Any] | None = None,
        layers: Sequence[bytes] = (b"layer-0",),
        media_type: str = mediatypes.OCI_MANIFEST,
        architecture: str = "amd64",
        os: str = "linux",
    ) -> PushedImage:
        """A complete single-platform image: config blob, layer blobs and the manifest."""
        docker = media_type == mediatypes.DOCKER_SCHEMA2
        layer_digests = tuple(self.put_blob(repository, layer) for layer in layers)
        config_document = (
            dict(config)
            if config is not None
            else {
                "architecture": architecture,
                "os": os,
                "created": "2024-01-02T03:04:05Z",
                "config": {"Env": ["PATH=/usr/bin"]},
                "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in layers]},
            }
        )
        config_bytes = json.dumps(config_document, sort_keys=True).encode()
        config_digest = self.put_blob(repository, config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": mediatypes.DOCKER_CONFIG if docker else mediatypes.OCI_CONFIG,
                "size": len(config_bytes),
                "digest": config_digest,
            },
            "layers": [
                {
                    "mediaType": DOCKER_LAYER if docker else OCI_LAYER,
                    "size": len(layer),
                    "digest": digest,
                }
                for layer, digest in zip(layers, layer_digests, strict=True)
            ],
        }
        body = json.dumps(manifest, indent=3).encode()
        digest = self.put_manifest(repository, body, media_type, tags=tags)
        return PushedImage(
            repository, digest, media_type, body, config_digest, config_bytes, layer_digests
        )

    def put_index(
        self,
        repository: str,
        children: Sequence[PushedImage],
        *,
        tags: Iterable[str] = (),
        media_type: str = mediatypes.OCI_INDEX,
        platforms: Sequence[Mapping[str, str]] | None = None,
    ) -> str:
        """A manifest list / OCI index over already stored images (platform from arguments)."""
        entries = []
        for i, child in enumerate(children):
            platform = dict(platforms[i]) if platforms else {"architecture": "amd64", "os": "linux"}
            entries.append(
                {
                    "mediaType": child.media_type,
                    "size": len(child.body),
                    "digest": child.digest,
                    "platform": platform,
                }
            )
        body = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries})
        return self.put_manifest(repository, body.encode(), media_type, tags=tags)

    # -- faults and tokens --------------------------------------------------------------

    def fail_next(
        self,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        methods: Iterable[str] | None = None,
    ) -> None:
        if body is None:
            body = error_body(_ERROR_CODES.get(status, "UNKNOWN" if status >= 500 else "ERROR"))
        self._faults.append(
            _Fault("status", path, _methods(methods), times, status, dict(headers or {}), body)
        )

    def truncate_next(
        self,
        path: str,
        *,
        keep: int | None = None,
        times: int = 1,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Send only ``keep`` bytes (default: half) of the next successful content bodies."""
        self._faults.append(_Fault("truncate", path, _methods(methods), times, keep=keep))

    def stall_next(
        self, path: str, *, times: int = 1, methods: Iterable[str] | None = None
    ) -> None:
        self._faults.append(_Fault("stall", path, _methods(methods), times))

    def redirect_blobs(self, to: FakeStorage | RedirectMode | None, *, status: int = 307) -> None:
        self.blob_redirect = to
        self.blob_redirect_status = status

    def revoke_tokens(self) -> None:
        """Forget every issued token (as if they expired server-side)."""
        self._tokens.clear()

    # -- inspection -----------------------------------------------------------------------

    def requests_matching(
        self, method: str | None = None, path: str | None = None, *, server: str = "registry"
    ) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.server == server
            and (method is None or r.method == method)
            and _glob_matches(path, r.path)
        ]

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """Requests to the registry itself (token requests are in ``token_requests``)."""
        return len([r for r in self.requests_matching(method, path) if r.path != "/token"])

    # -- handlers -------------------------------------------------------------------------

    def _take_fault(self, kind: str, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.kind == kind and fault.matches(method, path):
                fault.remaining -= 1
                return fault
        return None

    @web.middleware
    async def _faulty(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = self._take_fault("status", request.method, request.path)
        if fault is not None:
            return web.Response(
                status=fault.status,
                headers={"Content-Type": "application/json", **fault.headers},
                body=fault.body,
            )
        if self._take_fault("stall", request.method, request.path) is not None:
            await self._stall_release.wait()
            return web.Response(status=503)
        response: web.StreamResponse = await handler(request)
        return response

    def _challenge(self, repository: str | None, error: str | None) -> str:
        if self.challenge_override is not None:
            return self.challenge_override
        if self.auth == "basic":
            return 'Basic realm="fake-registry"'
        realm = self.realm or f"{self.url}/token"
        challenge = f'Bearer realm="{realm}",service="{self.service}"'
        if repository is not None:
            challenge += f',scope="repository:{repository}:pull"'
        if error:
            challenge += f',error="{error}"'
        return challenge

    def _unauthorized(self, repository: str | None, error: str | None = None) -> web.Response:
        return web.Response(
            status=401,
            headers={
                "WWW-Authenticate": self._challenge(repository, error),
                "Content-Type": "application/json",
            },
            body=error_body("UNAUTHORIZED", "authentication required"),
        )

    def _basic_user(self, header: str | None) -> tuple[str, str] | None:
        if not header or not header.startswith("Basic "):
            return None
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        return user, password

    def _check_auth(self, request: web.Request, repository: str | None) -> web.Response | None:
        header = request.headers.get("Authorization")
        if self.auth == "none":
            return None
        if self.auth == "basic":
            if self._basic_user(header) == (self.username, self.password):
                return None
            return self._unauthorized(repository)
        if not header or not header.startswith("Bearer "):
            return self._unauthorized(repository)
        granted = self._tokens.get(header[7:])
        if granted is None:
            return self._unauthorized(repository, "invalid_token")
        if repository is not None and repository not in granted:
            return self._unauthorized(repository, "insufficient_scope")
        return None

    async def _base(self, request: web.Request) -> web.StreamResponse:
        return self._check_auth(request, None) or web.json_response({})

    async def _token(self, request: web.Request) -> web.StreamResponse:
        scopes = tuple(request.query.getall("scope", []))
        service = request.query.get("service")
        header = request.headers.get("Authorization")
        user = self._basic_user(header)
        authenticated = user == (self.username, self.password)
        granted = service == self.service and (
            authenticated or (header is None and self.anonymous_pull)
        )
        self.token_requests.append(
            TokenRequest(service, scopes, user[0] if user else None, granted)
        )
        if not granted:
            return web.json_response(
                {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}, status=401
            )
        repositories = set()
        for scope in " ".join(scopes).split():
            match = _PULL_SCOPE.match(scope)
            if match and ("pull" in match["actions"].split(",") or match["actions"] == "*"):
                repositories.add(match["name"])
        token = "fake-token-" + secrets.token_hex(12)
        self._tokens[token] = frozenset(repositories)
        answer: dict[str, Any] = {"issued_at": "2024-01-01T00:00:00Z"}
        if self.token_field in ("token", "both"):
            answer["token"] = token
        if self.token_field in ("access_token", "both"):
            answer["access_token"] = token
        if self.token_expires_in is not None:
            answer["expires_in"] = self.token_expires_in
        return web.json_response(answer)

    async def _content(self, request: web.Request) -> web.StreamResponse:
        match = _CONTENT_PATH.match(request.path)
        if match is None or request.method not in ("GET", "HEAD"):
            return web.json_response(error_body_json("UNSUPPORTED"), status=404)
        repository, kind, reference = match["name"], match["kind"], match["ref"]
        denied = self._check_auth(request, repository)
        if denied is not None:
            return denied
        if kind == "manifests":
            return await self._manifest(request, repository, reference)
        return await self._blob(request, repository, reference)

    async def _manifest(
        self, request: web.Request, repository: str, reference: str
    ) -> web.StreamResponse:
        digest = self._tags.get((repository, reference), reference)
        stored = self._manifests.get((repository, digest))
        if stored is None:
            return web.json_response(error_body_json("MANIFEST_UNKNOWN"), status=404)
        accepted = _accepted(request.headers.get("Accept"))
        if self._refuses(accepted, stored.media_type):
            return web.json_response(error_body_json("MANIFEST_UNKNOWN"), status=404)
        send_digest = (
            self.head_digest_header if request.method == "HEAD" else self.get_digest_header
        )
        headers = {"Docker-Content-Digest": digest} if send_digest else {}
        return await self._send(request, stored.body, stored.media_type, headers)

    def _refuses(self, accepted: set[str] | None, media_type: str) -> bool:
        if not self.enforce_accept or accepted is None:
            return False
        return media_type not in accepted and "*/*" not in accepted

    async def _blob(self, request: web.Request, repository: str, digest: str) -> web.StreamResponse:
        data = self._blobs.get((repository, digest))
        if data is None:
            return web.json_response(error_body_json("BLOB_UNKNOWN"), status=404)
        target = self.blob_redirect
        if target is not None and request.method == "GET":
            if target == "same-origin":
                location = f"/_storage/{repository}/{digest}"
            elif target == "loop":
                location = request.path
            else:
                location = target.location(digest)
            return web.Response(status=self.blob_redirect_status, headers={"Location": location})
        headers = {"Docker-Content-Digest": digest}
        return await self._send(request, data, "application/octet-stream", headers)

    async def _same_origin_storage(self, request: web.Request) -> web.StreamResponse:
        match = _STORAGE_PATH.match(request.path)
        if match is None:
            return web.Response(status=404)
        denied = self._check_auth(request, match["name"])
        if denied is not None:
            return denied
        data = self._blobs.get((match["name"], match["digest"]))
        if data is None:
            return web.Response(status=404)
        return await self._send(request, data, "application/octet-stream", {})

    async def _send(
        self, request: web.Request, body: bytes, media_type: str, headers: Mapping[str, str]
    ) -> web.StreamResponse:
        truncate = None
        if request.method == "GET":
            truncate = self._take_fault("truncate", request.method, request.path)
        if truncate is not None:
            response = web.StreamResponse(headers={"Content-Type": media_type, **headers})
            response.content_length = len(body)
            await response.prepare(request)
            keep = truncate.keep if truncate.keep is not None else len(body) // 2
            await response.write(body[:keep])
            if request.transport is not None:
                request.transport.close()
            return response
        if self.chunked and request.method == "GET":
            response = web.StreamResponse(headers={"Content-Type": media_type, **headers})
            response.enable_chunked_encoding()
            await response.prepare(request)
            for start in range(0, len(body), CHUNK_BYTES):
                await response.write(body[start : start + CHUNK_BYTES])
            await response.write_eof()
            return response
        return web.Response(body=body, headers={"Content-Type": media_type, **headers})


def error_body_json(code: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": code.lower().replace("_", " ")}]}


@contextlib.asynccontextmanager
async def standalone_servers() -> AsyncIterator[AiohttpServer]:
    """An ``aiohttp_server`` look-alike for use outside pytest (benchmarks); stops on exit."""
    servers: list[TestServer] = []

    async def start(app: web.Application, *, port: int | None = None, **kwargs: Any) -> TestServer:
        server = TestServer(app, host="127.0.0.1", port=port)
        await server.start_server(**kwargs)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        while servers:
            await servers.pop().close()


def _methods(methods: Iterable[str] | None) -> frozenset[str] | None:
    return frozenset(m.upper() for m in methods) if methods is not None else None
