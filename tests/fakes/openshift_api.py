"""A faithful fake of the OpenShift image API, served over TLS with a bearer token.

No OpenShift API server can run here, so this implements what streamhook talks to, as
docs/openshift-image-api.md §1-§3 describes it (read from openshift-apiserver's source):

- ``POST /apis/image.openshift.io/v1/namespaces/{ns}/imagestreammappings`` — 3 MiB body
  limit (413), strict JSON types (400), namespace mismatch (400), missing namespace (404,
  ``details.kind: namespaces``), validation (422 Invalid with causes), missing stream (404,
  ``details.kind: imagestreammappings``), Image created if absent and never updated, tag
  history per ``AddTagEventToImageStream`` / ``UpdateTrackingTags``, ``201`` Status Success.
- ``POST/GET /apis/image.openshift.io/v1/images[/{name}]`` (409 AlreadyExists, 422).
- ``POST/GET /apis/image.openshift.io/v1/namespaces/{ns}/imagestreams[/{name}]``.
- ``POST /api/v1/namespaces/{ns}/events``.

Stored Images look like what the server returns: ``dockerImageMetadata`` decoded into the
``DockerImage`` struct and re-encoded (unknown keys dropped, ``Created`` at whole seconds,
``kind``/``apiVersion`` added, ``dockerImageMetadataVersion`` defaulted to ``1.0``); when a
``dockerImageManifest`` is sent the server-side derivation of §2 runs (layers, metadata,
``Size``, list ``dockerImageManifests``, ``manifestBlobStored`` stripping). Unknown fields in
typed bodies are dropped and reported in a ``Warning`` header, as ``fieldValidation=Warn``
(the default) does.

Tests drive it with ``inject`` (one-shot or repeated faults, including a request that hangs
until the fake closes), ``deny`` (RBAC), ``add_namespace``/``add_stream``, and assert on
``images``, ``streams``, ``requests``, ``events`` or ``await wait_for(predicate)``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hmac
import itertools
import json
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trustme
import yaml
from aiohttp import web

MAX_BODY_BYTES = 3 * 1024 * 1024  # generic apiserver MaxRequestBodyBytes
MAX_ANNOTATIONS_BYTES = 256 * 1024
NAME_TOTAL_LENGTH_MAX = 255
GROUP = "image.openshift.io"
IMAGE_API_VERSION = f"{GROUP}/v1"
DEFAULT_USER = "system:serviceaccount:streamhook:streamhook"
DEFAULT_WAIT_SECONDS = 10.0
NAMESPACE_MISMATCH = (
    "the namespace of the provided object does not match the namespace sent on the request"
)

MANAGED_ANNOTATION = "openshift.io/image.managed"
BLOB_STORED_ANNOTATION = "image.openshift.io/manifestBlobStored"
LAYERS_ORDER_ANNOTATION = "image.openshift.io/dockerLayersOrder"

DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SCHEMA1_LAYER = "application/vnd.docker.container.image.rootfs.diff+x-gtar"

Handler = Callable[["_Request"], Awaitable["_Answer"]]


# --------------------------------------------------------------------------- Status bodies


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details:
        body["details"] = details
    body["code"] = code
    return body


SUCCESS_201 = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Success",
    "code": 201,
}

_DEFAULT_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Gone",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> dict[str, Any]:
    details = (
        {"name": name, "group": group, "kind": resource}
        if group
        else {"name": name, "kind": resource}
    )
    return status_body(
        404, "NotFound", f'{_qualified(resource, group)} "{name}" not found', details
    )


def already_exists(resource: str, group: str, name: str) -> dict[str, Any]:
    return status_body(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        {"name": name, "group": group, "kind": resource},
    )


def bad_request(message: str) -> dict[str, Any]:
    return status_body(400, "BadRequest", message)


# --------------------------------------------------------------------------- field errors


_FIELD_ERROR_TYPES = {
    "Required": ("FieldValueRequired", "Required value"),
    "Invalid": ("FieldValueInvalid", "Invalid value"),
    "Forbidden": ("FieldValueForbidden", "Forbidden"),
    "TooLong": ("FieldValueTooLong", "Too long"),
}


@dataclass(frozen=True)
class FieldError:
    """``k8s.io/apimachinery/pkg/util/validation/field.Error``, rendered the same way."""

    path: str
    kind: str  # a key of _FIELD_ERROR_TYPES
    value: Any = None
    detail: str = ""

    def body(self) -> str:
        text = _FIELD_ERROR_TYPES[self.kind][1]
        if self.kind == "Invalid":
            text = f"{text}: {_go_value(self.value)}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    def cause(self) -> dict[str, str]:
        return {
            "reason": _FIELD_ERROR_TYPES[self.kind][0],
            "message": self.body(),
            "field": self.path,
        }

    def __str__(self) -> str:
        return f"{self.path}: {self.body()}"


def _go_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 80 else text[:77] + "..."


def invalid(kind: str, name: str, errors: list[FieldError], group: str = GROUP) -> dict[str, Any]:
    rendered = [str(e) for e in errors]
    summary = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    qualified = f"{kind}.{group}" if group else kind
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details.update(kind=kind, causes=[e.cause() for e in errors])
    return status_body(422, "Invalid", f'{qualified} "{name}" is invalid: {summary}', details)


# --------------------------------------------------------------------------- name rules

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_STREAM_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")


def path_segment_name(name: str) -> list[str]:
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def dns1123_label(value: str) -> list[str]:
    problems = []
    if len(value) > 63:
        problems.append("must be no more than 63 characters")
    if not _DNS1123_LABEL.fullmatch(value):
        problems.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
            "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
            "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        )
    return problems


def image_stream_name(name: str) -> list[str]:
    problems = path_segment_name(name)
    if problems:
        return problems
    if not _STREAM_NAME.fullmatch(name):
        return [f'must match "{_STREAM_NAME.pattern}"']
    return []


def qualified_name(key: str) -> list[str]:
    prefix, slash, name = key.rpartition("/")
    problems = []
    if slash and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix)):
        problems.append("prefix part must be a lowercase RFC 1123 subdomain")
    if not name or len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name):
        problems.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
            "and end with an alphanumeric character (at most 63 characters)"
        )
    return problems


def validate_object_meta(
    meta: dict[str, Any],
    *,
    requires_namespace: bool,
    name_rule: Callable[[str], list[str]],
    path: str,
) -> list[FieldError]:
    errors: list[FieldError] = []
    name = meta.get("name") or ""
    if not name and not meta.get("generateName"):
        errors.append(
            FieldError(f"{path}.name", "Required", detail="name or generateName is required")
        )
    if name:
        errors += [FieldError(f"{path}.name", "Invalid", name, msg) for msg in name_rule(name)]
    namespace = meta.get("namespace") or ""
    if requires_namespace:
        if not namespace:
            errors.append(FieldError(f"{path}.namespace", "Required"))
        else:
            errors += [
                FieldError(f"{path}.namespace", "Invalid", namespace, msg)
                for msg in dns1123_label(namespace)
            ]
    elif namespace:
        errors.append(
            FieldError(f"{path}.namespace", "Forbidden", detail="not allowed on this type")
        )
    for key, value in (meta.get("labels") or {}).items():
        errors += [FieldError(f"{path}.labels", "Invalid", key, msg) for msg in qualified_name(key)]
        if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            errors.append(
                FieldError(
                    f"{path}.labels",
                    "Invalid",
                    value,
                    "a valid label must be "
                    "an empty string or consist of alphanumeric characters, "
                    "'-', '_' or '.' (at most 63 characters)",
                )
            )
    annotations = meta.get("annotations") or {}
    total = 0
    for key, value in annotations.items():
        errors += [
            FieldError(f"{path}.annotations", "Invalid", key, msg)
            for msg in qualified_name(key.lower())
        ]
        total += len(key) + len(value)
    if total > MAX_ANNOTATIONS_BYTES:
        errors.append(
            FieldError(
                f"{path}.annotations",
                "TooLong",
                detail=f"must have at most {MAX_ANNOTATIONS_BYTES} bytes",
            )
        )
    return errors


# --------------------------------------------------------------------------- docker references

# distribution/reference grammar, rewritten without nested optional repetition so Python's
# backtracking engine stays linear (Go's RE2 needs no such care).
_ALNUM = r"[a-z0-9]+"
_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

# openshift-apiserver validation.go: the digest pattern is used unanchored (MatchString).
_MANIFEST_DIGEST = re.compile(
    r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"
)
_MEDIA_TYPE = re.compile(
    r"^ *([A-Za-z0-9][A-Za-z0-9!#$&^_-]{0,126})/([A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}) *$"
)


def parse_reference(spec: str) -> str | None:
    """library-go ``reference.Parse``: None when valid, else distribution's error text."""
    match = _REFERENCE.fullmatch(spec)
    if match is None:
        if spec == "":
            return "repository name must have at least one component"
        if _REFERENCE.fullmatch(spec.lower()):
            return "repository name must be lowercase"
        return "invalid reference format"
    if len(match.group(1)) > NAME_TOTAL_LENGTH_MAX:
        return f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
    digest = match.group(3)
    if digest:
        algorithm, _, encoded = digest.partition(":")
        length = _DIGEST_LENGTHS.get(algorithm)
        if length is None:
            return "unsupported digest algorithm"
        if len(encoded) != length:
            return "invalid checksum digest length"
        if not re.fullmatch(r"[a-f0-9]+", encoded):
            return "invalid checksum digest format"
    return None


