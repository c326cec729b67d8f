"""Repository and reference validation, done before any URL is built from them.

Names arrive from webhook payloads; a name that could change the request path (``..``,
``?``, ``%2f``, upper case, whitespace) is refused here so that only
``<registry url>/v2/<valid name>/…`` is ever requested.
"""

from __future__ import annotations

import re
from typing import TypeGuard

from streamhook.errors import RegistryRejected

MAX_REPOSITORY_LENGTH = 255
MAX_SHOWN_INPUT = 80
INVALID_REFERENCE = "invalid-reference"

# OCI distribution spec, "name" grammar.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*", re.ASCII)
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
# Stricter than digest.is_digest, whose ``$`` also accepts a trailing newline.
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")


def is_strict_digest(value: str | None) -> TypeGuard[str]:
    return value is not None and _DIGEST.fullmatch(value) is not None


def _shown(value: str) -> str:
    return repr(value[:MAX_SHOWN_INPUT])


def validate_repository(repository: str) -> str:
    if len(repository) > MAX_REPOSITORY_LENGTH or not _REPOSITORY.fullmatch(repository):
        raise RegistryRejected(
            f"invalid repository name {_shown(repository)}", reason=INVALID_REFERENCE
        )
    return repository


def validate_reference(reference: str) -> str:
    """A tag or a ``sha256:`` digest."""
    if is_strict_digest(reference) or _TAG.fullmatch(reference):
        return reference
    raise RegistryRejected(f"invalid tag or digest {_shown(reference)}", reason=INVALID_REFERENCE)


def validate_digest(digest: str) -> str:
    if not is_strict_digest(digest):
        raise RegistryRejected(f"invalid digest {_shown(digest)}", reason=INVALID_REFERENCE)
    return digest
