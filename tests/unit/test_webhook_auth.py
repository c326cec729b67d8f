"""Webhook authentication per sender: static headers, URL tokens, body HMACs and OIDC JWTs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import structlog
import structlog.testing
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from multidict import CIMultiDict, CIMultiDictProxy

from streamhook.config import ConfigError, WebhookAuth, parse_settings
from streamhook.ingress import _oidc
from streamhook.ingress._auth import authenticate

BODY = json.dumps({"action": "published", "package": {"name": "app"}}).encode()
SECRET = "It's a Secret to Everybody"


async def check(
    auth: dict[str, Any],
    headers: list[tuple[str, str]] | dict[str, str] | None = None,
    *,
    webhook_format: str = "distribution",
    body: bytes = BODY,
    url_token: str | None = None,
) -> bool:
    lines = list(headers.items()) if isinstance(headers, dict) else (headers or [])
    return await authenticate(
        WebhookAuth.model_validate(auth),
        webhook_format=webhook_format,
        headers=CIMultiDictProxy(CIMultiDict(lines)),
        body=body,
        url_token=url_token,
    )


def flip_one_byte(body: bytes) -> bytes:
    return body[:10] + bytes([body[10] ^ 0x01]) + body[11:]


# --- static header senders: Harbor, GitLab, ACR, ECR API destinations, Zot -------------------


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"Authorization": "Harbor-Token abc"}, True),  # Harbor sends auth_header verbatim
        ({"authorization": "Harbor-Token abc"}, True),
        ({"Authorization": "harbor-token abc"}, False),
        ({"Authorization": "Harbor-Token abc "}, False),
        ({"Authorization": "Bearer Harbor-Token abc"}, False),
        ({}, False),
    ],
)
async def test_harbor_and_gitlab_whole_authorization_header(
    headers: dict[str, str], ok: bool
) -> None:
    auth = {"header": "Authorization", "headerValue": "Harbor-Token abc"}
    assert await check(auth, headers, webhook_format="harbor") is ok


async def test_acr_and_ecr_custom_header_with_repeated_lines() -> None:
    auth = {"header": "X-Api-Key", "headerValue": "k3y"}
    assert await check(auth, [("X-Api-Key", "other"), ("X-Api-Key", "k3y")], webhook_format="acr")
    assert not await check(auth, {"X-Api-Key": "k3y2"}, webhook_format="ecr")
    assert not await check(auth, {"Authorization": "k3y"}, webhook_format="ecr")


async def test_zot_bearer_and_basic_credentials() -> None:
    assert await check({"bearerToken": "zt"}, {"Authorization": "bearer zt"}, webhook_format="zot")
    assert not await check({"bearerToken": "zt"}, {"Authorization": "Bearer zt2"})
    basic = {"basic": {"username": "zot", "password": "pw"}}
    good = "Basic " + base64.b64encode(b"zot:pw").decode()
    assert await check(basic, {"Authorization": good}, webhook_format="zot")
    assert not await check(basic, {"Authorization": "Basic " + base64.b64encode(b"zot:p").decode()})
    assert not await check(basic, {})


# --- URL tokens: Quay, Docker Hub ----------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "ok"), [("u-tok", True), ("u-toK", False), ("u-tok ", False), (None, False)]
)
async def test_quay_and_dockerhub_url_token(token: str | None, ok: bool) -> None:
    for sender in ("quay", "dockerhub"):
        assert await check({"urlToken": "u-tok"}, webhook_format=sender, url_token=token) is ok


# --- body HMACs: GitHub, Artifactory, Nexus ------------------------------------------------


def signature(sender: str, body: bytes, secret: str = SECRET) -> tuple[str, str]:
    if sender == "github":
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return "X-Hub-Signature-256", f"sha256={digest}"
    if sender == "artifactory":
        return "X-JFrog-Event-Auth", hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return "X-Nexus-Webhook-Signature", hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def test_github_documented_signature_example() -> None:
    # GitHub's documentation example: secret "It's a Secret to Everybody", body "Hello, World!".
    assert signature("github", b"Hello, World!")[1] == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


SENDERS = ("github", "artifactory", "nexus")


@pytest.mark.parametrize("sender", SENDERS)
async def test_hmac_good_signature(sender: str) -> None:
    name, value = signature(sender, BODY)
    assert await check({"hmacSecret": SECRET}, {name: value}, webhook_format=sender)
    assert await check({"hmacSecret": SECRET}, {name: value.upper()}, webhook_format=sender)


@pytest.mark.parametrize("sender", SENDERS)
async def test_hmac_replayed_signature_with_one_changed_byte_fails(sender: str) -> None:
    name, value = signature(sender, BODY)
    tampered = flip_one_byte(BODY)
    assert tampered != BODY
    assert not await check(
        {"hmacSecret": SECRET}, {name: value}, webhook_format=sender, body=tampered
    )


@pytest.mark.parametrize("sender", SENDERS)
async def test_hmac_wrong_secret_missing_header_and_other_header(sender: str) -> None:
    name, value = signature(sender, BODY, "another secret")
    assert not await check({"hmacSecret": SECRET}, {name: value}, webhook_format=sender)
    assert not await check({"hmacSecret": SECRET}, {}, webhook_format=sender)
    others = [s for s in SENDERS if s != sender]
    for other in others:
        other_name, other_value = signature(other, BODY)
        if other_name != name:
            assert not await check(
                {"hmacSecret": SECRET}, {other_name: other_value}, webhook_format=sender
            )


async def test_github_needs_the_sha256_prefix_and_ignores_the_legacy_sha1_header() -> None:
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    legacy = "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    auth = {"hmacSecret": SECRET}
    assert not await check(auth, {"X-Hub-Signature-256": digest}, webhook_format="github")
    assert not await check(auth, {"X-Hub-Signature": legacy}, webhook_format="github")
    assert not await check(auth, {"X-Hub-Signature-256": f"sha1={digest}"}, webhook_format="github")


async def test_artifactory_raw_secret_is_not_accepted_as_an_hmac() -> None:
    # Raw-secret senders are configured with the header kind instead (README).
    assert not await check(
        {"hmacSecret": SECRET}, {"X-JFrog-Event-Auth": SECRET}, webhook_format="artifactory"
    )
    raw = {"header": "X-JFrog-Event-Auth", "headerValue": SECRET}
    assert await check(raw, {"X-JFrog-Event-Auth": SECRET}, webhook_format="artifactory")
    assert not await check(raw, {"X-JFrog-Event-Auth": SECRET[:-1]}, webhook_format="artifactory")


async def test_nexus_signature_covers_the_raw_bytes_not_re_serialised_json() -> None:
    spaced = json.dumps(json.loads(BODY), indent=2).encode()
    name, value = signature("nexus", BODY)
    assert not await check(
        {"hmacSecret": SECRET}, {name: value}, webhook_format="nexus", body=spaced
    )


# --- OIDC JWTs: Google Artifact Registry through Pub/Sub push --------------------------------

AUDIENCE = "https://streamhook.example.com/webhooks/gar"
ISSUER = "https://accounts.google.com"
PUSHER = "pubsub-push@my-project.iam.gserviceaccount.com"


class Signer:
    """An RSA key with a key id; signs ID tokens the way Google does (RS256, kid header)."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def jwk(self) -> dict[str, Any]:
        key: dict[str, Any] = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**key, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def token(self, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "aud": AUDIENCE,
            "iss": ISSUER,
            "iat": now,
            "exp": now + 3600,
            "email": PUSHER,
            "email_verified": True,
            "sub": "1234567890",
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer("key-1")


@pytest.fixture(scope="module")
def other_signer() -> Signer:
    return Signer("key-2")


def jwks_file(path: Path, *signers: Signer) -> str:
    path.write_text(json.dumps({"keys": [s.jwk for s in signers]}))
    return str(path)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


@pytest.fixture
def oidc_auth(tmp_path: Path, signer: Signer) -> dict[str, Any]:
    return {
        "oidc": {
            "jwksFile": jwks_file(tmp_path / "jwks.json", signer),
            "audience": AUDIENCE,
            "issuer": [ISSUER, "accounts.google.com"],
            "email": PUSHER,
        }
    }


async def test_oidc_good_token(oidc_auth: dict[str, Any], signer: Signer) -> None:
    assert await check(oidc_auth, bearer(signer.token()), webhook_format="gar")
    assert await check(oidc_auth, bearer(signer.token(iss="accounts.google.com")))


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"aud": "https://other.example.com/webhooks/gar"}, "wrong audience"),
        ({"iss": "https://evil.example.com"}, "wrong issuer"),
        ({"email": "someone@my-project.iam.gserviceaccount.com"}, "other service account"),
        ({"email_verified": False}, "email not verified"),
        ({"exp": None}, "no expiry"),
        ({"aud": None}, "no audience"),
    ],
)
async def test_oidc_claims_are_checked(
    oidc_auth: dict[str, Any], signer: Signer, claims: dict[str, Any], why: str
) -> None:
    assert not await check(oidc_auth, bearer(signer.token(**claims))), why


