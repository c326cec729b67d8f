"""Offline checks of rendered objects, and the files a kubelet would mount for the pod."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import trustme
import yaml

from tests.chart._helm import Manifest, Rendered

# OpenShift 4.20 runs Kubernetes 1.33 (the helm binary comes with kubectl v1.33); the newest
# schema kubernetes-validate ships is checked too.
KUBERNETES_VERSIONS = ("1.33.0", kubernetes_validate.latest_version())

_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": _NAME, "labels": _STRING_MAP, "annotations": _STRING_MAP},
}
_DURATION = {
    "type": "string",
    "pattern": "^(0|"
    + "".join(f"(([0-9]+){unit})?" for unit in ("y", "w", "d", "h", "m", "s", "ms"))
    + ")$",
}

# route.openshift.io/v1 Route, from the OpenShift API types (openshift/api route/v1/types.go).
ROUTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "route.openshift.io/v1"},
        "kind": {"const": "Route"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "required": ["to"],
            "additionalProperties": False,
            "properties": {
                "host": {"type": "string", "maxLength": 253},
                "subdomain": {"type": "string"},
                "path": {"type": "string", "pattern": "^/"},
                "to": {
                    "type": "object",
                    "required": ["kind", "name"],
                    "additionalProperties": False,
                    "properties": {
                        "kind": {"enum": ["Service", ""]},
                        "name": _NAME,
                        "weight": {"type": "integer", "minimum": 0, "maximum": 256},
                    },
                },
                "alternateBackends": {"type": "array", "maxItems": 3},
                "port": {
                    "type": "object",
                    "required": ["targetPort"],
                    "additionalProperties": False,
                    "properties": {"targetPort": {"type": ["string", "integer"]}},
                },
                "tls": {
                    "type": "object",
                    "required": ["termination"],
                    "additionalProperties": False,
                    "properties": {
                        "termination": {"enum": ["edge", "reencrypt", "passthrough"]},
                        "certificate": {"type": "string"},
                        "key": {"type": "string"},
                        "caCertificate": {"type": "string"},
                        "destinationCACertificate": {"type": "string"},
                        "insecureEdgeTerminationPolicy": {
                            "enum": ["Allow", "None", "Redirect", ""]
                        },
                        "externalCertificate": {"type": "object"},
                    },
                },
                "wildcardPolicy": {"enum": ["None", "Subdomain"]},
                "httpHeaders": {"type": "object"},
            },
        },
    },
}

_SECRET_OR_CONFIGMAP_KEY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "configMap": {
            "type": "object",
            "required": ["name", "key"],
            "additionalProperties": False,
            "properties": {
                "name": _NAME,
                "key": {"type": "string"},
                "optional": {"type": "boolean"},
            },
        },
        "secret": {
            "type": "object",
            "required": ["name", "key"],
            "additionalProperties": False,
            "properties": {
                "name": _NAME,
                "key": {"type": "string"},
                "optional": {"type": "boolean"},
            },
        },
    },
}

# monitoring.coreos.com/v1 ServiceMonitor, from the prometheus-operator CRD (the fields we use
# and their neighbours; unknown ones are rejected).
SERVICE_MONITOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "namespaceSelector": {"type": "object"},
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "matchLabels": _STRING_MAP,
                        "matchExpressions": {"type": "array"},
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "targetPort": {"type": ["string", "integer"]},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": _DURATION,
                            "scrapeTimeout": _DURATION,
                            "honorLabels": {"type": "boolean"},
                            "relabelings": {"type": "array"},
                            "metricRelabelings": {"type": "array"},
                            "tlsConfig": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "ca": _SECRET_OR_CONFIGMAP_KEY,
                                    "cert": _SECRET_OR_CONFIGMAP_KEY,
                                    "keySecret": {"type": "object"},
                                    "serverName": {"type": "string"},
                                    "insecureSkipVerify": {"type": "boolean"},
                                    "caFile": {"type": "string"},
                                    "certFile": {"type": "string"},
                                    "keyFile": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}

OUT_OF_TREE_SCHEMAS = {"Route": ROUTE_SCHEMA, "ServiceMonitor": SERVICE_MONITOR_SCHEMA}


def validate_object(manifest: Manifest) -> None:
    """Raise if the object is not valid for its kind (Kubernetes schemas, or our own)."""
    schema = OUT_OF_TREE_SCHEMAS.get(manifest["kind"])
    if schema is not None:
        jsonschema.validate(manifest, schema)
        return
    # Round-trip through JSON so YAML-only types (e.g. octal modes) look as the API sees them.
    plain = json.loads(json.dumps(manifest))
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(plain, version, strict=True)


# -- the pod's files, as the kubelet would lay them out -------------------------------------------


class _Source:
    """Files of one volume source: known content, or an outside object whose keys we cannot see."""

    def __init__(self, files: dict[str, bytes], external: bool) -> None:
        self.files = files
        self.external = external


def _select(data: dict[str, bytes], items: list[Manifest] | None) -> dict[str, bytes]:
    if items is None:
        return data
    return {item["path"]: data[item["key"]] for item in items if item["key"] in data}


def _configmap_source(name: str, items: list[Manifest] | None, rendered: Rendered) -> _Source:
    maps = rendered.named("ConfigMap")
    if name not in maps:
        return _Source({}, external=True)
    data = {k: v.encode() for k, v in (maps[name].get("data") or {}).items()}
    return _Source(_select(data, items), external=False)


def _secret_source(name: str, items: list[Manifest] | None, rendered: Rendered) -> _Source:
    secrets = rendered.named("Secret")
    if name not in secrets:
        return _Source({}, external=True)
    data = {k: base64.b64decode(v) for k, v in (secrets[name].get("data") or {}).items()}
    return _Source(_select(data, items), external=False)


def _volume_sources(volume: Manifest, rendered: Rendered) -> list[_Source]:
    if "configMap" in volume:
        ref = volume["configMap"]
        return [_configmap_source(ref["name"], ref.get("items"), rendered)]
    if "secret" in volume:
        ref = volume["secret"]
        return [_secret_source(ref["secretName"], ref.get("items"), rendered)]
    if "projected" in volume:
        sources = []
        for source in volume["projected"]["sources"]:
            if "secret" in source:
                ref = source["secret"]
                sources.append(_secret_source(ref["name"], ref.get("items"), rendered))
            elif "configMap" in source:
                ref = source["configMap"]
                sources.append(_configmap_source(ref["name"], ref.get("items"), rendered))
            else:
                raise AssertionError(f"unexpected projected source {source}")
        return sources
    if "emptyDir" in volume:
        return []
    raise AssertionError(f"unexpected volume type in {volume}")


def _stand_in(path: Path, server: trustme.LeafCert) -> bytes:
    """Content for a file that comes from a Secret made outside the chart."""
    if path.name.endswith("dockerconfigjson"):
        return b'{"auths": {}}'
    if path.name == "tls.crt":
        return b"".join(pem.bytes() for pem in server.cert_chain_pems)
    if path.name == "tls.key":
        return server.private_key_pem.bytes()
    return f"stand-in for {path.name}".encode()


def _referenced_paths(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [p for value in node.values() for p in _referenced_paths(value)]
    if isinstance(node, list):
        return [p for value in node for p in _referenced_paths(value)]
    return [node] if isinstance(node, str) and node.startswith("/") else []


def _rebase(node: Any, mounts: list[str], root: Path) -> Any:
    if isinstance(node, dict):
        return {k: _rebase(v, mounts, root) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v, mounts, root) for v in node]
    if isinstance(node, str) and any(node.startswith(m + "/") for m in mounts):
        return str(root) + node
    return node


def materialise_pod_files(rendered: Rendered, root: Path) -> Path:
    """Lay out the container's mounts under ``root`` and return the config file path.

    Files from rendered ConfigMaps/Secrets get their real content; a path the config names that
    no rendered object provides must come from an outside Secret (existingSecret, pull secrets,
    the service-serving certificate), and gets stand-in content. Paths in the config are
    rewritten to point under ``root``.
    """
    volumes = {v["name"]: v for v in rendered.pod_spec["volumes"]}
    mounts: dict[str, list[_Source]] = {}
    for mount in rendered.container["volumeMounts"]:
        mount_path = mount["mountPath"]
        sources = _volume_sources(volumes[mount["name"]], rendered)
        mounts[mount_path] = sources
        target = root / mount_path.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        for source in sources:
            for relative, content in source.files.items():
                (target / relative).write_bytes(content)

    env = {e["name"]: e.get("value") for e in rendered.container.get("env", [])}
    config_path: str = env["STREAMHOOK_CONFIG"]
    config = yaml.safe_load((root / config_path.lstrip("/")).read_text())

    server = trustme.CA().issue_cert("streamhook.example")
    for referenced in _referenced_paths(config):
        owner = max((m for m in mounts if referenced.startswith(m + "/")), key=len, default=None)
        assert owner is not None, f"config names {referenced}, which no volume mount provides"
        local = root / referenced.lstrip("/")
        if local.exists():
            continue
        assert any(source.external for source in mounts[owner]), (
            f"config names {referenced}, but the objects mounted at {owner} do not provide it"
        )
        local.write_bytes(_stand_in(local, server))

    rebased = _rebase(config, list(mounts), root)
    local_config = root / config_path.lstrip("/")
    local_config.write_text(yaml.safe_dump(rebased, sort_keys=False))
    return local_config