def _repository_of(spec: str) -> str:
    match = _REFERENCE.fullmatch(spec)
    return match.group(1) if match else spec


# --------------------------------------------------------------------------- JSON decoding


class DecodeError(Exception):
    pass


# Schemas: "string" | "int64" | "bool" | "object" (anything JSON-object) | "time"
#          | {field: schema} (a struct) | [schema] (a slice) | ("map", schema) | "bytes"
_DOCKER_CONFIG: dict[str, Any] = {
    "Hostname": "string",
    "Domainname": "string",
    "User": "string",
    "Memory": "int64",
    "MemorySwap": "int64",
    "CpuShares": "int64",
    "Cpuset": "string",
    "AttachStdin": "bool",
    "AttachStdout": "bool",
    "AttachStderr": "bool",
    "PortSpecs": ["string"],
    "ExposedPorts": ("map", "object"),
    "Tty": "bool",
    "OpenStdin": "bool",
    "StdinOnce": "bool",
    "Env": ["string"],
    "Cmd": ["string"],
    "Dns": ["string"],
    "Image": "string",
    "Volumes": ("map", "object"),
    "VolumesFrom": "string",
    "WorkingDir": "string",
    "Entrypoint": ["string"],
    "NetworkDisabled": "bool",
    "SecurityOpts": ["string"],
    "OnBuild": ["string"],
    "Labels": ("map", "string"),
}
_DOCKER_IMAGE: dict[str, Any] = {
    "kind": "string",
    "apiVersion": "string",
    "Id": "string",
    "Parent": "string",
    "Comment": "string",
    "Created": "time",
    "Container": "string",
    "ContainerConfig": _DOCKER_CONFIG,
    "DockerVersion": "string",
    "Author": "string",
    "Config": _DOCKER_CONFIG,
    "Architecture": "string",
    "Size": "int64",
}
# Docker/OCI image config as the server parses it (Go encoding/json: keys match any case).
_IMAGE_CONFIG: dict[str, Any] = {
    "id": "string",
    "parent": "string",
    "comment": "string",
    "created": "time",
    "container": "string",
    "container_config": _DOCKER_CONFIG,
    "docker_version": "string",
    "author": "string",
    "config": _DOCKER_CONFIG,
    "architecture": "string",
    "size": "int64",
    "os": "string",
}
_OBJECT_META: dict[str, Any] = {
    "name": "string",
    "generateName": "string",
    "namespace": "string",
    "selfLink": "string",
    "uid": "string",
    "resourceVersion": "string",
    "generation": "int64",
    "creationTimestamp": "time",
    "deletionTimestamp": "time",
    "deletionGracePeriodSeconds": "int64",
    "labels": ("map", "string"),
    "annotations": ("map", "string"),
    "ownerReferences": ["object"],
    "finalizers": ["string"],
    "managedFields": ["object"],
}
_IMAGE_LAYER = {"name": "string", "size": "int64", "mediaType": "string"}
_IMAGE_MANIFEST = {
    "digest": "string",
    "mediaType": "string",
    "manifestSize": "int64",
    "architecture": "string",
    "os": "string",
    "variant": "string",
}
_SIGNATURE: dict[str, Any] = {
    "kind": "string",
    "apiVersion": "string",
    "metadata": _OBJECT_META,
    "type": "string",
    "content": "bytes",
    "conditions": ["object"],
    "imageIdentity": "string",
    "signedClaims": ("map", "string"),
    "created": "time",
    "issuedBy": "object",
    "issuedTo": "object",
}
_IMAGE: dict[str, Any] = {
    "kind": "string",
    "apiVersion": "string",
    "metadata": _OBJECT_META,
    "dockerImageReference": "string",
    "dockerImageMetadata": "object",
    "dockerImageMetadataVersion": "string",
    "dockerImageManifest": "string",
    "dockerImageLayers": [_IMAGE_LAYER],
    "signatures": [_SIGNATURE],
    "dockerImageSignatures": ["bytes"],
    "dockerImageManifestMediaType": "string",
    "dockerImageConfig": "string",
    "dockerImageManifests": [_IMAGE_MANIFEST],
}
_MAPPING: dict[str, Any] = {
    "kind": "string",
    "apiVersion": "string",
    "metadata": _OBJECT_META,
    "image": _IMAGE,
    "tag": "string",
}
_TAG_REFERENCE: dict[str, Any] = {
    "name": "string",
    "annotations": ("map", "string"),
    "from": {
        "kind": "string",
        "namespace": "string",
        "name": "string",
        "uid": "string",
        "apiVersion": "string",
        "resourceVersion": "string",
        "fieldPath": "string",
    },
    "reference": "bool",
    "generation": "int64",
    "importPolicy": "object",
    "referencePolicy": "object",
}
_IMAGE_STREAM: dict[str, Any] = {
    "kind": "string",
    "apiVersion": "string",
    "metadata": _OBJECT_META,
    "spec": {
        "lookupPolicy": {"local": "bool"},
        "dockerImageRepository": "string",
        "tags": [_TAG_REFERENCE],
    },
    "status": "object",
}
_EVENT: dict[str, Any] = {
    "kind": "string",
    "apiVersion": "string",
    "metadata": _OBJECT_META,
    "involvedObject": "object",
    "reason": "string",
    "message": "string",
    "source": "object",
    "firstTimestamp": "time",
    "lastTimestamp": "time",
    "count": "int64",
    "type": "string",
    "eventTime": "string",
    "series": "object",
    "action": "string",
    "related": "object",
    "reportingComponent": "string",
    "reportingInstance": "string",
}

_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str, where: str) -> str:
    """metav1.Time round trip: RFC 3339 in, UTC at whole seconds out."""
    match = _TIME.fullmatch(value)
    if not match:
        raise DecodeError(f'parsing time "{value}" as RFC3339 at {where}: cannot parse')
    offset = match.group(8).upper()
    text = f"{value[:19]}{'+00:00' if offset == 'Z' else offset}"
    try:
        moment = datetime.fromisoformat(text.replace("t", "T"))
    except ValueError:
        raise DecodeError(f'parsing time "{value}" at {where}: out of range') from None
    return format_time(moment)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _ci_lookup(obj: dict[str, Any], key: str) -> tuple[bool, Any]:
    if key in obj:
        return True, obj[key]
    for candidate, value in obj.items():
        if candidate.lower() == key.lower():
            return True, value
    return False, None


