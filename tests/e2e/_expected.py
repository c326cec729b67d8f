"""What OpenShift would store, computed in the test from the bytes the test generated.

Written from docs/openshift-image-api.md §1.3, §2.2-§2.4, §2.6 and §6 variant 2 (what
``oc import-image`` stores) without using streamhook's code, so the e2e assertions are an
independent second derivation.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ._oci import BuiltImage, Platform
from ._registry import Manifest

DOCKER_SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

LAYERS_ORDER_ANNOTATION = "image.openshift.io/dockerLayersOrder"
MANAGED_ANNOTATION = "openshift.io/image.managed"

# The keys of OpenShift's DockerConfig (docs §1.3); anything else in config.config is dropped.
DOCKER_CONFIG_KEYS = frozenset(
    {
        "Hostname", "Domainname", "User", "Memory", "MemorySwap", "CpuShares", "Cpuset",
        "AttachStdin", "AttachStdout", "AttachStderr", "PortSpecs", "ExposedPorts", "Tty",
        "OpenStdin", "StdinOnce", "Env", "Cmd", "Dns", "Image", "Volumes", "VolumesFrom",
        "WorkingDir", "Entrypoint", "NetworkDisabled", "SecurityOpts", "OnBuild", "Labels",
    }
)  # fmt: skip
# Optional string fields copied from the config when not empty (docs §2.2).
OPTIONAL_METADATA = {
    "Parent": "parent",
    "Comment": "comment",
    "Container": "container",
    "DockerVersion": "docker_version",
    "Author": "author",
}
# Every field an Image may carry (docs §1.1); anything else is a mistake.
IMAGE_FIELDS = frozenset(
    {
        "kind", "apiVersion", "metadata", "dockerImageReference", "dockerImageMetadata",
        "dockerImageMetadataVersion", "dockerImageManifest", "dockerImageLayers", "signatures",
        "dockerImageSignatures", "dockerImageManifestMediaType", "dockerImageConfig",
        "dockerImageManifests",
    }
)  # fmt: skip

_RFC3339 = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?(?P<zone>Z|[+-]\d{2}:\d{2})$"
)
WHOLE_SECONDS_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def whole_seconds_utc(timestamp: str) -> str:
    """RFC 3339 (any precision, any offset) → ``YYYY-MM-DDTHH:MM:SSZ``, sub-seconds dropped."""
    match = _RFC3339.match(timestamp)
    if match is None:
        raise ValueError(f"not RFC 3339: {timestamp!r}")
    zone = match["zone"]
    offset = timedelta(0)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    moment = datetime.strptime(match["base"], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone(offset))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def distinct_size(config_size: int, config_digest: str, layers: list[tuple[str, int]]) -> int:
    """Config bytes plus each distinct layer once; a layer equal to the config is not counted."""
    seen = {config_digest}
    total = config_size
    for digest, size in layers:
        if digest not in seen:
            seen.add(digest)
            total += size
    return total


def expected_docker_metadata(image: BuiltImage) -> dict[str, Any]:
    config = image.config_document
    metadata: dict[str, Any] = {
        "kind": "DockerImage",
        "apiVersion": "image.openshift.io/1.0",
        "Id": image.config.digest,
        "Created": whole_seconds_utc(config["created"]),
        "ContainerConfig": config.get("container_config") or {},
    }
    for key, source in OPTIONAL_METADATA.items():
        if config.get(source):
            metadata[key] = config[source]
    if "config" in config:
        metadata["Config"] = {k: v for k, v in config["config"].items() if k in DOCKER_CONFIG_KEYS}
    metadata["Architecture"] = config["architecture"]
    metadata["Size"] = distinct_size(
        image.config.size,
        image.config.digest,
        [(layer.blob.digest, layer.blob.size) for layer in image.layers],
    )
    return metadata


def expected_image(
    image: BuiltImage,
    *,
    digest: str,
    manifest_media_type: str,
    layer_media_type: str,
    pull_host: str,
    repository: str,
) -> dict[str, Any]:
    """The single-arch Image (docs §6(a) variant 2), without ``kind``/``apiVersion``."""
    return {
        "metadata": {"name": digest, "annotations": {LAYERS_ORDER_ANNOTATION: "ascending"}},
        "dockerImageReference": f"{pull_host}/{repository}@{digest}",
        "dockerImageMetadata": expected_docker_metadata(image),
        "dockerImageMetadataVersion": "1.0",
        "dockerImageManifestMediaType": manifest_media_type,
        "dockerImageLayers": [
            {"name": layer.blob.digest, "size": layer.blob.size, "mediaType": layer_media_type}
            for layer in image.layers
        ],
    }


def platform_entry(
    platform: Platform, *, digest: str, media_type: str, size: int
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "digest": digest,
        "mediaType": media_type,
        "manifestSize": size,
        "architecture": platform.architecture,
        "os": platform.os,
    }
    if platform.variant is not None:
        entry["variant"] = platform.variant
    return entry


def expected_list_image(
    *,
    digest: str,
    media_type: str,
    manifests: list[dict[str, Any]],
    pull_host: str,
    repository: str,
) -> dict[str, Any]:
    """The list Image (docs §6(b) variant 2) minus ``Created``, which is the import time."""
    return {
        "metadata": {"name": digest},
        "dockerImageReference": f"{pull_host}/{repository}@{digest}",
        "dockerImageMetadata": {
            "kind": "DockerImage",
            "apiVersion": "image.openshift.io/1.0",
            "Id": digest,
            "ContainerConfig": {},
        },
        "dockerImageMetadataVersion": "1.0",
        "dockerImageManifestMediaType": media_type,
        "dockerImageManifests": manifests,
    }


def comparable_image(
    sent: dict[str, Any],
    *,
    manifest: Manifest,
    config: bytes | None,
    mapped_between: tuple[datetime, datetime] | None = None,
) -> dict[str, Any]:
    """``sent`` reduced to what ``expected_*`` describe, after checking everything else.

    Optional raw fields must be the exact registry bytes if present; a list Image's
    ``Created`` must be whole seconds UTC within ``mapped_between`` (import time); empty
    optional lists are dropped; nothing outside the Image schema may appear and
    ``openshift.io/image.managed`` is never set.
    """
    unknown = set(sent) - IMAGE_FIELDS
    assert not unknown, f"fields outside the Image schema: {sorted(unknown)}"
    image = dict(sent)
    assert image.pop("kind", "Image") == "Image"
    assert image.pop("apiVersion", "image.openshift.io/v1") == "image.openshift.io/v1"
    if "dockerImageManifest" in image:
        assert image.pop("dockerImageManifest") == manifest.body.decode()
    if "dockerImageConfig" in image:
        assert config is not None, "a list Image carries no config"
        assert image.pop("dockerImageConfig") == config.decode()
    for optional in ("signatures", "dockerImageSignatures", "dockerImageLayers",
                     "dockerImageManifests"):  # fmt: skip
        if image.get(optional) in ([], None):
            image.pop(optional, None)
    annotations = (image.get("metadata") or {}).get("annotations") or {}
    assert MANAGED_ANNOTATION not in annotations
    if config is None:  # a list: Created is the import time, whole seconds UTC
        metadata = dict(image.get("dockerImageMetadata") or {})
        created = metadata.pop("Created", None)
        assert isinstance(created, str) and WHOLE_SECONDS_UTC.match(created), created
        if mapped_between is not None:
            moment = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            earliest, latest = mapped_between
            assert earliest.replace(microsecond=0) <= moment <= latest, (created, mapped_between)
        image["dockerImageMetadata"] = metadata
        if image.get("metadata", {}).get("annotations") == {}:
            image["metadata"] = {k: v for k, v in image["metadata"].items() if k != "annotations"}
    return image


def expected_mapping(namespace: str, stream: str, tag: str) -> dict[str, Any]:
    """The ImageStreamMapping envelope; ``image`` is compared separately."""
    return {
        "kind": "ImageStreamMapping",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": stream, "namespace": namespace},
        "tag": tag,
    }