async def test_oidc_email_is_optional(tmp_path: Path, signer: Signer) -> None:
    auth = {
        "oidc": {
            "jwksFile": jwks_file(tmp_path / "k.json", signer),
            "audience": AUDIENCE,
            "issuer": ISSUER,
        }
    }
    assert await check(auth, bearer(signer.token(email=None, email_verified=None)))


async def test_oidc_bad_signature(
    oidc_auth: dict[str, Any], signer: Signer, other_signer: Signer
) -> None:
    forged = jwt.encode(
        {
            "aud": AUDIENCE,
            "iss": ISSUER,
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
            "email": PUSHER,
            "email_verified": True,
        },
        other_signer.private,
        algorithm="RS256",
        headers={"kid": signer.kid},
    )
    assert not await check(oidc_auth, bearer(forged))
    header, claims, sig = signer.token().split(".")
    assert not await check(oidc_auth, bearer(f"{header}.{claims}.{sig[:-4]}AAAA"))


async def test_oidc_alg_none_and_hmac_confusion_are_refused(
    oidc_auth: dict[str, Any], signer: Signer
) -> None:
    claims = {
        "aud": AUDIENCE,
        "iss": ISSUER,
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
        "email": PUSHER,
        "email_verified": True,
    }
    assert not await check(oidc_auth, bearer(unsigned({"alg": "none", "kid": signer.kid}, claims)))
    assert not await check(oidc_auth, bearer(unsigned({"alg": "None", "kid": signer.kid}, claims)))
    # Algorithm confusion: an HS256 token keyed with the public key the verifier holds.
    public_pem = signer.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = unsigned({"alg": "HS256", "kid": signer.kid}, claims)[:-1]
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    confused = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert not await check(oidc_auth, bearer(confused))