def decode(
    value: Any,
    schema: Any,
    where: str,
    warnings: list[str],
    *,
    case_insensitive: bool = False,
) -> Any:
    """Check JSON types like Go's decoder; drop nulls and unknown fields (noting them)."""
    if value is None:
        return None
    if schema == "object":
        if not isinstance(value, dict):
            raise DecodeError(f"cannot unmarshal {_json_kind(value)} into {where} of type object")
        return value
    if schema in ("string", "bytes"):
        if not isinstance(value, str):
            raise DecodeError(f"cannot unmarshal {_json_kind(value)} into {where} of type string")
        if schema == "bytes":
            try:
                base64.b64decode(value, validate=True)
            except ValueError:
                raise DecodeError(f"illegal base64 data at {where}") from None
        return value
    if schema == "time":
        if not isinstance(value, str):
            raise DecodeError(f"cannot unmarshal {_json_kind(value)} into {where} of type Time")
        return _parse_time(value, where)
    if schema == "int64":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DecodeError(f"cannot unmarshal {_json_kind(value)} into {where} of type int64")
        if isinstance(value, float) and not value.is_integer():
            raise DecodeError(f"cannot unmarshal number {value} into {where} of type int64")
        if not -(2**63) <= value < 2**63:
            raise DecodeError(f"cannot unmarshal number {value} into {where} of type int64")
        return int(value)
    if schema == "bool":
        if not isinstance(value, bool):
            raise DecodeError(f"cannot unmarshal {_json_kind(value)} into {where} of type bool")
        return value
    if isinstance(schema, list):
        if not isinstance(value, list):
            raise DecodeError(f"cannot unmarshal {_json_kind(value)} into {where} of type slice")
        items = (decode(v, schema[0], f"{where}[{i}]", warnings) for i, v in enumerate(value))
        return [item for item in items if item is not None]
    if isinstance(schema, tuple):
        if not isinstance(value, dict):
            raise DecodeError(f"cannot unmarshal {_json_kind(value)} into {where} of type map")
        decoded = {k: decode(v, schema[1], f"{where}[{k}]", warnings) for k, v in value.items()}
        return {k: v for k, v in decoded.items() if v is not None}
    if not isinstance(value, dict):
        raise DecodeError(f"cannot unmarshal {_json_kind(value)} into {where} of type struct")
    result: dict[str, Any] = {}
    if case_insensitive:
        for key, sub in schema.items():
            found, raw = _ci_lookup(value, key)
            if found:
                decoded = decode(raw, sub, f"{where}.{key}", warnings, case_insensitive=True)
                if decoded is not None:
                    result[key] = decoded
        return result
    json_path = where.partition(".")[2]  # drop the leading kind
    for key, raw in value.items():
        if key not in schema:
            warnings.append(f'unknown field "{json_path + "." if json_path else ""}{key}"')
            continue
        decoded = decode(raw, schema[key], f"{where}.{key}", warnings)
        if decoded is not None:
            result[key] = decoded
    return result


def _empty(value: Any) -> bool:
    return (
        value is None
        or value is False
        or value == ""
        or (isinstance(value, list | dict) and not value)
        or (isinstance(value, int) and not isinstance(value, bool) and value == 0)
    )


def encode_docker_config(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, schema in _DOCKER_CONFIG.items():
        value = config.get(key)
        if value is None or _empty(value):
            continue
        if schema == ("map", "object"):
            value = {k: {} for k in value}
        out[key] = value
    return out


def encode_docker_image(meta: dict[str, Any]) -> dict[str, Any]:
    """The DockerImage struct re-encoded for ``image.openshift.io/1.0`` (docs §1.3)."""
    out: dict[str, Any] = {"kind": "DockerImage", "apiVersion": "image.openshift.io/1.0"}
    out["Id"] = meta.get("Id") or ""
    for key in ("Parent", "Comment"):
        if meta.get(key):
            out[key] = meta[key]
    out["Created"] = meta.get("Created")
    if meta.get("Container"):
        out["Container"] = meta["Container"]
    out["ContainerConfig"] = encode_docker_config(meta.get("ContainerConfig") or {})
    for key in ("DockerVersion", "Author"):
        if meta.get(key):
            out[key] = meta[key]
    if meta.get("Config") is not None:
        out["Config"] = encode_docker_config(meta["Config"])
    if meta.get("Architecture"):
        out["Architecture"] = meta["Architecture"]
    if meta.get("Size"):
        out["Size"] = meta["Size"]
    return out


# --------------------------------------------------------------------------- image strategy


def validate_image(image: dict[str, Any], path: str) -> list[FieldError]:
    """``validateImage`` (openshift-apiserver validation.go)."""
    prefix = f"{path}." if path else ""
    errors = validate_object_meta(
        image.get("metadata") or {},
        requires_namespace=False,
        name_rule=path_segment_name,
        path=f"{prefix}metadata",
    )
    reference = image.get("dockerImageReference") or ""
    if not reference:
        errors.append(FieldError(f"{prefix}dockerImageReference", "Required"))
    else:
        problem = parse_reference(reference)
        if problem:
            errors.append(
                FieldError(f"{prefix}dockerImageReference", "Invalid", reference, problem)
            )
    for i, signature in enumerate(image.get("signatures") or []):
        errors += _validate_signature(signature, f"{prefix}signatures[{i}]")
    manifests = image.get("dockerImageManifests") or []
    for i, entry in enumerate(manifests):
        where = f"{prefix}dockerImageManifests[{i}]"
        digest = entry.get("digest") or ""
        if not _MANIFEST_DIGEST.search(digest):
            errors.append(
                FieldError(
                    f"{where}.digest",
                    "Invalid",
                    digest,
                    "digest does not conform with OCI image specification",
                )
            )
        media_type = entry.get("mediaType") or ""
        if not _MEDIA_TYPE.match(media_type):
            errors.append(
                FieldError(
                    f"{where}.mediaType",
                    "Invalid",
                    media_type,
                    "media type does not conform to RFC6838",
                )
            )
        if not entry.get("architecture"):
            errors.append(FieldError(f"{where}.architecture", "Required"))
        if not entry.get("os"):
            errors.append(FieldError(f"{where}.os", "Required"))
        if (entry.get("manifestSize") or 0) < 0:
            errors.append(
                FieldError(
                    f"{where}.size",
                    "Invalid",
                    entry["manifestSize"],
                    "manifest size cannot be negative",
                )
            )
    if manifests and image.get("dockerImageLayers"):
        errors.append(
            FieldError(
                f"{prefix}dockerImageLayers",
                "Invalid",
                image["dockerImageLayers"],
                "dockerImageLayers should not be set when dockerImageManifests is set",
            )
        )
    return errors


def _validate_signature(signature: dict[str, Any], path: str) -> list[FieldError]:
    meta = signature.get("metadata") or {}
    errors = validate_object_meta(
        meta, requires_namespace=False, name_rule=path_segment_name, path=f"{path}.metadata"
    )
    if meta.get("labels"):
        errors.append(
            FieldError(
                f"{path}.metadata.labels", "Forbidden", detail="signature labels cannot be set"
            )
        )
    if meta.get("annotations"):
        errors.append(
            FieldError(
                f"{path}.metadata.annotations",
                "Forbidden",
                detail="signature annotations cannot be set",
            )
        )
    name = meta.get("name") or ""
    image_name, at, signature_name = name.partition("@")
    if not at or not image_name or not signature_name or "@" in signature_name:
        errors.append(
            FieldError(
                f"{path}.metadata.name",
                "Invalid",
                name,
                "name must be of format <imageName>@<signatureName>",
            )
        )
    if not signature.get("type"):
        errors.append(FieldError(f"{path}.type", "Required"))
    if not signature.get("content"):
        errors.append(FieldError(f"{path}.content", "Required"))
    return errors


def _reorder_layers(image: dict[str, Any]) -> None:
    layers = image.get("dockerImageLayers") or []
    if not layers:
        return
    annotations = image.setdefault("metadata", {}).setdefault("annotations", {})
    order = annotations.get(LAYERS_ORDER_ANNOTATION)
    if order is None:
        media_type = image.get("dockerImageManifestMediaType") or ""
        if media_type in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED):
            order = "ascending"
        elif media_type in (DOCKER_SCHEMA2, OCI_MANIFEST):
            order = "descending"
        else:
            return
    if order == "descending":
        layers.reverse()
    annotations[LAYERS_ORDER_ANNOTATION] = "ascending"


