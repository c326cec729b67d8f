"""Helpers for the sender-format tests: deliveries, fuzzing strategies, output invariants."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from streamhook.digest import is_digest
from streamhook.events import Delivery, Ignored, ParsedNotification, Push
from streamhook.ingress._errors import MalformedPayload
from streamhook.reference import is_repository, is_tag

Parser = Callable[[Delivery], ParsedNotification]
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def delivery(
    body: bytes | dict[str, Any] | list[Any],
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> Delivery:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    proxy = CIMultiDictProxy(CIMultiDict(headers or {}))
    return Delivery(raw, content_type, proxy)


def parse_json(parser: Parser, body: Any, **kwargs: Any) -> ParsedNotification:
    return parser(delivery(body, **kwargs))


def pushes(parsed: ParsedNotification) -> list[tuple[str, str | None, str | None]]:
    return [(p.repository, p.tag, p.digest) for p in parsed.pushes]


def reasons(parsed: ParsedNotification) -> list[str]:
    return [i.reason for i in parsed.ignored]


def only(parsed: ParsedNotification) -> Push:
    assert parsed.ignored == ()
    assert len(parsed.pushes) == 1
    return parsed.pushes[0]


def ignored_only(parsed: ParsedNotification) -> Ignored:
    assert parsed.pushes == ()
    assert len(parsed.ignored) == 1
    return parsed.ignored[0]


# --- fuzzing -------------------------------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=24)
)


def json_values(keys: Sequence[str] = ()) -> st.SearchStrategy[Any]:
    """Arbitrary JSON; ``keys`` biases object keys towards a sender's vocabulary."""
    key = (st.text(max_size=12) | st.sampled_from(keys)) if keys else st.text(max_size=12)
    return st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(key, inner, max_size=5),
        max_leaves=24,
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


def mutations(document: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid document with one field (at any depth) replaced by arbitrary JSON."""

    def replace(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
        changed = copy.deepcopy(document)
        node: Any = changed
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
        return changed

    return st.builds(replace, st.sampled_from(_paths(document)), json_values())


def check_well_formed(parser: Parser, given: Delivery) -> ParsedNotification | None:
    """Parse; only MalformedPayload may escape, and every push must be fetchable."""
    try:
        parsed = parser(given)
    except MalformedPayload:
        return None
    assert isinstance(parsed, ParsedNotification)
    for push in parsed.pushes:
        assert is_repository(push.repository)
        assert push.tag is not None and is_tag(push.tag)
        assert push.digest is None or is_digest(push.digest)
    return parsed


def check_garbage(parser: Parser, given: Delivery) -> None:
    """Garbage is refused or ignored, never turned into work."""
    parsed = check_well_formed(parser, given)
    assert parsed is None or parsed.pushes == ()


def property_tests(
    parser: Parser,
    *,
    keys: Sequence[str],
    documents: Sequence[dict[str, Any]],
    content_types: Sequence[str | None] = ("application/json",),
    headers: dict[str, str] | None = None,
) -> tuple[Callable[..., None], Callable[..., None], Callable[..., None]]:
    """The three property tests every parser gets; assign them to ``test_*`` names.

    Arbitrary bytes and arbitrary JSON are refused or ignored, never work. Near-valid input
    (valid documents with one field replaced by arbitrary JSON, or JSON built from the
    sender's own keys) raises nothing but MalformedPayload and yields only fetchable pushes.
    """
    content_type = st.sampled_from(list(content_types))
    near_valid = st.sampled_from(list(documents)).flatmap(mutations) | json_values(keys)

    @settings(max_examples=100, deadline=None)
    @given(body=st.binary(max_size=2048), kind=content_type)
    def arbitrary_bytes(body: bytes, kind: str | None) -> None:
        check_garbage(parser, delivery(body, kind, headers))

    @settings(max_examples=100, deadline=None)
    @given(body=json_values(), kind=content_type)
    def arbitrary_json(body: Any, kind: str | None) -> None:
        check_garbage(parser, delivery(json.dumps(body).encode(), kind, headers))

    @settings(max_examples=250, deadline=None)
    @given(body=near_valid, kind=content_type)
    def near_valid_json(body: Any, kind: str | None) -> None:
        check_well_formed(parser, delivery(json.dumps(body).encode(), kind, headers))

    return arbitrary_bytes, arbitrary_json, near_valid_json