async def test_oidc_unknown_key_missing_and_garbage_tokens(
    oidc_auth: dict[str, Any], other_signer: Signer, signer: Signer
) -> None:
    assert not await check(oidc_auth, bearer(other_signer.token()))
    assert not await check(oidc_auth, {})
    assert not await check(oidc_auth, {"Authorization": signer.token()})  # no Bearer scheme
    assert not await check(oidc_auth, bearer("not.a.jwt"))
    assert not await check(oidc_auth, bearer("x" * (_oidc.MAX_TOKEN_CHARS + 1)))
    no_kid = jwt.encode({"aud": AUDIENCE}, signer.private, algorithm="RS256")
    assert not await check(oidc_auth, bearer(no_kid))


async def test_oidc_any_of_several_bearer_lines(oidc_auth: dict[str, Any], signer: Signer) -> None:
    lines = [("Authorization", "Bearer junk"), ("Authorization", f"Bearer {signer.token()}")]
    assert await check(oidc_auth, lines)


async def test_oidc_jwks_file_is_reread_when_it_changes(
    tmp_path: Path, signer: Signer, other_signer: Signer
) -> None:
    path = tmp_path / "rotating.json"
    auth = {"oidc": {"jwksFile": jwks_file(path, signer), "audience": AUDIENCE, "issuer": ISSUER}}
    assert await check(auth, bearer(signer.token()))
    assert not await check(auth, bearer(other_signer.token()))
    jwks_file(path, other_signer)
    stamp = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))
    assert await check(auth, bearer(other_signer.token()))
    assert not await check(auth, bearer(signer.token()))