def _fill_layers(image: dict[str, Any], manifest: dict[str, Any]) -> None:
    if image.get("dockerImageLayers"):
        return
    version = manifest.get("schemaVersion")
    if version == 1:
        history = manifest.get("history") or []
        fs_layers = manifest.get("fsLayers") or []
        if len(history) != len(fs_layers):
            raise DecodeError("mismatched history and fslayer cardinality")
        layers = []
        for entry, layer in zip(history, fs_layers, strict=True):
            try:
                size = int(json.loads(entry["v1Compatibility"]).get("Size") or 0)
            except (ValueError, TypeError, KeyError, AttributeError):
                size = 0
            layers.append({"name": layer["blobSum"], "size": size, "mediaType": SCHEMA1_LAYER})
        image["dockerImageLayers"] = list(reversed(layers))
    elif version == 2:
        image["dockerImageLayers"] = [
            {"name": d["digest"], "size": int(d["size"]), "mediaType": d["mediaType"]}
            for d in manifest.get("layers") or []
        ]
    else:
        raise DecodeError(f"unrecognized container image manifest schema {version}")
    annotations = image.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[LAYERS_ORDER_ANNOTATION] = "ascending"


def _metadata_from_config(config: dict[str, Any]) -> dict[str, Any]:
    """``Convert_DockerImageConfig_to_image_DockerImage`` (config parsed case-insensitively)."""
    parsed = decode(config, _IMAGE_CONFIG, "config", [], case_insensitive=True)
    return {
        "Id": parsed.get("id", ""),
        "Parent": parsed.get("parent"),
        "Comment": parsed.get("comment"),
        "Created": parsed.get("created"),
        "Container": parsed.get("container"),
        "ContainerConfig": parsed.get("container_config") or {},
        "DockerVersion": parsed.get("docker_version"),
        "Author": parsed.get("author"),
        "Config": parsed.get("config"),
        "Architecture": parsed.get("architecture"),
        "Size": parsed.get("size"),
    }


def image_with_metadata(image: dict[str, Any], now: str) -> None:
    """``InternalImageWithMetadata`` (docs §2.1); on error the image keeps what was done so far."""
    manifest_text = image.get("dockerImageManifest") or ""
    if not manifest_text:
        return
    _reorder_layers(image)
    meta = image.setdefault("dockerImageMetadata", {})
    if (
        image.get("dockerImageLayers")
        and (meta.get("Size") or 0) > 0
        and image.get("dockerImageManifestMediaType")
    ):
        return
    manifest = json.loads(manifest_text)
    if not isinstance(manifest, dict):
        raise DecodeError("manifest is not an object")
    if manifest.get("mediaType") in (DOCKER_LIST, OCI_INDEX):
        meta["Id"] = (image.get("metadata") or {}).get("name", "")
        meta["Created"] = now
        return
    _fill_layers(image, manifest)
    seen: set[str] = set()
    if manifest.get("schemaVersion") == 1:
        image["dockerImageManifestMediaType"] = DOCKER_SCHEMA1
        history = manifest.get("history") or []
        if not history:
            raise DecodeError("schema 1 manifest without history")
        computed = _metadata_from_config(json.loads(history[0]["v1Compatibility"]))
        computed["Size"] = 0
    else:  # schema 2 (anything else was refused by _fill_layers)
        if manifest.get("mediaType"):
            image["dockerImageManifestMediaType"] = manifest["mediaType"]
        elif not image.get("dockerImageManifestMediaType"):
            image["dockerImageManifestMediaType"] = DOCKER_SCHEMA2
        config_text = image.get("dockerImageConfig") or ""
        if not config_text:
            raise DecodeError("dockerImageConfig must not be empty")
        computed = _metadata_from_config(json.loads(config_text))
        computed["Id"] = (manifest.get("config") or {}).get("digest", "")
        computed["Size"] = len(config_text.encode())
        seen.add(computed["Id"])
    image["dockerImageMetadata"] = computed
    for layer in image.get("dockerImageLayers") or []:
        if layer["name"] in seen:
            continue
        seen.add(layer["name"])
        computed["Size"] += layer.get("size") or 0


def _manifests_from_list(image: dict[str, Any]) -> None:
    """Image strategy step 2: a list/index manifest replaces ``dockerImageManifests``."""
    if image.get("dockerImageManifestMediaType") not in (DOCKER_LIST, OCI_INDEX):
        return
    manifest = json.loads(image["dockerImageManifest"])
    entries = []
    for descriptor in manifest.get("manifests") or []:
        platform = descriptor.get("platform") or {}
        entry = {
            "digest": descriptor.get("digest", ""),
            "mediaType": descriptor.get("mediaType", ""),
            "manifestSize": int(descriptor.get("size") or 0),
            "architecture": platform.get("architecture", ""),
            "os": platform.get("os", ""),
        }
        if platform.get("variant"):
            entry["variant"] = platform["variant"]
        entries.append(entry)
    image["dockerImageManifests"] = entries


_COMPUTE_ERRORS = (DecodeError, ValueError, KeyError, TypeError, AttributeError, RecursionError)


def prepare_image(image: dict[str, Any], now: str) -> None:
    """``images`` strategy ``PrepareForCreate`` (docs §2.5); computation errors are ignored."""
    if image.get("dockerImageManifest"):
        # The real strategy only logs these errors and stores what it has.
        with contextlib.suppress(*_COMPUTE_ERRORS):
            image_with_metadata(image, now)
        with contextlib.suppress(*_COMPUTE_ERRORS):
            _manifests_from_list(image)
    annotations = (image.get("metadata") or {}).get("annotations") or {}
    if annotations.get(BLOB_STORED_ANNOTATION) == "true":
        image.pop("dockerImageManifest", None)
        image.pop("dockerImageConfig", None)


def stored_image(
    image: dict[str, Any], *, uid: str, resource_version: str, now: str
) -> dict[str, Any]:
    """The Image as GET would return it (v1 field order, omitempty)."""
    meta = image.get("metadata") or {}
    metadata: dict[str, Any] = {"name": meta.get("name", "")}
    metadata.update(uid=uid, resourceVersion=resource_version, creationTimestamp=now)
    for key in ("labels", "annotations"):
        if meta.get(key):
            metadata[key] = meta[key]
    out: dict[str, Any] = {"kind": "Image", "apiVersion": IMAGE_API_VERSION, "metadata": metadata}
    if image.get("dockerImageReference"):
        out["dockerImageReference"] = image["dockerImageReference"]
    out["dockerImageMetadata"] = encode_docker_image(image.get("dockerImageMetadata") or {})
    out["dockerImageMetadataVersion"] = image.get("dockerImageMetadataVersion") or "1.0"
    for key in (
        "dockerImageManifest",
        "dockerImageLayers",
        "signatures",
        "dockerImageSignatures",
        "dockerImageManifestMediaType",
        "dockerImageConfig",
        "dockerImageManifests",
    ):
        if image.get(key):
            out[key] = image[key]
    return out


# --------------------------------------------------------------------------- tag history


def add_tag_event(stream: dict[str, Any], tag: str, event: dict[str, Any]) -> bool:
    """``AddTagEventToImageStream``: True when status changed (docs §3.6)."""
    tags: list[dict[str, Any]] = stream.setdefault("status", {}).setdefault("tags", [])
    history = next((t for t in tags if t.get("tag") == tag), None)
    if history is None or not history.get("items"):
        if history is None:
            tags.append({"tag": tag, "items": [dict(event)]})
            tags.sort(key=lambda t: t["tag"])
        else:
            history["items"] = [dict(event)]
        return True
    previous = history["items"][0]
    same_ref = previous["dockerImageReference"] == event["dockerImageReference"]
    same_image = previous["image"] == event["image"]
    same_generation = previous["generation"] == event["generation"]
    if same_ref and same_image and same_generation:
        return False
    if same_ref and same_image:
        pass
    elif same_ref:
        previous["image"] = event["image"]
    elif same_image:
        previous["dockerImageReference"] = event["dockerImageReference"]
    else:
        history.pop("conditions", None)
        history["items"].insert(0, dict(event))
        return True
    previous["generation"] = event["generation"]
    history.pop("conditions", None)
    return True


