"""Manifest media types streamhook understands (docs/openshift-image-api.md §1.7)."""

from __future__ import annotations

DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SCHEMA1_LAYER = "application/vnd.docker.container.image.rootfs.diff+x-gtar"

SINGLE_IMAGE_TYPES = frozenset({DOCKER_SCHEMA2, OCI_MANIFEST})
LIST_TYPES = frozenset({DOCKER_LIST, OCI_INDEX})
SCHEMA1_TYPES = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})
MANIFEST_TYPES = SINGLE_IMAGE_TYPES | LIST_TYPES | SCHEMA1_TYPES
IMAGE_CONFIG_TYPES = frozenset({DOCKER_CONFIG, OCI_CONFIG})

# Sent on every manifest HEAD/GET, most preferred first.
ACCEPT_MANIFESTS = ", ".join(
    [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_SCHEMA2, DOCKER_SCHEMA1_SIGNED, DOCKER_SCHEMA1]
)


def normalize(content_type: str | None) -> str | None:
    """``Content-Type`` header value without parameters, lower-cased; None when empty."""
    if not content_type:
        return None
    value = content_type.split(";", 1)[0].strip().lower()
    return value or None