class JwksServer:
    """A loopback JWK set endpoint that counts its hits."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.hits = 0
        self.status = 200
        self.body: bytes | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        if self.status == 302:
            raise web.HTTPFound("/elsewhere")
        if self.body is not None:
            return web.Response(body=self.body, content_type="application/json")
        return web.json_response({"keys": self.keys}, status=self.status)


@pytest.fixture
async def jwks_server(aiohttp_server: Any) -> tuple[JwksServer, str]:
    served = JwksServer()
    app = web.Application()
    app.router.add_get("/certs", served.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    return served, str(server.make_url("/certs"))


def url_auth(url: str) -> dict[str, Any]:
    return {"oidc": {"jwksUrl": url, "audience": AUDIENCE, "issuer": ISSUER, "email": PUSHER}}


async def test_oidc_jwks_url_is_fetched_once_and_cached(
    jwks_server: tuple[JwksServer, str], signer: Signer
) -> None:
    served, url = jwks_server
    served.keys = [signer.jwk]
    for _ in range(3):
        assert await check(url_auth(url), bearer(signer.token()))
    assert served.hits == 1


async def test_oidc_unknown_key_ids_do_not_hammer_the_jwks_url(
    jwks_server: tuple[JwksServer, str], signer: Signer, other_signer: Signer
) -> None:
    served, url = jwks_server
    served.keys = [signer.jwk]
    assert await check(url_auth(url), bearer(signer.token()))
    for _ in range(5):
        assert not await check(url_auth(url), bearer(other_signer.token()))
    assert served.hits == 1


async def test_oidc_rotated_key_is_fetched_after_the_refresh_interval(
    jwks_server: tuple[JwksServer, str],
    signer: Signer,
    other_signer: Signer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served, url = jwks_server
    served.keys = [signer.jwk]
    assert await check(url_auth(url), bearer(signer.token()))
    served.keys = [signer.jwk, other_signer.jwk]
    monkeypatch.setattr(_oidc, "MIN_REFRESH_SECONDS", 0.0)
    assert await check(url_auth(url), bearer(other_signer.token()))
    assert served.hits == 2


@pytest.mark.parametrize("problem", ["status", "redirect", "not-json", "no-keys", "too-large"])
async def test_oidc_unusable_jwks_url_fails_closed(
    jwks_server: tuple[JwksServer, str], signer: Signer, problem: str
) -> None:
    served, url = jwks_server
    served.keys = [signer.jwk]
    if problem == "status":
        served.status = 500
    elif problem == "redirect":
        served.status = 302
    elif problem == "not-json":
        served.body = b"<html>"
    elif problem == "no-keys":
        served.body = b'{"keys": [{"kty": "nope"}]}'
    else:
        served.body = json.dumps({"keys": [signer.jwk], "pad": "x" * _oidc.MAX_JWKS_BYTES}).encode()
    assert not await check(url_auth(url), bearer(signer.token()))
    assert served.hits == 1


async def test_oidc_unreachable_jwks_url_fails_closed(signer: Signer) -> None:
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert not await check(url_auth(f"http://127.0.0.1:{port}/certs"), bearer(signer.token()))


async def test_oidc_hanging_jwks_url_times_out(
    aiohttp_server: Any, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({"keys": [signer.jwk]})

    app = web.Application()
    app.router.add_get("/certs", hang)
    server = await aiohttp_server(app, host="127.0.0.1")
    monkeypatch.setattr(_oidc, "FETCH_TIMEOUT_SECONDS", 0.2)
    try:
        ok = await check(url_auth(str(server.make_url("/certs"))), bearer(signer.token()))
    finally:
        release.set()
    assert not ok


async def test_rejected_tokens_and_secrets_never_reach_the_logs(
    oidc_auth: dict[str, Any], signer: Signer, other_signer: Signer
) -> None:
    tokens = [signer.token(aud="https://other.example.com"), other_signer.token()]
    with structlog.testing.capture_logs() as logs:
        for token in tokens:
            assert not await check(oidc_auth, bearer(token))
        assert not await check(
            {"hmacSecret": SECRET}, {"X-Hub-Signature-256": "sha256=00"}, webhook_format="github"
        )
    assert logs, "rejections are logged"
    text = repr(logs)
    for secret in (*tokens, SECRET, *(t.split(".")[2] for t in tokens)):
        assert secret not in text


# --- configuration of the oidc kind --------------------------------------------------------


def settings_with(auth: dict[str, Any]) -> Any:
    return parse_settings(
        {
            "registries": [{"name": "gar", "url": "https://us-west1-docker.pkg.dev"}],
            "webhooks": [{"name": "gar", "format": "gar", "registry": "gar", "auth": auth}],
        }
    )


def config_problems(auth: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        settings_with(auth)
    return caught.value.problems


def test_oidc_config_accepts_a_single_issuer_string(tmp_path: Path, signer: Signer) -> None:
    path = jwks_file(tmp_path / "k.json", signer)
    auth = settings_with({"oidc": {"jwksFile": path, "audience": AUDIENCE, "issuer": ISSUER}})
    assert auth.webhooks[0].auth.oidc.issuer == [ISSUER]
    assert auth.webhooks[0].auth.kind == "oidc"


@pytest.fixture
def valid_file(tmp_path: Path, signer: Signer) -> Iterator[str]:
    yield jwks_file(tmp_path / "k.json", signer)


@pytest.mark.parametrize(
    ("oidc", "expected"),
    [
        ({"audience": AUDIENCE, "issuer": ISSUER}, "give either jwksFile or jwksUrl"),
        (
            {
                "jwksUrl": "https://x/certs",
                "jwksFile": "FILE",
                "audience": AUDIENCE,
                "issuer": ISSUER,
            },
            "give either jwksFile or jwksUrl",
        ),
        (
            {
                "jwksUrl": "http://www.googleapis.com/oauth2/v3/certs",
                "audience": AUDIENCE,
                "issuer": ISSUER,
            },
            "jwksUrl must be an https:// URL",
        ),
        (
            {"jwksUrl": "https://x/certs", "audience": "", "issuer": ISSUER},
            "audience and issuer must not be empty",
        ),
        (
            {"jwksUrl": "https://x/certs", "audience": AUDIENCE, "issuer": []},
            "audience and issuer must not be empty",
        ),
        ({"jwksUrl": "https://x/certs", "issuer": ISSUER}, "oidc.audience: Field required"),
        (
            {"jwksFile": "/nonexistent/jwks.json", "audience": AUDIENCE, "issuer": ISSUER},
            "cannot read jwksFile",
        ),
        (
            {"jwksUrl": "https://x/certs", "audience": AUDIENCE, "issuer": ISSUER, "aud": "x"},
            "unknown key",
        ),
    ],
)
def test_oidc_config_errors(oidc: dict[str, Any], expected: str, valid_file: str) -> None:
    oidc = {k: (valid_file if v == "FILE" else v) for k, v in oidc.items()}
    assert any(expected in p for p in config_problems({"oidc": oidc})), config_problems(
        {"oidc": oidc}
    )


@pytest.mark.parametrize("content", ["{", "[]", '{"keys": []}', '{"keys": {}}'])
def test_oidc_config_refuses_files_that_are_not_jwk_sets(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    problems = config_problems(
        {"oidc": {"jwksFile": str(path), "audience": AUDIENCE, "issuer": ISSUER}}
    )
    assert any("jwksFile" in p for p in problems), problems


def test_oidc_is_one_auth_kind_among_others(valid_file: str) -> None:
    oidc = {"jwksFile": valid_file, "audience": AUDIENCE, "issuer": ISSUER}
    problems = config_problems({"oidc": oidc, "bearerToken": "t"})
    assert any("choose one auth kind, got bearerToken, oidc" in p for p in problems), problems
    problems = config_problems({})
    assert any("oidc, or none: true" in p for p in problems), problems
