"""Credentials from a ``.dockerconfigjson`` file (a Kubernetes image pull secret).

Supported: ``{"auths": {KEY: ENTRY}}`` and the legacy ``.dockercfg`` form ``{KEY: ENTRY}``.
KEY is matched by registry ``host[:port]``; ``https://``/``http://`` prefixes and any path
(``/v1/``, ``/v2/``) are ignored, as Docker does. ENTRY gives ``auth`` (base64
``user:password``, preferred) or ``username``/``password``.

Not supported, and ignored: ``identitytoken`` (an OAuth refresh token, exchanged with a
POST to the realm — registries that need it also accept a password), ``registrytoken``,
``credsStore``/``credHelpers`` (helper programs do not exist in the pod).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from streamhook.errors import ConfigError
from streamhook.registry._auth import BasicCredentials

MAX_DOCKER_CONFIG_BYTES = 1024 * 1024
# Docker Hub is reached at registry-1.docker.io but its credentials are filed under these.
_HOST_ALIASES = {"registry-1.docker.io": ("index.docker.io", "docker.io")}


def registry_key_host(key: str) -> str:
    """``host[:port]`` of an ``auths`` key: scheme and path dropped, lower-cased."""
    host = key.strip()
    for scheme in ("https://", "http://"):
        if host.lower().startswith(scheme):
            host = host[len(scheme) :]
            break
    return host.split("/", 1)[0].lower()


def read_docker_config(path: str) -> Mapping[str, Any]:
    """The parsed file; a ConfigError (never showing contents) when it is unusable."""
    try:
        raw = Path(path).read_bytes()[: MAX_DOCKER_CONFIG_BYTES + 1]
    except OSError as exc:
        raise ConfigError([f"dockerConfigJson {path!r}: cannot read: {exc.strerror}"]) from None
    if len(raw) > MAX_DOCKER_CONFIG_BYTES:
        raise ConfigError([f"dockerConfigJson {path!r}: larger than {MAX_DOCKER_CONFIG_BYTES}"])
    try:
        document = json.loads(raw)
    except ValueError:
        raise ConfigError([f"dockerConfigJson {path!r}: not valid JSON"]) from None
    if not isinstance(document, dict):
        raise ConfigError([f"dockerConfigJson {path!r}: must be a JSON object"])
    return document


def _auth_entries(document: Mapping[str, Any]) -> Mapping[str, Any]:
    auths = document.get("auths")
    if isinstance(auths, dict):
        return auths
    if "auths" in document:
        return {}
    return document  # legacy .dockercfg: the entries are the top level


def _entry_credentials(key: str, entry: object) -> BasicCredentials | None:
    if not isinstance(entry, dict):
        raise ConfigError([f"dockerConfigJson auths[{key!r}]: must be an object"])
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ConfigError(
                [f"dockerConfigJson auths[{key!r}].auth: not base64 of user:password"]
            ) from None
        username, sep, password = decoded.partition(":")
        if not sep or not username:
            raise ConfigError([f"dockerConfigJson auths[{key!r}].auth: not user:password"])
        return BasicCredentials(username, password)
    plain_username, plain_password = entry.get("username"), entry.get("password")
    if isinstance(plain_username, str) and plain_username and isinstance(plain_password, str):
        return BasicCredentials(plain_username, plain_password)
    return None  # e.g. only an identitytoken: treated as anonymous


def credentials_for(document: Mapping[str, Any], hosts: Iterable[str]) -> BasicCredentials | None:
    """Credentials for the first of ``hosts`` (``host[:port]``) that the file has an entry for."""
    entries = _auth_entries(document)
    by_host: dict[str, str] = {}
    for key in entries:
        if isinstance(key, str):
            # An exact key ("host:5000") wins over a decorated one ("https://host:5000/v1/").
            host = registry_key_host(key)
            if host not in by_host or key.lower() == host:
                by_host[host] = key
    for wanted in hosts:
        for host in (wanted.lower(), *_HOST_ALIASES.get(wanted.lower(), ())):
            if host in by_host:
                key = by_host[host]
                return _entry_credentials(key, entries[key])
    return None


def load_credentials(path: str, hosts: Iterable[str]) -> BasicCredentials | None:
    return credentials_for(read_docker_config(path), hosts)