def update_tracking_tags(stream: dict[str, Any], tag: str, event: dict[str, Any]) -> int:
    """``UpdateTrackingTags``: spec tags that follow ``tag`` of this stream get the event too."""
    meta = stream["metadata"]
    updated = 0
    for spec_tag in (stream.get("spec") or {}).get("tags") or []:
        source = spec_tag.get("from") or {}
        if source.get("kind") != "ImageStreamTag":
            continue
        if (source.get("namespace") or meta["namespace"]) != meta["namespace"]:
            continue
        name = source.get("name") or ""
        if ":" in name:
            stream_name, _, followed = name.partition(":")
            if not stream_name or not followed:
                continue
        else:
            stream_name, followed = meta["name"], name
        if stream_name != meta["name"] or followed != tag:
            continue
        if add_tag_event(stream, spec_tag.get("name", ""), event):
            updated += 1
    return updated


# --------------------------------------------------------------------------- the server


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON, or None
    status: int = 0
    warnings: list[str] = field(default_factory=list)
    received_at: float = field(default_factory=time.time)  # wall clock, for latency figures


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    remaining: int | None  # None: forever
    headers: dict[str, str]
    body: Any
    hang: bool
    hits: int = 0


@dataclass
class _Request:
    method: str
    path: str
    match: re.Match[str]
    body: Any
    record: RecordedRequest


@dataclass
class _Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class _TooLarge(Exception):
    pass


_NS = r"(?P<ns>[^/]+)"
_NAME_SEGMENT = r"(?P<name>[^/]+)"


