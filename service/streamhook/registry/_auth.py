"""Registry authentication: challenge parsing, credentials, bearer tokens (pure parts).

The flow (docs: distribution token authentication spec) is driven by ``client.py``:
a request is sent anonymously; a 401 names a scheme in ``WWW-Authenticate``. ``Basic``
means "send the configured username/password" from then on. ``Bearer realm=…,service=…``
means "fetch a token from the realm for ``repository:<repo>:pull``" — the realm may be
another host (Docker Hub's is auth.docker.io): it is the one foreign host we contact, only
because the registry itself named it, and the basic credentials go there (as Docker does),
never to anything else.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cachetools import TLRUCache

DEFAULT_TOKEN_LIFETIME_SECONDS = 60.0  # distribution token spec: when expires_in is absent
MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600.0
TOKEN_EXPIRY_MARGIN_SECONDS = 10.0
DEFAULT_TOKEN_CACHE_SIZE = 256
MAX_TOKEN_LENGTH = 16 * 1024

_TOKEN_CHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]"
_TCHAR = re.compile(_TOKEN_CHARS, re.ASCII)
# What we are willing to put into an Authorization header: visible ASCII, no spaces.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+", re.ASCII)

TokenKey = tuple[str, str, str]  # (realm, service, scope)


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lower-case
    params: dict[str, str] = field(default_factory=dict)  # lower-case keys

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    username: str
    password: str = field(repr=False)

    def header(self) -> str:
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


class _Scanner:
    """Cursor over one header value (RFC 9110 §11.6.1 challenge grammar)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if not self.at_end() else ""

    def skip(self, chars: str) -> None:
        while not self.at_end() and self.text[self.pos] in chars:
            self.pos += 1

    def token(self) -> str:
        start = self.pos
        while not self.at_end() and _TCHAR.fullmatch(self.text[self.pos]):
            self.pos += 1
        return self.text[start : self.pos]

    def quoted(self) -> str:
        self.pos += 1  # opening quote
        out: list[str] = []
        while not self.at_end():
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\" and not self.at_end():
                out.append(self.text[self.pos])
                self.pos += 1
            elif char == '"':
                return "".join(out)
            else:
                out.append(char)
        return "".join(out)  # unterminated: take the rest

    def skip_to_comma(self) -> None:
        while not self.at_end() and self.text[self.pos] != ",":
            self.pos += 1


def _parse_params(scanner: _Scanner) -> dict[str, str]:
    """Read ``key=value`` pairs until the next challenge's scheme (a token without ``=``)."""
    params: dict[str, str] = {}
    while True:
        scanner.skip(" \t,")
        mark = scanner.pos
        key = scanner.token()
        scanner.skip(" \t")
        if not key or scanner.peek() != "=":
            scanner.pos = mark  # a new scheme, or junk the caller skips
            return params
        scanner.pos += 1
        scanner.skip(" \t")
        if scanner.peek() == "=":
            scanner.skip("=")  # token68 padding ("abc=="): not a parameter
            continue
        value = scanner.quoted() if scanner.peek() == '"' else scanner.token()
        params.setdefault(key.lower(), value)
        scanner.skip(" \t")
        if scanner.peek() not in (",", ""):
            scanner.skip_to_comma()


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """Every challenge in the ``WWW-Authenticate`` values; never raises on junk."""
    challenges: list[Challenge] = []
    for header in headers:
        scanner = _Scanner(header)
        while True:
            scanner.skip(" \t,")
            if scanner.at_end():
                break
            scheme = scanner.token()
            if not scheme:
                scanner.pos += 1  # not a token character: skip it
                continue
            scanner.skip(" \t")
            if scanner.peek() not in (",", "") and not _looks_like_param(scanner):
                scanner.skip_to_comma()  # token68 form ("Negotiate abc=="): not for us
            challenges.append(Challenge(scheme.lower(), _parse_params(scanner)))
    return challenges


def _looks_like_param(scanner: _Scanner) -> bool:
    mark = scanner.pos
    key = scanner.token()
    scanner.skip(" \t")
    is_param = bool(key) and scanner.peek() == "="
    if is_param:
        scanner.pos += 1
        is_param = scanner.peek() != "="
    scanner.pos = mark
    return is_param


def choose_challenge(challenges: Iterable[Challenge]) -> Challenge | None:
    """Bearer (with a realm) over Basic: a token works even without credentials."""
    usable = [c for c in challenges if c.scheme == "bearer" and c.realm]
    usable += [c for c in challenges if c.scheme == "basic"]
    return usable[0] if usable else None


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


class TokenResponseError(ValueError):
    """The token endpoint answered 200 with something that is not a usable token."""


def parse_token_response(body: bytes) -> tuple[str, float]:
    """``(token, lifetime seconds)`` from a token endpoint's JSON answer."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        raise TokenResponseError("token response is not JSON") from None
    if not isinstance(document, dict):
        raise TokenResponseError("token response is not a JSON object")
    token = document.get("token") or document.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenResponseError("token response has no token or access_token")
    if len(token) > MAX_TOKEN_LENGTH or not _HEADER_SAFE.fullmatch(token):
        raise TokenResponseError("token contains characters not allowed in a header")
    return token, _lifetime(document.get("expires_in"))


def _lifetime(expires_in: object) -> float:
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return DEFAULT_TOKEN_LIFETIME_SECONDS
    if not math.isfinite(expires_in) or expires_in <= 0:
        return DEFAULT_TOKEN_LIFETIME_SECONDS
    return min(float(expires_in), MAX_TOKEN_LIFETIME_SECONDS)


def usable_lifetime(lifetime: float, margin: float = TOKEN_EXPIRY_MARGIN_SECONDS) -> float:
    """How long we reuse a token: its lifetime minus a margin (at most half of it)."""
    return lifetime - min(margin, lifetime / 2)


class TokenCache:
    """Bearer tokens per (realm, service, scope), each kept until its usable lifetime ends."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        maxsize: int = DEFAULT_TOKEN_CACHE_SIZE,
        margin: float = TOKEN_EXPIRY_MARGIN_SECONDS,
    ) -> None:
        self._margin = margin
        self._entries: TLRUCache[TokenKey, tuple[str, float]] = TLRUCache(
            maxsize=maxsize, ttu=self._expires_at, timer=clock
        )

    def _expires_at(self, _key: TokenKey, value: tuple[str, float], now: float) -> float:
        return now + usable_lifetime(value[1], self._margin)

    def get(self, key: TokenKey) -> str | None:
        entry = self._entries.get(key)
        return entry[0] if entry is not None else None

    def put(self, key: TokenKey, token: str, lifetime: float) -> None:
        self._entries[key] = (token, lifetime)

    def discard(self, key: TokenKey) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
