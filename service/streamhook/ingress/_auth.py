"""Webhook authentication. Every comparison is constant-time; HMACs cover the raw body; OIDC
ID tokens are verified in ``_oidc``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from multidict import CIMultiDictProxy

from streamhook.config import WebhookAuth
from streamhook.ingress._oidc import verify_bearer


@dataclass(frozen=True, slots=True)
class HmacScheme:
    """How a sender signs: header name, digest algorithm, and a prefix before the hex."""

    header: str
    algorithm: str
    prefix: str = ""


# Senders that sign their body; the format selects the scheme for `hmacSecret`.
HMAC_SCHEMES: Mapping[str, HmacScheme] = {
    "github": HmacScheme("X-Hub-Signature-256", "sha256", "sha256="),
    "artifactory": HmacScheme("X-JFrog-Event-Auth", "sha256"),
    "nexus": HmacScheme("X-Nexus-Webhook-Signature", "sha1"),
}
DEFAULT_HMAC = HmacScheme("X-Hub-Signature-256", "sha256", "sha256=")


def _equal(given: str | bytes, expected: str | bytes) -> bool:
    a = given.encode() if isinstance(given, str) else given
    b = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)


def _bearer_tokens(headers: CIMultiDictProxy[str]) -> list[str]:
    values = headers.getall("Authorization", [])
    return [v[7:].strip() for v in values if v[:7].lower() == "bearer "]


def _bearer(headers: CIMultiDictProxy[str], token: str) -> bool:
    return any(_equal(given, token) for given in _bearer_tokens(headers))


def _basic(headers: CIMultiDictProxy[str], username: str, password: str) -> bool:
    expected = f"{username}:{password}".encode()
    for value in headers.getall("Authorization", []):
        if value[:6].lower() != "basic ":
            continue
        try:
            given = base64.b64decode(value[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            continue
        if _equal(given, expected):
            return True
    return False


def _header(headers: CIMultiDictProxy[str], name: str, value: str) -> bool:
    return any(_equal(v, value) for v in headers.getall(name, []))


def _hmac(headers: CIMultiDictProxy[str], body: bytes, secret: str, scheme: HmacScheme) -> bool:
    expected = hmac.new(secret.encode(), body, scheme.algorithm).hexdigest()
    for value in headers.getall(scheme.header, []):
        given = value.strip()
        if scheme.prefix:
            if not given.lower().startswith(scheme.prefix):
                continue
            given = given[len(scheme.prefix) :]
        if _equal(given.lower(), expected):
            return True
    return False


async def authenticate(
    auth: WebhookAuth,
    *,
    webhook_format: str,
    headers: CIMultiDictProxy[str],
    body: bytes,
    url_token: str | None,
) -> bool:
    """True when the request carries the webhook's credential. ``url_token`` is the path token.

    Asynchronous only for ``oidc`` with a ``jwksUrl``, whose keys may need a (cached) fetch.
    """
    if auth.url_token is not None:
        return url_token is not None and _equal(url_token, auth.url_token.get_secret_value())
    if url_token is not None:
        return False  # a token in the path of a webhook that does not use one
    if auth.bearer_token is not None:
        return _bearer(headers, auth.bearer_token.get_secret_value())
    if auth.basic is not None and auth.basic.password is not None:
        return _basic(headers, auth.basic.username, auth.basic.password.get_secret_value())
    if auth.header is not None and auth.header_value is not None:
        return _header(headers, auth.header, auth.header_value.get_secret_value())
    if auth.hmac_secret is not None:
        scheme = HMAC_SCHEMES.get(webhook_format, DEFAULT_HMAC)
        return _hmac(headers, body, auth.hmac_secret.get_secret_value(), scheme)
    if auth.oidc is not None:
        return await verify_bearer(auth.oidc, _bearer_tokens(headers))
    return auth.none


def body_digest(body: bytes) -> str:
    """Short fingerprint of a body for logs (never the body itself)."""
    return hashlib.sha256(body).hexdigest()[:16]
