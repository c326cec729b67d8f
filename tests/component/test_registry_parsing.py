"""The registry client's pure parts: challenges, tokens, Retry-After, names, docker config."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamhook.errors import ConfigError, RegistryRejected
from streamhook.registry._auth import (
    BasicCredentials,
    Challenge,
    TokenCache,
    TokenResponseError,
    choose_challenge,
    parse_challenges,
    parse_token_response,
    usable_lifetime,
)
from streamhook.registry._dockerconfig import (
    credentials_for,
    load_credentials,
    read_docker_config,
    registry_key_host,
)
from streamhook.registry._http import parse_retry_after, registry_error_code
from streamhook.registry._names import validate_reference, validate_repository

# -- WWW-Authenticate -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://auth.example/token",service="registry.example",'
            'scope="repository:a/b:pull"',
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://auth.example/token",
                        "service": "registry.example",
                        "scope": "repository:a/b:pull",
                    },
                )
            ],
        ),
        (
            'bearer  Realm = "https://a/t" , Service=plain-token ,error="invalid_token"',
            [
                Challenge(
                    "bearer",
                    {"realm": "https://a/t", "service": "plain-token", "error": "invalid_token"},
                )
            ],
        ),
        (
            'Bearer realm="https://a/t",scope="repository:x:pull,push",service="s"',
            [
                Challenge(
                    "bearer",
                    {"realm": "https://a/t", "scope": "repository:x:pull,push", "service": "s"},
                )
            ],
        ),
        ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
        ("Basic", [Challenge("basic", {})]),
        (
            'Negotiate abc/def==, Basic realm="x", Bearer realm="https://r/t"',
            [
                Challenge("negotiate", {}),
                Challenge("basic", {"realm": "x"}),
                Challenge("bearer", {"realm": "https://r/t"}),
            ],
        ),
        (
            r'Bearer realm="https://r/t?a=1,b=2",service="with \"quotes\", and commas"',
            [
                Challenge(
                    "bearer",
                    {"realm": "https://r/t?a=1,b=2", "service": 'with "quotes", and commas'},
                )
            ],
        ),
        ('Bearer realm="unterminated', [Challenge("bearer", {"realm": "unterminated"})]),
        ('Bearer realm="a", realm="second"', [Challenge("bearer", {"realm": "a"})]),
        ("", []),
        (" , ,", []),
    ],
)
def test_parse_challenges(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges([header]) == expected


def test_parse_challenges_across_several_headers() -> None:
    headers = ['Basic realm="x"', 'Bearer realm="https://r/t",service="s"']
    assert [c.scheme for c in parse_challenges(headers)] == ["basic", "bearer"]


@given(st.text(max_size=300))
def test_parse_challenges_never_raises(header: str) -> None:
    for challenge in parse_challenges([header]):
        assert challenge.scheme == challenge.scheme.lower()


_KEY = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
_VALUE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@given(st.dictionaries(_KEY, _VALUE, min_size=1, max_size=5))
def test_quoted_parameters_round_trip(params: dict[str, str]) -> None:
    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    header = "Bearer " + ", ".join(f"{key}={quoted(value)}" for key, value in params.items())
    assert parse_challenges([header]) == [Challenge("bearer", params)]


def test_choose_challenge_prefers_bearer_with_a_realm() -> None:
    basic = Challenge("basic", {})
    bearer = Challenge("bearer", {"realm": "https://r/t"})
    assert choose_challenge([basic, bearer]) == bearer
    assert choose_challenge([Challenge("bearer", {}), basic]) == basic
    assert choose_challenge([Challenge("negotiate", {})]) is None


# -- tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"token": "t1", "expires_in": 300}, ("t1", 300.0)),
        ({"access_token": "t2", "expires_in": 30.5}, ("t2", 30.5)),
        ({"token": "t3", "access_token": "ignored"}, ("t3", 60.0)),
        ({"token": "", "access_token": "t4"}, ("t4", 60.0)),
        ({"token": "t5", "expires_in": -5}, ("t5", 60.0)),
        ({"token": "t6", "expires_in": True}, ("t6", 60.0)),
        ({"token": "t7", "expires_in": "300"}, ("t7", 60.0)),
        ({"token": "t8", "expires_in": 10**12}, ("t8", 86400.0)),
    ],
)
def test_parse_token_response(document: dict[str, Any], expected: tuple[str, float]) -> None:
    assert parse_token_response(json.dumps(document).encode()) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b'"token"',
        b"{}",
        b'{"token": 5}',
        b'{"token": "has space"}',
        b'{"token": "line\\nbreak"}',
        b'{"token": "caf\\u00e9"}',
        json.dumps({"token": "x" * 20000}).encode(),
        b'{"expires_in": NaN, "token": "ok", "x": [}',
    ],
)
def test_unusable_token_responses(body: bytes) -> None:
    with pytest.raises(TokenResponseError):
        parse_token_response(body)


def test_nan_and_infinite_lifetimes_fall_back_to_default() -> None:
    assert parse_token_response(b'{"token": "t", "expires_in": NaN}') == ("t", 60.0)
    assert parse_token_response(b'{"token": "t", "expires_in": Infinity}') == ("t", 60.0)


def test_usable_lifetime_keeps_a_margin() -> None:
    assert usable_lifetime(300) == 290
    assert usable_lifetime(60) == 50
    assert usable_lifetime(8) == 4  # short-lived tokens: at most half the lifetime is given up


def test_token_cache_expires_by_the_injected_clock() -> None:
    now = [0.0]
    cache = TokenCache(lambda: now[0])
    key = ("https://r/t", "s", "repository:a:pull")
    cache.put(key, "tok", 60)
    now[0] = 49.9
    assert cache.get(key) == "tok"
    now[0] = 50.0
    assert cache.get(key) is None
    cache.put(key, "tok2", 60)
    cache.discard(key)
    assert cache.get(key) is None


def test_credentials_repr_hides_the_password() -> None:
    credentials = BasicCredentials("user", "hunter2")
    assert "hunter2" not in repr(credentials)
    assert credentials.header() == "Basic " + base64.b64encode(b"user:hunter2").decode()


# -- Retry-After and error bodies ---------------------------------------------------------------

NOW = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", 2.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("99999999999", 86400.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 -0000", 10.0),
        (None, None),
        ("", None),
        ("-1", None),
        ("1.5", None),
        ("²", None),
        ("soon", None),
        ("Wed, 99 Foo 2015", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"x"}]}', "MANIFEST_UNKNOWN"),
        (b'{"errors":[{"code":"' + b"A" * 100 + b'"}]}', "A" * 64),
        (b'{"errors":[{"code":"has space\\nnewline"}]}', None),
        (b'{"errors":[]}', None),
        (b'{"errors":"x"}', None),
        (b"[1]", None),
        (b"<html>proxy error</html>", None),
        (b"", None),
    ],
)
def test_registry_error_code(body: bytes, expected: str | None) -> None:
    assert registry_error_code(body) == expected


# -- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "repository",
    ["a", "library/ubuntu", "team-a/app_1", "a/b/c/d", "x__y", "x--y", "a.b/c-d", "0/1"],
)
def test_valid_repositories(repository: str) -> None:
    assert validate_repository(repository) == repository


@pytest.mark.parametrize("reference", ["v1", "latest", "1.2.3-rc_1", "_x", "sha256:" + "0" * 64])
def test_valid_references(reference: str) -> None:
    assert validate_reference(reference) == reference


@given(st.text(max_size=300))
def test_accepted_repositories_are_path_safe(candidate: str) -> None:
    try:
        validate_repository(candidate)
    except RegistryRejected:
        return
    assert ".." not in candidate.split("/")
    assert all(part and part[0].isalnum() and part.isascii() for part in candidate.split("/"))
    assert candidate == candidate.lower() and len(candidate) <= 255
    assert not set(candidate) & set("?#%:@ \t\r\n\\")


@given(st.text(max_size=200))
def test_accepted_references_are_path_safe(candidate: str) -> None:
    try:
        validate_reference(candidate)
    except RegistryRejected:
        return
    assert candidate.isascii() and "/" not in candidate
    assert not set(candidate) & set("?#%@ \t\r\n\\")


# -- dockerConfigJson ---------------------------------------------------------------------------


def _auth(user_password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(user_password.encode()).decode()}


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("registry.example:5000", "registry.example:5000"),
        ("https://registry.example:5000", "registry.example:5000"),
        ("https://Registry.Example/v1/", "registry.example"),
        ("http://registry.example/v2/", "registry.example"),
        ("HTTPS://registry.example", "registry.example"),
        ("  registry.example  ", "registry.example"),
    ],
)
def test_registry_key_host(key: str, host: str) -> None:
    assert registry_key_host(key) == host


@pytest.mark.parametrize(
    ("document", "hosts", "expected"),
    [
        ({"auths": {"r.example": _auth("u:p")}}, ["r.example"], ("u", "p")),
        ({"auths": {"https://r.example/v1/": _auth("u:p:q")}}, ["r.example"], ("u", "p:q")),
        ({"auths": {"r.example": {"username": "u", "password": "p"}}}, ["r.example"], ("u", "p")),
        ({"auths": {"r.example": {**_auth("a:b"), "username": "u"}}}, ["r.example"], ("a", "b")),
        ({"r.example": _auth("legacy:p")}, ["r.example"], ("legacy", "p")),
        ({"auths": {"r.example:5000": _auth("u:p")}}, ["r.example"], None),
        ({"auths": {"r.example": _auth("u:p")}}, ["r.example:5000"], None),
        ({"auths": {"r.example": {"identitytoken": "refresh"}}}, ["r.example"], None),
        ({"auths": {}}, ["r.example"], None),
        ({"auths": None, "r.example": _auth("u:p")}, ["r.example"], None),
        ({"credsStore": "desktop"}, ["r.example"], None),
        (
            {"auths": {"pull.example": _auth("pull:p"), "other": _auth("o:p")}},
            ["api.example", "pull.example"],
            ("pull", "p"),
        ),
        (
            {"auths": {"https://r.example/v1/": _auth("decorated:p"), "r.example": _auth("x:p")}},
            ["r.example"],
            ("x", "p"),
        ),
        (
            {"auths": {"https://index.docker.io/v1/": _auth("hub:p")}},
            ["registry-1.docker.io"],
            ("hub", "p"),
        ),
    ],
)
def test_credentials_for(
    document: dict[str, Any], hosts: list[str], expected: tuple[str, str] | None
) -> None:
    credentials = credentials_for(document, hosts)
    found = (credentials.username, credentials.password) if credentials else None
    assert found == expected


@pytest.mark.parametrize(
    "entry",
    [
        {"auth": "!!!not base64!!!"},
        {"auth": base64.b64encode(b"no-colon-secret").decode()},
        {"auth": base64.b64encode(b":empty-user").decode()},
        {"auth": base64.b64encode(b"\xff\xfe:x").decode()},
        "not an object",
    ],
)
def test_malformed_entry_is_a_config_error_without_its_contents(entry: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        credentials_for({"auths": {"r.example": entry}}, ["r.example"])
    assert "secret" not in str(caught.value)
    assert "r.example" in str(caught.value)


@pytest.mark.parametrize(
    "content", [b"{not json", b"[]", b"\xff\xfe", b'{"auths": {}}' + b" " * (1024 * 1024)]
)
def test_unreadable_docker_config_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        read_docker_config(str(path))
    assert str(path) in str(caught.value)


def test_missing_docker_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_credentials(str(tmp_path / "absent.json"), ["r.example"])
