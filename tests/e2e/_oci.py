"""Deterministic OCI image layouts built by hand (stdlib only), for skopeo to push.

Every byte is a pure function of the arguments: tar entries have mtime 0 and fixed owners,
gzip streams have mtime 0, JSON is serialised with fixed separators. The builders return
the blobs they wrote (bytes, digest, size, media type) so tests can derive expectations
from the very bytes that went into the layout.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}

# Nanosecond precision on purpose: OpenShift keeps whole seconds only.
DEFAULT_CREATED = "2024-05-14T09:21:33.123456789Z"
GZIP_LEVEL = 6


@dataclass(frozen=True)
class Blob:
    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


@dataclass(frozen=True)
class Platform:
    architecture: str
    os: str = "linux"
    variant: str | None = None

    def as_dict(self) -> dict[str, str]:
        platform = {"architecture": self.architecture, "os": self.os}
        if self.variant is not None:
            platform["variant"] = self.variant
        return platform


@dataclass(frozen=True)
class Layer:
    blob: Blob  # the compressed bytes that the manifest lists
    diff_id: str  # sha256 of the uncompressed tar


@dataclass(frozen=True)
class BuiltImage:
    platform: Platform
    manifest: Blob
    config: Blob
    layers: tuple[Layer, ...]

    @property
    def config_document(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.config.data)
        return document


@dataclass(frozen=True)
class SingleArchLayout:
    path: Path
    ref_name: str
    image: BuiltImage

    @property
    def oci_reference(self) -> str:
        return f"oci:{self.path}:{self.ref_name}"


@dataclass(frozen=True)
class MultiArchLayout:
    path: Path
    ref_name: str
    index: Blob  # the nested image index blob that index.json points at
    images: tuple[BuiltImage, ...]

    @property
    def oci_reference(self) -> str:
        return f"oci:{self.path}:{self.ref_name}"


def canonical_json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def layer_tar(name: str, content: bytes) -> bytes:
    """A one-file tar whose bytes depend only on ``name`` and ``content``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def build_layer(name: str, content: bytes) -> Layer:
    tar_bytes = layer_tar(name, content)
    compressed = gzip.compress(tar_bytes, compresslevel=GZIP_LEVEL, mtime=0)
    return Layer(
        blob=Blob(compressed, OCI_LAYER_GZIP),
        diff_id="sha256:" + hashlib.sha256(tar_bytes).hexdigest(),
    )


def image_config(
    platform: Platform, layers: tuple[Layer, ...], *, seed: str, created: str
) -> dict[str, Any]:
    """An image config with the fields OpenShift keeps and some it must drop."""
    config: dict[str, Any] = {
        "architecture": platform.architecture,
        "os": platform.os,
        "created": created,
        "author": f"streamhook e2e {seed}",
        "config": {
            "User": "1001",
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", f"E2E_SEED={seed}"],
            "Cmd": ["/bin/hello", "--seed", seed],
            "WorkingDir": "/app",
            "Labels": {"org.opencontainers.image.title": seed, "e2e.streamhook/seed": seed},
            "ExposedPorts": {"8080/tcp": {}},
            "StopSignal": "SIGTERM",  # not a DockerConfig key: OpenShift drops it
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [
            {"created": created, "created_by": f"e2e layer {i} of {seed}"}
            for i in range(len(layers))
        ],
    }
    if platform.variant is not None:
        config["variant"] = platform.variant
    return config


def build_image(
    platform: Platform,
    *,
    seed: str,
    layer_count: int = 1,
    repeat_first_layer: bool = False,
    created: str = DEFAULT_CREATED,
) -> BuiltImage:
    """One image; ``repeat_first_layer`` lists the first layer again on top (counted once)."""
    if layer_count < 1:
        raise ValueError("an image needs at least one layer")
    distinct = [
        build_layer(f"layer-{i}.txt", f"{seed} {platform.architecture} {i}\n".encode() * (i + 1))
        for i in range(layer_count)
    ]
    layers = tuple(distinct + distinct[:1] if repeat_first_layer else distinct)
    config = Blob(
        canonical_json(image_config(platform, layers, seed=seed, created=created)), OCI_CONFIG
    )
    manifest = Blob(
        canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": config.descriptor(),
                "layers": [layer.blob.descriptor() for layer in layers],
            }
        ),
        OCI_MANIFEST,
    )
    return BuiltImage(platform=platform, manifest=manifest, config=config, layers=layers)


def _write_blob(root: Path, blob: Blob) -> None:
    algorithm, hex_digest = blob.digest.split(":", 1)
    path = root / "blobs" / algorithm / hex_digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob.data)


def _write_image_blobs(root: Path, image: BuiltImage) -> None:
    for layer in image.layers:
        _write_blob(root, layer.blob)
    _write_blob(root, image.config)
    _write_blob(root, image.manifest)


def _write_layout(root: Path, top_descriptor: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_bytes(canonical_json(LAYOUT_VERSION))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [top_descriptor]}
    (root / "index.json").write_bytes(canonical_json(index))


AMD64 = Platform("amd64")


def build_single_arch_layout(
    root: Path,
    *,
    ref_name: str = "v1",
    seed: str = "single",
    layer_count: int = 1,
    repeat_first_layer: bool = False,
    platform: Platform = AMD64,
) -> SingleArchLayout:
    image = build_image(
        platform, seed=seed, layer_count=layer_count, repeat_first_layer=repeat_first_layer
    )
    _write_image_blobs(root, image)
    _write_layout(
        root,
        image.manifest.descriptor(
            platform=platform.as_dict(), annotations={REF_NAME_ANNOTATION: ref_name}
        ),
    )
    return SingleArchLayout(path=root, ref_name=ref_name, image=image)


MULTI_ARCH_PLATFORMS = (AMD64, Platform("arm64", variant="v8"))


def build_multi_arch_layout(
    root: Path,
    *,
    ref_name: str = "multi",
    seed: str = "multi",
    layer_count: int = 2,
    platforms: tuple[Platform, ...] = MULTI_ARCH_PLATFORMS,
) -> MultiArchLayout:
    """index.json → one nested OCI image index blob (tagged ``ref_name``) → one manifest each."""
    images = tuple(build_image(p, seed=seed, layer_count=layer_count) for p in platforms)
    for image in images:
        _write_image_blobs(root, image)
    index = Blob(
        canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    image.manifest.descriptor(platform=image.platform.as_dict()) for image in images
                ],
            }
        ),
        OCI_INDEX,
    )
    _write_blob(root, index)
    _write_layout(root, index.descriptor(annotations={REF_NAME_ANNOTATION: ref_name}))
    return MultiArchLayout(path=root, ref_name=ref_name, index=index, images=images)
