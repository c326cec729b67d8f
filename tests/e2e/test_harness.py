"""The e2e harness itself: layouts are deterministic and valid, skopeo stays in its sandbox."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ._oci import (
    OCI_INDEX,
    OCI_MANIFEST,
    REF_NAME_ANNOTATION,
    build_multi_arch_layout,
    build_single_arch_layout,
)
from ._registry import DistributionRegistry, NotificationEndpoint, registry_config
from ._skopeo import Skopeo

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

SYSTEM_BLOB_INFO_CACHE = Path("/var/lib/containers/cache/blob-info-cache-v1.boltdb")


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_layouts_are_byte_for_byte_reproducible(tmp_path: Path) -> None:
    first = build_multi_arch_layout(tmp_path / "a")
    second = build_multi_arch_layout(tmp_path / "b")
    assert first.index.digest == second.index.digest
    assert _tree(first.path) == _tree(second.path)
    single_a = build_single_arch_layout(tmp_path / "c", layer_count=3)
    single_b = build_single_arch_layout(tmp_path / "d", layer_count=3)
    assert _tree(single_a.path) == _tree(single_b.path)


def test_every_blob_is_stored_under_its_digest(tmp_path: Path) -> None:
    layout = build_multi_arch_layout(tmp_path / "multi", layer_count=3)
    blobs = layout.path / "blobs" / "sha256"
    for path in blobs.iterdir():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    expected = {layout.index.digest} | {
        blob.digest
        for image in layout.images
        for blob in (image.manifest, image.config, *(layer.blob for layer in image.layers))
    }
    assert {"sha256:" + p.name for p in blobs.iterdir()} == expected


def test_multi_arch_index_json_points_at_a_tagged_nested_index(tmp_path: Path) -> None:
    layout = build_multi_arch_layout(tmp_path / "multi")
    top = json.loads((layout.path / "index.json").read_text())
    (descriptor,) = top["manifests"]
    assert descriptor["mediaType"] == OCI_INDEX
    assert descriptor["digest"] == layout.index.digest
    assert descriptor["annotations"] == {REF_NAME_ANNOTATION: "multi"}
    nested = json.loads(layout.index.data)
    platforms = [m["platform"] for m in nested["manifests"]]
    assert platforms == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    assert all(m["mediaType"] == OCI_MANIFEST for m in nested["manifests"])


def test_config_carries_nanoseconds_diff_ids_and_history(tmp_path: Path) -> None:
    layout = build_single_arch_layout(tmp_path / "single", layer_count=3)
    config = layout.image.config_document
    assert config["created"].endswith(".123456789Z")
    assert config["rootfs"]["diff_ids"] == [layer.diff_id for layer in layout.image.layers]
    assert len(config["history"]) == 3
    assert len({layer.blob.digest for layer in layout.image.layers}) == 3


def test_registry_config_has_the_endpoint_settings(tmp_path: Path) -> None:
    endpoint = NotificationEndpoint(
        url="http://127.0.0.1:1/webhooks/local",
        headers={"Authorization": ["Bearer x"]},
        ignore_blobs_pulls_mounts=True,
    )
    config = registry_config(tmp_path, 1111, 2222, endpoint)
    assert config["http"] == {"addr": "127.0.0.1:1111", "debug": {"addr": "127.0.0.1:2222"}}
    (settings,) = config["notifications"]["endpoints"]
    assert settings["timeout"] == "1s"
    assert settings["threshold"] == 3
    assert settings["backoff"] == "1s"
    assert settings["ignore"] == {
        "mediatypes": ["application/octet-stream"],
        "actions": ["pull", "mount"],
    }
    unfiltered = registry_config(tmp_path, 1111, 2222, NotificationEndpoint(url="http://x"))
    assert "ignore" not in unfiltered["notifications"]["endpoints"][0]


def _system_cache_exists() -> bool:
    return SYSTEM_BLOB_INFO_CACHE.exists()


async def test_skopeo_pushes_with_a_private_blob_info_cache(tmp_path: Path) -> None:
    system_cache_existed = _system_cache_exists()
    layout = build_single_arch_layout(tmp_path / "layout")
    skopeo = Skopeo(tmp_path / "skopeo")
    async with DistributionRegistry(tmp_path / "registry") as registry:
        result = await skopeo.push(
            layout.oci_reference, registry.host, "demo/single", "v1", debug=True
        )
        landed = await registry.get_manifest("demo/single", "v1")
    assert f"Using blob info cache at {skopeo.blob_info_cache}" in result.stderr
    assert skopeo.blob_info_cache.is_file()
    assert _system_cache_exists() == system_cache_existed
    # Pushed unchanged: the registry serves our exact manifest bytes.
    assert landed.body == layout.image.manifest.data
    assert landed.digest == layout.image.manifest.digest