class FakeOpenShiftAPI:
    """``async with FakeOpenShiftAPI(namespaces=["demo"]) as api:`` — see the module doc."""

    def __init__(
        self,
        *,
        namespaces: Iterable[str] = ("default",),
        token: str | None = None,
        internal_registry_hostname: str | None = None,
        user: str = DEFAULT_USER,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self.namespaces: set[str] = set(namespaces)
        self.internal_registry_hostname = internal_registry_hostname
        self.user = user
        self.images: dict[str, dict[str, Any]] = {}
        self.streams: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.requests: list[RecordedRequest] = []
        self.status_writes = 0  # ImageStream status updates done by ISMs
        self.url = ""
        self.ca_path = ""
        self._now = now
        self._faults: list[Fault] = []
        self._denied: set[tuple[str, str, str | None]] = set()
        self._counter = itertools.count(1)
        self._changed = asyncio.Condition()
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._workdir: str | None = None
        self._ca = trustme.CA()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            (
                "POST",
                re.compile(rf"/apis/{GROUP}/v1/namespaces/{_NS}/imagestreammappings"),
                self._post_mapping,
            ),
            ("POST", re.compile(rf"/apis/{GROUP}/v1/images"), self._post_image),
            ("GET", re.compile(rf"/apis/{GROUP}/v1/images/{_NAME_SEGMENT}"), self._get_image),
            (
                "POST",
                re.compile(rf"/apis/{GROUP}/v1/namespaces/{_NS}/imagestreams"),
                self._post_stream,
            ),
            (
                "GET",
                re.compile(rf"/apis/{GROUP}/v1/namespaces/{_NS}/imagestreams"),
                self._list_streams,
            ),
            (
                "GET",
                re.compile(rf"/apis/{GROUP}/v1/namespaces/{_NS}/imagestreams/{_NAME_SEGMENT}"),
                self._get_stream,
            ),
            ("POST", re.compile(rf"/api/v1/namespaces/{_NS}/events"), self._post_event),
        ]

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> FakeOpenShiftAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        self._workdir = tempfile.mkdtemp(prefix="fake-openshift-")
        ca_path = Path(self._workdir) / "ca.crt"
        self._ca.cert_pem.write_to_path(str(ca_path))
        self.ca_path = str(ca_path)
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1").configure_cert(server_context)

        app = web.Application(client_max_size=MAX_BODY_BYTES * 2)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, ssl_context=server_context).start()
        self.url = f"https://127.0.0.1:{port}"

    async def close(self) -> None:
        self._release.set()  # let hanging faults finish so shutdown does not wait on them
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def write_kubeconfig(
        self,
        path: str | Path,
        *,
        namespace: str = "default",
        token: str | None = None,
        context: str = "fake-openshift",
    ) -> Path:
        """A kubeconfig pointing at this fake (CA file + bearer token), mode 0600."""
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": context,
                    "cluster": {"server": self.url, "certificate-authority": self.ca_path},
                }
            ],
            "users": [{"name": context, "user": {"token": self.token if token is None else token}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": context, "user": context, "namespace": namespace},
                }
            ],
            "current-context": context,
        }
        target = Path(path)
        target.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        target.chmod(0o600)
        return target

    # ----------------------------------------------------------------- test controls

    def add_namespace(self, namespace: str) -> None:
        self.namespaces.add(namespace)

    def add_stream(
        self,
        namespace: str,
        name: str,
        *,
        generation: int = 1,
        spec_tags: list[dict[str, Any]] | None = None,
        status_tags: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Create an ImageStream directly (the namespace is added if needed)."""
        self.namespaces.add(namespace)
        stream = self._new_stream(namespace, name, generation=generation)
        if spec_tags:
            stream["spec"]["tags"] = copy.deepcopy(spec_tags)
        if status_tags:
            stream["status"]["tags"] = copy.deepcopy(status_tags)
        self.streams[(namespace, name)] = stream
        return stream

    def stream(self, namespace: str, name: str) -> dict[str, Any]:
        return self.streams[(namespace, name)]

    def tag_history(self, namespace: str, name: str, tag: str) -> list[dict[str, Any]]:
        for entry in self.streams[(namespace, name)]["status"].get("tags", []):
            if entry["tag"] == tag:
                return list(entry["items"])
        return []

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int,
        times: int | None = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
        *,
        hang: bool = False,
    ) -> Fault:
        """Answer the next ``times`` matching requests (after auth) with ``status``.

        ``body`` defaults to a Status for the code (with ``details.retryAfterSeconds`` when a
        ``Retry-After`` header is given); ``hang=True`` never answers until the fake closes.
        ``times=None`` repeats forever. The path regex is searched in the request path.
        """
        fault = Fault(
            method=method.upper(),
            pattern=re.compile(path_regex),
            status=status,
            remaining=times,
            headers=dict(headers or {}),
            body=body,
            hang=hang,
        )
        self._faults.append(fault)
        return fault

    def deny(self, verb: str, resource: str, namespace: str | None = None) -> None:
        """RBAC: ``verb`` on ``resource`` is forbidden (in ``namespace``, or everywhere)."""
        self._denied.add((verb, resource, namespace))

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = DEFAULT_WAIT_SECONDS,  # noqa: ASYNC109 - the agreed interface
    ) -> None:
        """Wait until ``predicate()`` holds; re-checked after every handled request."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                seen = [f"{r.method} {r.path} -> {r.status}" for r in self.requests[-10:]]
                raise AssertionError(
                    f"fake OpenShift API: condition not met within {timeout}s; "
                    f"last requests: {seen}"
                ) from None

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        return [r for r in self.requests if r.method == method.upper() and pattern.search(r.path)]

    # ----------------------------------------------------------------- plumbing

    def _next_version(self) -> str:
        return str(next(self._counter))

    def _stamp(self) -> str:
        return format_time(self._now())

    def _forbidden(
        self, verb: str, resource: str, group: str, namespace: str | None
    ) -> _Answer | None:
        if (verb, resource, None) not in self._denied and (
            verb,
            resource,
            namespace,
        ) not in self._denied:
            return None
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        api_group = f'in API group "{group}" ' if group else 'in API group "" '
        message = (
            f'{_qualified(resource, group)} is forbidden: User "{self.user}" cannot {verb} '
            f'resource "{resource}" {api_group}{where}'
        )
        return _Answer(
            403, status_body(403, "Forbidden", message, {"group": group, "kind": resource})
        )

    def _missing_namespace(self, namespace: str) -> _Answer | None:
        if namespace in self.namespaces:
            return None
        return _Answer(404, not_found("namespaces", "", namespace))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        record = RecordedRequest(request.method, request.path, dict(request.query), None)
        self.requests.append(record)
        answer: _Answer | None = None
        try:
            answer = await self._answer(request, record)
            record.status = answer.status
        finally:
            if answer is None:
                record.status = 500  # a bug in the fake: aiohttp logs it and answers 500
            async with self._changed:
                self._changed.notify_all()
        headers = dict(answer.headers)
        if record.warnings:
            headers["Warning"] = ", ".join(_warning_value(w) for w in record.warnings)
        if isinstance(answer.body, bytes | str):
            return web.Response(status=answer.status, body=answer.body, headers=headers)
        return web.json_response(answer.body, status=answer.status, headers=headers)

    async def _answer(self, request: web.Request, record: RecordedRequest) -> _Answer:
        if not self._authenticated(request):
            return _Answer(401, status_body(401, "Unauthorized", "Unauthorized"))
        fault = self._take_fault(request.method, request.path)
        if fault is not None:
            if fault.hang:
                await self._release.wait()
            return self._fault_answer(fault)
        route_found = False
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            route_found = True
            if method != request.method:
                continue
            body = None
            if method == "POST":
                parsed = await self._read_json(request, record)
                if isinstance(parsed, _Answer):
                    return parsed
                body = parsed
            return await handler(_Request(request.method, request.path, match, body, record))
        if route_found:
            return _Answer(
                405,
                status_body(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                ),
            )
        return _Answer(
            404,
            status_body(
                404,
                "NotFound",
                "the server could not find the requested resource",
                {
                    "causes": [
                        {"reason": "UnexpectedServerResponse", "message": "404 page not found"}
                    ]
                },
            ),
        )

    def _authenticated(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential:
            return False
        return hmac.compare_digest(credential.strip().encode(), self.token.encode())

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.method != method or not fault.pattern.search(path):
                continue
            if fault.remaining is not None:
                if fault.remaining <= 0:
                    continue
                fault.remaining -= 1
            fault.hits += 1
            return fault
        return None

    @staticmethod
    def _fault_answer(fault: Fault) -> _Answer:
        body = fault.body
        if body is None:
            details: dict[str, Any] = {}
            retry_after = fault.headers.get("Retry-After", "")
            if retry_after.isdigit():
                details["retryAfterSeconds"] = int(retry_after)
            reason = _DEFAULT_REASONS.get(fault.status, "InternalError")
            body = status_body(
                fault.status, reason, f"injected {fault.status} {reason}", details or None
            )
        return _Answer(fault.status, body, dict(fault.headers))

    async def _read_json(self, request: web.Request, record: RecordedRequest) -> Any:
        try:
            raw = await _read_limited(request)
        except _TooLarge:
            return _Answer(
                413,
                status_body(
                    413,
                    "RequestEntityTooLarge",
                    f"Request entity too large: limit is {MAX_BODY_BYTES}",
                ),
            )
        content_type = request.content_type
        if content_type != "application/json":
            return _Answer(
                415,
                status_body(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted "
                    f'media types include: application/json (got "{content_type}")',
                ),
            )
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            return _Answer(400, bad_request(f"couldn't get version/kind; json parse error: {exc}"))
        record.body = parsed
        if not isinstance(parsed, dict):
            return _Answer(
                400, bad_request("couldn't get version/kind; json parse error: not an object")
            )
        return parsed

    def _typed(
        self, req: _Request, schema: dict[str, Any], kind: str, api_version: str
    ) -> dict[str, Any] | _Answer:
        body = req.body
        sent_kind, sent_version = body.get("kind"), body.get("apiVersion")
        if sent_version not in (None, "") and sent_version != api_version:
            return _Answer(
                400,
                bad_request(
                    f"the API version in the data ({sent_version}) does not match the expected API "
                    f"version ({api_version})"
                ),
            )
        if sent_kind not in (None, "") and sent_kind != kind:
            return _Answer(
                400,
                bad_request(
                    f"the kind in the data ({sent_kind}) does not match the expected kind ({kind})"
                ),
            )
        try:
            decoded = decode(body, schema, kind, req.record.warnings)
        except (DecodeError, RecursionError) as exc:
            return _Answer(
                400,
                bad_request(
                    f'{kind} in version "{api_version.rpartition("/")[2]}" cannot be handled as a '
                    f"{kind}: json: {exc}"
                ),
            )
        typed: dict[str, Any] = decoded
        return typed

    # ----------------------------------------------------------------- images

    def _admit_image(
        self, image: dict[str, Any], *, strip_signatures: bool
    ) -> tuple[dict[str, Any] | None, _Answer | None]:
        """Run the images strategy + validation; returns (prepared image, or the 4xx answer)."""
        prepared = copy.deepcopy(image)
        if strip_signatures:
            prepared.pop("signatures", None)
        raw_meta = prepared.get("dockerImageMetadata")
        try:
            prepared["dockerImageMetadata"] = (
                decode(raw_meta, _DOCKER_IMAGE, "DockerImage", []) if raw_meta else {}
            )
        except DecodeError as exc:
            return None, _Answer(400, bad_request(f"dockerImageMetadata: json: {exc}"))
        prepare_image(prepared, self._stamp())
        name = (prepared.get("metadata") or {}).get("name", "")
        errors = validate_image(prepared, "")
        if errors:
            return None, _Answer(422, invalid("Image", name, errors))
        metadata = prepared.setdefault("metadata", {})
        if not name:  # validation allowed it, so generateName is set: the server names it
            metadata["name"] = f"{metadata.pop('generateName')}{secrets.token_hex(3)[:5]}"
        return prepared, None

    def _store_image(self, prepared: dict[str, Any]) -> dict[str, Any]:
        name = prepared["metadata"]["name"]
        stored = stored_image(
            prepared,
            uid=str(uuid.uuid4()),
            resource_version=self._next_version(),
            now=self._stamp(),
        )
        self.images[name] = stored
        return stored

    async def _post_image(self, req: _Request) -> _Answer:
        image = self._typed(req, _IMAGE, "Image", IMAGE_API_VERSION)
        if isinstance(image, _Answer):
            return image
        image.setdefault("metadata", {}).pop("namespace", None)  # cluster-scoped: cleared
        denied = self._forbidden("create", "images", GROUP, None)
        if denied:
            return denied
        prepared, rejection = self._admit_image(image, strip_signatures=False)
        if rejection:
            return rejection
        assert prepared is not None
        name = prepared["metadata"]["name"]
        if name in self.images:
            return _Answer(409, already_exists("images", GROUP, name))
        return _Answer(201, self._store_image(prepared))

    async def _get_image(self, req: _Request) -> _Answer:
        name = req.match["name"]
        denied = self._forbidden("get", "images", GROUP, None)
        if denied:
            return denied
        if name not in self.images:
            return _Answer(404, not_found("images", GROUP, name))
        return _Answer(200, self.images[name])

    # ----------------------------------------------------------------- image streams

    def _new_stream(self, namespace: str, name: str, *, generation: int = 1) -> dict[str, Any]:
        repository = (
            f"{self.internal_registry_hostname}/{namespace}/{name}"
            if self.internal_registry_hostname
            else ""
        )
        return {
            "kind": "ImageStream",
            "apiVersion": IMAGE_API_VERSION,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "resourceVersion": self._next_version(),
                "generation": generation,
                "creationTimestamp": self._stamp(),
            },
            "spec": {"lookupPolicy": {"local": False}},
            "status": {"dockerImageRepository": repository},
        }

    def _namespace_check(self, meta: dict[str, Any], namespace: str) -> _Answer | None:
        """The generic handler's namespace rule, then NamespaceLifecycle admission."""
        if meta.get("namespace") and meta["namespace"] != namespace:
            return _Answer(400, bad_request(NAMESPACE_MISMATCH))
        meta["namespace"] = namespace
        return self._missing_namespace(namespace)

    async def _post_stream(self, req: _Request) -> _Answer:
        namespace = req.match["ns"]
        body = self._typed(req, _IMAGE_STREAM, "ImageStream", IMAGE_API_VERSION)
        if isinstance(body, _Answer):
            return body
        meta = body.setdefault("metadata", {})
        refused = self._namespace_check(meta, namespace)
        if refused:
            return refused
        denied = self._forbidden("create", "imagestreams", GROUP, namespace)
        if denied:
            return denied
        errors = validate_object_meta(
            meta, requires_namespace=True, name_rule=image_stream_name, path="metadata"
        )
        name = meta.get("name", "")
        if len(f"{namespace}/{name}") > NAME_TOTAL_LENGTH_MAX:
            errors.append(
                FieldError(
                    "metadata.name",
                    "Invalid",
                    name,
                    f"'namespace/name' cannot be longer than {NAME_TOTAL_LENGTH_MAX} characters",
                )
            )
        if errors:
            return _Answer(422, invalid("ImageStream", name, errors))
        if (namespace, name) in self.streams:
            return _Answer(409, already_exists("imagestreams", GROUP, name))
        stream = self._new_stream(namespace, name)
        for key in ("labels", "annotations"):
            if meta.get(key):
                stream["metadata"][key] = meta[key]
        spec = body.get("spec") or {}
        if spec.get("tags"):
            stream["spec"]["tags"] = spec["tags"]
        if spec.get("dockerImageRepository"):
            stream["spec"]["dockerImageRepository"] = spec["dockerImageRepository"]
        self.streams[(namespace, name)] = stream
        return _Answer(201, stream)

    async def _get_stream(self, req: _Request) -> _Answer:
        namespace, name = req.match["ns"], req.match["name"]
        denied = self._forbidden("get", "imagestreams", GROUP, namespace)
        if denied:
            return denied
        stream = self.streams.get((namespace, name))
        if stream is None:
            return _Answer(404, not_found("imagestreams", GROUP, name))
        return _Answer(200, stream)

    async def _list_streams(self, req: _Request) -> _Answer:
        namespace = req.match["ns"]
        denied = self._forbidden("list", "imagestreams", GROUP, namespace)
        if denied:
            return denied
        items = [s for (ns, _), s in sorted(self.streams.items()) if ns == namespace]
        return _Answer(
            200,
            {
                "kind": "ImageStreamList",
                "apiVersion": IMAGE_API_VERSION,
                "metadata": {"resourceVersion": str(next(self._counter))},
                "items": items,
            },
        )

    # ----------------------------------------------------------------- image stream mappings

    async def _post_mapping(self, req: _Request) -> _Answer:
        namespace = req.match["ns"]
        mapping = self._typed(req, _MAPPING, "ImageStreamMapping", IMAGE_API_VERSION)
        if isinstance(mapping, _Answer):
            return mapping
        meta = mapping.setdefault("metadata", {})
        refused = self._namespace_check(meta, namespace)
        if refused:
            return refused
        denied = self._forbidden("create", "imagestreammappings", GROUP, namespace)
        if denied:
            return denied

        # ISM strategy PrepareForCreate
        stream_name = meta.get("name", "")
        image = mapping.setdefault("image", {})
        if not image.get("dockerImageReference") and self.internal_registry_hostname:
            image_name = (image.get("metadata") or {}).get("name", "")
            image["dockerImageReference"] = (
                f"{self.internal_registry_hostname}/{namespace}/{stream_name}@{image_name}"
            )
        image.pop("signatures", None)

        errors = validate_object_meta(
            meta, requires_namespace=True, name_rule=path_segment_name, path="metadata"
        )
        if not stream_name:
            errors += [
                FieldError("name", "Required"),
                FieldError("dockerImageRepository", "Required"),
            ]
        errors += [
            FieldError("metadata.namespace", "Invalid", namespace, ", ".join(problems))
            for problems in [dns1123_label(namespace)]
            if problems
        ]
        tag = mapping.get("tag", "")
        if not tag:
            errors.append(FieldError("tag", "Required"))
        errors += validate_image(image, "image")
        if errors:
            return _Answer(422, invalid("ImageStreamMapping", stream_name, errors))

        stream = self.streams.get((namespace, stream_name))
        if stream is None:
            return _Answer(404, not_found("imagestreammappings", GROUP, stream_name))

        prepared, rejection = self._admit_image(image, strip_signatures=True)
        if rejection:
            return rejection
        assert prepared is not None
        image_name = prepared["metadata"]["name"]
        existed = image_name in self.images
        if not existed:
            self._store_image(prepared)

        reference = image["dockerImageReference"]
        annotations = (image.get("metadata") or {}).get("annotations") or {}
        if existed and annotations.get(MANAGED_ANNOTATION) == "true":
            repository = stream["status"].get("dockerImageRepository") or (
                stream.get("spec") or {}
            ).get("dockerImageRepository")
            if repository and parse_reference(repository) is None:
                reference = f"{_repository_of(repository)}@{image_name}"

        event = {
            "created": self._stamp(),
            "dockerImageReference": reference,
            "image": image_name,
            "generation": stream["metadata"]["generation"],
        }
        if add_tag_event(stream, tag, event):
            update_tracking_tags(stream, tag, event)
            stream["metadata"]["resourceVersion"] = self._next_version()
            self.status_writes += 1
        return _Answer(201, dict(SUCCESS_201))

    # ----------------------------------------------------------------- events

    async def _post_event(self, req: _Request) -> _Answer:
        namespace = req.match["ns"]
        event = self._typed(req, _EVENT, "Event", "v1")
        if isinstance(event, _Answer):
            return event
        meta = event.setdefault("metadata", {})
        refused = self._namespace_check(meta, namespace)
        if refused:
            return refused
        denied = self._forbidden("create", "events", "", namespace)
        if denied:
            return denied
        errors = validate_object_meta(
            meta, requires_namespace=True, name_rule=path_segment_name, path="metadata"
        )
        involved = event.get("involvedObject") or {}
        involved_namespace = involved.get("namespace") or ""
        if involved_namespace != namespace and not (
            not involved_namespace and namespace == "default"
        ):
            errors.append(
                FieldError(
                    "involvedObject.namespace",
                    "Invalid",
                    involved_namespace,
                    "does not match event.namespace",
                )
            )
        if errors:
            return _Answer(422, invalid("Event", meta.get("name", ""), errors, group=""))
        if not meta.get("name"):
            meta["name"] = f"{meta['generateName']}{secrets.token_hex(3)[:5]}"
        meta.pop("generateName", None)
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = self._next_version()
        meta["creationTimestamp"] = self._stamp()
        stored = {
            "kind": "Event",
            "apiVersion": "v1",
            **{k: v for k, v in event.items() if k not in ("kind", "apiVersion")},
        }
        self.events.append(stored)
        return _Answer(201, stored)


def _warning_value(text: str) -> str:
    """RFC 7234 warning with the text as a quoted-string, as the apiserver sends it."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{quoted}"'


async def _read_limited(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------- example bodies
# docs/openshift-image-api.md §6, rebuilt from their parts (the manifests and config re-encode
# byte for byte: Docker's 3-space indented manifests, a compact config), so digests and sizes
# below are real: sha256 of the encoded manifest is the Image name.

EXAMPLE_REPOSITORY = "registry.example.com/team/app"
SCHEMA2_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_IMAGE_CONFIG = "application/vnd.docker.container.image.v1+json"
AMD64_DIGEST = "sha256:a71ea7eb59badc4fa0e57d16e2f1b780098450d33ac7e2c1f252f90483403eae"
AMD64_CONFIG_DIGEST = "sha256:60464f2cd731ab73a3ba313526b9d92e33394c84aabd1985e5770ffe5c000dc1"
ARM64_DIGEST = "sha256:db518d1a414ea790c25d61288df508c7cce235181b4b5124132caf3b66f77ddb"
ARM64_CONFIG_DIGEST = "sha256:3ffadac3a94695e5b5015e8e8d4952eb424b74acecb309d403605b3f079eab3f"
LIST_DIGEST = "sha256:8db8a31aecd49cba375d9dcbfcd2c2b0b833d64f791ca447716a7c5614645c30"

_AMD64_LAYERS = [
    ("sha256:cfb81efece38554513279d323ed30778660e7d819f12a90d69c79c4eec4cdb52", 29124661),
    ("sha256:a331d209b476967f40327b663dc74f8915dca2fadab841a1e54d0d1f60778b68", 48215602),
    ("sha256:a07b9e88a3591d31ce3a8ce4a39b24e0ff614817ae78d7b958074139ae42ab5e", 10432),
]
_ARM64_LAYERS = [
    ("sha256:a6a796da8e16b136104b344ad947fb5ae49c6782788c36080b027e6e9c1fce08", 28427101),
    ("sha256:c4a296eda3610e3315d38c91565e4e4bb49e626583a5fc6a8694e4cb3808cc90", 47302211),
    ("sha256:746afac0a5b48477a18b5a9e33eae333ec95d26f04e22fd4fd1902b4a2179a6d", 10432),
]
_EXAMPLE_CONTAINER_CONFIG = {
    "User": "1001",
    "ExposedPorts": {"8080/tcp": {}},
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP_HOME=/app"],
    "Cmd": ["python3", "app.py"],
    "WorkingDir": "/app",
    "Labels": {
        "org.opencontainers.image.source": "https://github.com/example/app",
        "org.opencontainers.image.version": "1.2.3",
    },
}


def example_manifest_text() -> str:
    """The 949-byte Docker schema2 manifest of the amd64 image."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_SCHEMA2,
        "config": {"mediaType": DOCKER_IMAGE_CONFIG, "size": 909, "digest": AMD64_CONFIG_DIGEST},
        "layers": [
            {"mediaType": SCHEMA2_LAYER, "size": size, "digest": digest}
            for digest, size in _AMD64_LAYERS
        ],
    }
    return json.dumps(manifest, indent=3)


