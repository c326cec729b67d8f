"""Docker/OCI reference grammar: repository names, tags, and ``host/repo:tag@digest`` refs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from streamhook.digest import is_digest

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_HOST = re.compile(r"^(?:[a-zA-Z0-9.-]+|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$")
MAX_REPOSITORY_LENGTH = 255
# Where images land in OpenShift: a namespace is a DNS-1123 label; an ImageStream name a
# DNS-1123 subdomain-like path segment; a tag the Docker tag grammar.
_TARGET_NAMES = {
    "namespace": re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"),
    "imageStream": re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?"),
    "tag": _TAG,
}
_REGISTRY_HOST = re.compile(
    r"(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*|\[[0-9a-f:]+\])(?::[0-9]{1,5})?"
)


def is_repository(name: str | None) -> bool:
    return (
        isinstance(name, str)
        and 0 < len(name) <= MAX_REPOSITORY_LENGTH
        and _REPOSITORY.match(name) is not None
    )


def name_problem(field: str, value: str) -> str | None:
    """Why ``value`` is not a valid ``namespace`` / ``imageStream`` / ``tag``, or None."""
    if _TARGET_NAMES[field].fullmatch(value) is None:
        return f"{field} {value!r} is not a valid name"
    return None


def host_problem(value: str) -> str | None:
    """Why ``value`` is not a lower-case ``host[:port]`` as image references spell it."""
    if _REGISTRY_HOST.fullmatch(value) is None:
        return f"{value!r} must be host[:port] in lower case, without scheme or path"
    return None


def is_tag(tag: str | None) -> bool:
    return isinstance(tag, str) and _TAG.match(tag) is not None


@dataclass(frozen=True, slots=True)
class ImageRef:
    host: str
    repository: str
    tag: str | None
    digest: str | None


def parse_image_ref(value: str) -> ImageRef:
    """Parse ``host[:port]/repo[:tag][@sha256:…]``; the host is required. Raises ValueError."""
    name, _, digest = value.partition("@")
    if digest and not is_digest(digest):
        raise ValueError(f"{value!r}: digest must be sha256:<64 hex>")
    host, slash, rest = name.partition("/")
    if (
        not slash
        or not _HOST.match(host)
        or ("." not in host and ":" not in host and host != "localhost")
    ):
        raise ValueError(f"{value!r}: must start with a registry host, e.g. registry:5000/repo:tag")
    repository, tag = rest, None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        repository, _, tag = rest.rpartition(":")
        if not is_tag(tag):
            raise ValueError(f"{value!r}: invalid tag {tag!r}")
    if not is_repository(repository):
        raise ValueError(f"{value!r}: invalid repository {repository!r}")
    if tag is None and not digest:
        raise ValueError(f"{value!r}: give a tag or a digest")
    return ImageRef(host.lower(), repository, tag, digest or None)