def example_config_text() -> str:
    """The 909-byte image config of the amd64 image."""
    config = {
        "architecture": "amd64",
        "config": _EXAMPLE_CONTAINER_CONFIG,
        "created": "2024-05-14T09:21:33.123456789Z",
        "history": [
            {
                "created": "2024-05-01T00:00:00Z",
                "created_by": "/bin/sh -c #(nop) ADD file:abc in / ",
            },
            {
                "created": "2024-05-14T09:21:30.5Z",
                "created_by": "RUN pip install -r requirements.txt",
            },
            {"created": "2024-05-14T09:21:33.1Z", "created_by": "COPY . /app"},
        ],
        "os": "linux",
        "rootfs": {
            "type": "layers",
            "diff_ids": [
                "sha256:019742dd142d995e3794afde1375a8e6a3a7f274e434ff5500c054a671618f44",
                "sha256:16bad8f3c8b092ac423480ae75493d3c5eb7975bb055a5b80d43e1f697abf747",
                "sha256:e4b7d4bdef368bec66e21ab9cce4babc2b9ee807dd95858a918e7ca3a08770a9",
            ],
        },
    }
    return json.dumps(config, separators=(",", ":"))


def example_list_manifest_text() -> str:
    """The 770-byte Docker manifest list (amd64 + arm64/v8)."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_LIST,
        "manifests": [
            {
                "mediaType": DOCKER_SCHEMA2,
                "size": 949,
                "digest": AMD64_DIGEST,
                "platform": {"architecture": "amd64", "os": "linux"},
            },
            {
                "mediaType": DOCKER_SCHEMA2,
                "size": 949,
                "digest": ARM64_DIGEST,
                "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
            },
        ],
    }
    return json.dumps(manifest, indent=3)


def _layers(layers: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"name": digest, "size": size, "mediaType": SCHEMA2_LAYER} for digest, size in layers]


def _precomputed_image(
    digest: str, config_digest: str, architecture: str, size: int, layers: list[tuple[str, int]]
) -> dict[str, Any]:
    return {
        "metadata": {"name": digest, "annotations": {LAYERS_ORDER_ANNOTATION: "ascending"}},
        "dockerImageReference": f"{EXAMPLE_REPOSITORY}@{digest}",
        "dockerImageMetadata": {
            "kind": "DockerImage",
            "apiVersion": "image.openshift.io/1.0",
            "Id": config_digest,
            "Created": "2024-05-14T09:21:33Z",
            "ContainerConfig": {},
            "Config": copy.deepcopy(_EXAMPLE_CONTAINER_CONFIG),
            "Architecture": architecture,
            "Size": size,
        },
        "dockerImageMetadataVersion": "1.0",
        "dockerImageManifestMediaType": DOCKER_SCHEMA2,
        "dockerImageLayers": _layers(layers),
    }


def example_image_amd64() -> dict[str, Any]:
    """§6(a) variant 2: the single-arch Image, pre-computed as ``oc import-image`` stores it."""
    return _precomputed_image(AMD64_DIGEST, AMD64_CONFIG_DIGEST, "amd64", 77351604, _AMD64_LAYERS)


def example_child_image_arm64() -> dict[str, Any]:
    """§6(b) step 1: the arm64 child as a standalone ``{"kind":"Image",…}`` body."""
    body = _precomputed_image(ARM64_DIGEST, ARM64_CONFIG_DIGEST, "arm64", 75740668, _ARM64_LAYERS)
    return {"kind": "Image", "apiVersion": IMAGE_API_VERSION, **body}


def example_list_image() -> dict[str, Any]:
    """§6(b) step 2 alt, variant 2: the manifest-list Image with ``dockerImageManifests``."""
    return {
        "metadata": {"name": LIST_DIGEST},
        "dockerImageReference": f"{EXAMPLE_REPOSITORY}@{LIST_DIGEST}",
        "dockerImageMetadata": {
            "kind": "DockerImage",
            "apiVersion": "image.openshift.io/1.0",
            "Id": LIST_DIGEST,
            "Created": "2024-05-14T09:30:00Z",
            "ContainerConfig": {},
        },
        "dockerImageMetadataVersion": "1.0",
        "dockerImageManifestMediaType": DOCKER_LIST,
        "dockerImageManifests": [
            {
                "digest": AMD64_DIGEST,
                "mediaType": DOCKER_SCHEMA2,
                "manifestSize": 949,
                "architecture": "amd64",
                "os": "linux",
            },
            {
                "digest": ARM64_DIGEST,
                "mediaType": DOCKER_SCHEMA2,
                "manifestSize": 949,
                "architecture": "arm64",
                "os": "linux",
                "variant": "v8",
            },
        ],
    }


def example_server_computes_image() -> dict[str, Any]:
    """§6(a) variant 1: manifest + config + layers, no metadata; the server derives it."""
    return {
        "metadata": {"name": AMD64_DIGEST, "annotations": {LAYERS_ORDER_ANNOTATION: "ascending"}},
        "dockerImageReference": f"{EXAMPLE_REPOSITORY}@{AMD64_DIGEST}",
        "dockerImageManifestMediaType": DOCKER_SCHEMA2,
        "dockerImageManifest": example_manifest_text(),
        "dockerImageConfig": example_config_text(),
        "dockerImageLayers": _layers(_AMD64_LAYERS),
    }


def example_server_computes_list_image() -> dict[str, Any]:
    """§6(b) step 2, variant 1: only the list manifest; the server fills the rest."""
    return {
        "metadata": {"name": LIST_DIGEST},
        "dockerImageReference": f"{EXAMPLE_REPOSITORY}@{LIST_DIGEST}",
        "dockerImageManifestMediaType": DOCKER_LIST,
        "dockerImageManifest": example_list_manifest_text(),
    }


def example_mapping(
    image: dict[str, Any],
    *,
    namespace: str = "team-a",
    stream: str = "app",
    tag: str = "1.2.3",
) -> dict[str, Any]:
    """An ImageStreamMapping body around ``image`` (a deep copy), keys in §6 order."""
    return {
        "kind": "ImageStreamMapping",
        "apiVersion": IMAGE_API_VERSION,
        "metadata": {"name": stream, "namespace": namespace},
        "image": copy.deepcopy(image),
        "tag": tag,
    }
