"""The pure Image builder against docs/openshift-image-api.md §2 and the §6 examples.

Golden files under ``golden/`` are the §6 request bodies verbatim (plus a final newline):
``*-server-computes.json`` (variant 1) carry the exact manifest and config strings the other
tests rebuild their input bytes from; ``*-precomputed.json`` (variant 2) are what we must emit.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamhook import mediatypes
from streamhook.errors import ContentInvalid, StreamhookError, UnsupportedManifest
from streamhook.image import (
    LAYERS_ORDER_ANNOTATION,
    ChildManifest,
    ManifestInfo,
    build_image,
    build_list_image,
    image_object,
    image_stream_mapping,
    inspect_manifest,
)

GOLDEN = Path(__file__).parent / "golden"
REPO = "registry.example.com/team/app"
MANAGED_ANNOTATION = "openshift.io/image.managed"

AMD64_DIGEST = "sha256:a71ea7eb59badc4fa0e57d16e2f1b780098450d33ac7e2c1f252f90483403eae"
AMD64_CONFIG_DIGEST = "sha256:60464f2cd731ab73a3ba313526b9d92e33394c84aabd1985e5770ffe5c000dc1"
ARM64_DIGEST = "sha256:db518d1a414ea790c25d61288df508c7cce235181b4b5124132caf3b66f77ddb"
ARM64_CONFIG_DIGEST = "sha256:3ffadac3a94695e5b5015e8e8d4952eb424b74acecb309d403605b3f079eab3f"
LIST_DIGEST = "sha256:8db8a31aecd49cba375d9dcbfcd2c2b0b833d64f791ca447716a7c5614645c30"
LIST_CREATED = datetime(2024, 5, 14, 9, 30, 0, tzinfo=UTC)

# The arm64 child of §6(b): same manifest layout as amd64, other config and layers.
ARM64_SUBSTITUTIONS = {
    AMD64_CONFIG_DIGEST: ARM64_CONFIG_DIGEST,
    '"size": 909': '"size": 924',
    "sha256:cfb81efece38554513279d323ed30778660e7d819f12a90d69c79c4eec4cdb52": (
        "sha256:a6a796da8e16b136104b344ad947fb5ae49c6782788c36080b027e6e9c1fce08"
    ),
    "29124661": "28427101",
    "sha256:a331d209b476967f40327b663dc74f8915dca2fadab841a1e54d0d1f60778b68": (
        "sha256:c4a296eda3610e3315d38c91565e4e4bb49e626583a5fc6a8694e4cb3808cc90"
    ),
    "48215602": "47302211",
    "sha256:a07b9e88a3591d31ce3a8ce4a39b24e0ff614817ae78d7b958074139ae42ab5e": (
        "sha256:746afac0a5b48477a18b5a9e33eae333ec95d26f04e22fd4fd1902b4a2179a6d"
    ),
}

DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def golden_text(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8")


def golden(name: str) -> Any:
    return json.loads(golden_text(name))


def rendered(body: dict[str, Any]) -> str:
    return json.dumps(body, indent=2) + "\n"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def amd64_manifest() -> bytes:
    text: str = golden("ism-6a-server-computes.json")["image"]["dockerImageManifest"]
    return text.encode()


def amd64_config() -> bytes:
    text: str = golden("ism-6a-server-computes.json")["image"]["dockerImageConfig"]
    return text.encode()


def list_manifest() -> bytes:
    text: str = golden("ism-6b-list-server-computes.json")["image"]["dockerImageManifest"]
    return text.encode()


def arm64_manifest_text() -> str:
    text = amd64_manifest().decode()
    for old, new in ARM64_SUBSTITUTIONS.items():
        text = text.replace(old, new)
    return text


def layer_digest(name: str) -> str:
    return sha256(name.encode())


def descriptor(digest: str, size: int, media_type: str = DOCKER_LAYER) -> dict[str, Any]:
    return {"mediaType": media_type, "size": size, "digest": digest}


def image_manifest(
    config: bytes,
    layers: list[dict[str, Any]],
    *,
    media_type: str | None = mediatypes.DOCKER_SCHEMA2,
    config_type: str = mediatypes.DOCKER_CONFIG,
    **extra: Any,
) -> bytes:
    document: dict[str, Any] = {"schemaVersion": 2}
    if media_type is not None:
        document["mediaType"] = media_type
    document["config"] = descriptor(sha256(config), len(config), config_type)
    document["layers"] = layers
    document.update(extra)
    return json.dumps(document, indent=3).encode()


def config_bytes(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def build(
    manifest: bytes,
    config: bytes | None,
    content_type: str | None = mediatypes.DOCKER_SCHEMA2,
    *,
    digest: str | None = None,
) -> dict[str, Any]:
    return build_image(
        pull_repository=REPO,
        digest=digest or sha256(manifest),
        manifest=manifest,
        content_type=content_type,
        config=config,
    )


def build_from_config(document: Any) -> dict[str, Any]:
    config = config_bytes(document) if not isinstance(document, bytes) else document
    return build(image_manifest(config, [descriptor(layer_digest("a"), 10)]), config)


def metadata_of(config_document: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = build_from_config(config_document)["dockerImageMetadata"]
    return metadata


def index_manifest(entries: list[dict[str, Any]], media_type: str | None = None) -> bytes:
    document: dict[str, Any] = {"schemaVersion": 2}
    if media_type is not None:
        document["mediaType"] = media_type
    document["manifests"] = entries
    return json.dumps(document, indent=2).encode()


def index_entry(
    name: str,
    platform: dict[str, Any] | None,
    *,
    media_type: str = mediatypes.OCI_MANIFEST,
    size: int = 500,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"mediaType": media_type, "digest": layer_digest(name), "size": size}
    if platform is not None:
        entry["platform"] = platform
    if annotations is not None:
        entry["annotations"] = annotations
    return entry


def build_list(manifest: bytes, content_type: str | None = mediatypes.OCI_INDEX) -> dict[str, Any]:
    return build_list_image(
        pull_repository=REPO,
        digest=sha256(manifest),
        manifest=manifest,
        content_type=content_type,
        created=LIST_CREATED,
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def schema1_payload(fs_layers: list[str], history: list[str], **extra: Any) -> bytes:
    document = {
        "schemaVersion": 1,
        "name": "team/app",
        "tag": "1.0",
        "architecture": "amd64",
        "fsLayers": [{"blobSum": blob} for blob in fs_layers],
        "history": [{"v1Compatibility": entry} for entry in history],
        **extra,
    }
    return json.dumps(document, indent=3).encode()


def sign_schema1(payload: bytes) -> bytes:
    """A JWS-signed schema1 body whose signed payload is ``payload`` (the digest input)."""
    tail = b"\n}"
    assert payload.endswith(tail)
    format_length = len(payload) - len(tail)
    protected = {"formatLength": format_length, "formatTail": _b64url(tail), "time": "2016Z"}
    signature = {
        "header": {"jwk": {"crv": "P-256", "kty": "EC", "x": "AA", "y": "AA"}, "alg": "ES256"},
        "signature": _b64url(b"not-a-real-signature"),
        "protected": _b64url(json.dumps(protected).encode()),
    }
    signatures = b',\n   "signatures": ' + json.dumps([signature], indent=3).encode()
    return payload[:format_length] + signatures + tail


def v1_compat(layer_id: str, size: int | None = None, **fields: Any) -> str:
    document: dict[str, Any] = {"id": layer_id, **fields}
    if size is not None:
        document["size"] = size
    return json.dumps(document, separators=(",", ":"))


# ------------------------------------------------------------------------------------------
# §6: the documented examples, byte for byte
# ------------------------------------------------------------------------------------------


def test_section6_sample_bytes_match_the_documented_digests_and_sizes() -> None:
    assert (len(amd64_manifest()), sha256(amd64_manifest())) == (949, AMD64_DIGEST)
    assert (len(amd64_config()), sha256(amd64_config())) == (909, AMD64_CONFIG_DIGEST)
    assert (len(list_manifest()), sha256(list_manifest())) == (770, LIST_DIGEST)
    arm64 = arm64_manifest_text().encode()
    assert (len(arm64), sha256(arm64)) == (949, ARM64_DIGEST)


def test_6a_single_arch_schema2_is_the_precomputed_body_byte_for_byte() -> None:
    image = build(amd64_manifest(), amd64_config(), digest=AMD64_DIGEST)
    body = image_stream_mapping(namespace="team-a", image_stream="app", tag="1.2.3", image=image)
    assert rendered(body) == golden_text("ism-6a-precomputed.json")


def test_6a_agrees_with_what_the_server_computes_from_variant_1() -> None:
    server = golden("ism-6a-server-computes.json")["image"]
    image = build(amd64_manifest(), amd64_config())
    assert image["dockerImageLayers"] == server["dockerImageLayers"]
    assert image["metadata"]["annotations"] == server["metadata"]["annotations"]
    assert image["dockerImageManifestMediaType"] == server["dockerImageManifestMediaType"]
    assert "dockerImageManifest" not in image
    assert "dockerImageConfig" not in image
    assert image["dockerImageMetadata"]["Size"] == 909 + 29124661 + 48215602 + 10432 == 77351604


def test_6b_arm64_child_image_matches_the_golden_structure() -> None:
    # The doc gives the arm64 config only by digest and size (924 bytes). The amd64 config
    # with "arm64" and a variant is also 924 bytes and yields the documented metadata; only
    # its digest (so Id, and the manifest digest naming the Image) necessarily differs.
    config_text = amd64_config().decode().replace('"amd64"', '"arm64"')
    config = (config_text[:-1] + ',"variant":"v8"}').encode()
    assert len(config) == 924
    manifest = arm64_manifest_text().replace(ARM64_CONFIG_DIGEST, sha256(config)).encode()
    image = build(manifest, config)
    expected = (
        golden_text("image-6b-arm64-precomputed.json")
        .replace(ARM64_CONFIG_DIGEST, sha256(config))
        .replace(ARM64_DIGEST, sha256(manifest))
    )
    assert rendered(image_object(image)) == expected
    assert image["dockerImageMetadata"]["Size"] == 75740668


def test_6b_arm64_manifest_with_a_config_that_is_not_its_own_is_refused() -> None:
    with pytest.raises(ContentInvalid, match="do not match digest"):
        build(arm64_manifest_text().replace("924", "909").encode(), amd64_config())


def test_6b_list_is_the_precomputed_body_byte_for_byte() -> None:
    image = build_list_image(
        pull_repository=REPO,
        digest=LIST_DIGEST,
        manifest=list_manifest(),
        content_type=mediatypes.DOCKER_LIST,
        created=LIST_CREATED + timedelta(microseconds=999_999),
    )
    body = image_stream_mapping(namespace="team-a", image_stream="app", tag="1.2.3", image=image)
    assert rendered(body) == golden_text("ism-6b-list-precomputed.json")


def test_6b_list_children_are_the_platform_images() -> None:
    info = inspect_manifest(list_manifest(), mediatypes.DOCKER_LIST)
    assert info == ManifestInfo(
        kind="list",
        media_type=mediatypes.DOCKER_LIST,
        config_digest=None,
        config_size=None,
        children=(
            ChildManifest(AMD64_DIGEST, mediatypes.DOCKER_SCHEMA2, 949, "amd64", "linux", None),
            ChildManifest(ARM64_DIGEST, mediatypes.DOCKER_SCHEMA2, 949, "arm64", "linux", "v8"),
        ),
    )


def test_inspect_single_image() -> None:
    assert inspect_manifest(amd64_manifest(), mediatypes.DOCKER_SCHEMA2) == ManifestInfo(
        "image", mediatypes.DOCKER_SCHEMA2, AMD64_CONFIG_DIGEST, 909, ()
    )


def test_request_envelopes() -> None:
    image = {"metadata": {"name": AMD64_DIGEST}, "dockerImageReference": f"{REPO}@x"}
    assert list(image_object(image)) == ["kind", "apiVersion", "metadata", "dockerImageReference"]
    assert image_object(image)["kind"] == "Image"
    assert image_object(image)["apiVersion"] == "image.openshift.io/v1"
    assert image_stream_mapping(namespace="ns", image_stream="s", tag="t", image=image) == {
        "kind": "ImageStreamMapping",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": "s", "namespace": "ns"},
        "image": image,
        "tag": "t",
    }


# ------------------------------------------------------------------------------------------
# Size and layers (§2.4)
# ------------------------------------------------------------------------------------------


def test_duplicate_layers_are_listed_twice_but_counted_once() -> None:
    config = config_bytes({"architecture": "amd64"})
    a, b = layer_digest("a"), layer_digest("b")
    layers = [descriptor(a, 100), descriptor(b, 20), descriptor(a, 100)]
    image = build(image_manifest(config, layers), config)
    assert [layer["name"] for layer in image["dockerImageLayers"]] == [a, b, a]
    assert image["dockerImageMetadata"]["Size"] == len(config) + 120


def test_a_layer_that_is_the_config_blob_is_not_counted_again() -> None:
    config = config_bytes({"architecture": "amd64"})
    layers = [descriptor(sha256(config), len(config)), descriptor(layer_digest("a"), 7)]
    image = build(image_manifest(config, layers), config)
    assert image["dockerImageLayers"][0]["name"] == sha256(config)
    assert image["dockerImageMetadata"]["Size"] == len(config) + 7


def test_layers_keep_manifest_order_and_media_types_with_ascending_annotation() -> None:
    config = config_bytes({})
    layers = [
        descriptor(layer_digest("base"), 3, OCI_LAYER),
        descriptor(layer_digest("mid"), 2, "application/vnd.oci.image.layer.v1.tar+zstd"),
        descriptor(layer_digest("top"), 1, "application/vnd.oci.image.layer.v1.tar"),
    ]
    manifest = image_manifest(
        config, layers, media_type=mediatypes.OCI_MANIFEST, config_type=mediatypes.OCI_CONFIG
    )
    image = build(manifest, config, mediatypes.OCI_MANIFEST)
    assert image["dockerImageLayers"] == [
        {"name": layer["digest"], "size": layer["size"], "mediaType": layer["mediaType"]}
        for layer in layers
    ]
    assert image["metadata"]["annotations"] == {LAYERS_ORDER_ANNOTATION: "ascending"}
    assert image["dockerImageManifestMediaType"] == mediatypes.OCI_MANIFEST


def test_image_without_layers() -> None:
    config = config_bytes({"architecture": "amd64"})
    image = build(image_manifest(config, []), config)
    assert image["dockerImageLayers"] == []
    assert image["dockerImageMetadata"]["Size"] == len(config)


def test_sizes_that_overflow_int64_together_are_refused() -> None:
    config = config_bytes({})
    big = 2**62
    layers = [descriptor(layer_digest("a"), big), descriptor(layer_digest("b"), big)]
    with pytest.raises(ContentInvalid, match="int64"):
        build(image_manifest(config, layers), config)


# ------------------------------------------------------------------------------------------
# dockerImageMetadata from the config (§1.3, §2.2)
# ------------------------------------------------------------------------------------------

EVERY_DOCKER_CONFIG_KEY_EXPECTED = {
    "Hostname": "host",
    "Domainname": "example.com",
    "User": "1001:0",
    "Memory": 1024,
    "MemorySwap": -1,
    "CpuShares": 512,
    "Cpuset": "0-1",
    "AttachStdin": True,
    "AttachStdout": True,
    "AttachStderr": True,
    "PortSpecs": ["80"],
    "ExposedPorts": {"443/tcp": {}, "8080/tcp": {}},
    "Tty": True,
    "OpenStdin": True,
    "StdinOnce": True,
    "Env": ["A=1", "B=2"],
    "Cmd": ["run", ""],
    "Dns": ["1.1.1.1"],
    "Image": "sha256:abc",
    "Volumes": {"/data": {}, "/logs": {}},
    "VolumesFrom": "other",
    "WorkingDir": "/app",
    "Entrypoint": ["/bin/sh", "-c"],
    "NetworkDisabled": True,
    "SecurityOpts": ["label=disable"],
    "OnBuild": ["RUN true"],
    "Labels": {"a": "1", "b": "", "z": "26"},
}


def test_every_docker_config_key_in_go_order_and_unknown_keys_dropped() -> None:
    scrambled = dict(reversed(list(EVERY_DOCKER_CONFIG_KEY_EXPECTED.items())))
    scrambled["ExposedPorts"] = {"8080/tcp": {}, "443/tcp": {"ignored": 1}}
    scrambled["Volumes"] = {"/logs": {}, "/data": None}
    scrambled["Labels"] = {"z": "26", "b": None, "a": "1"}
    unknown = {
        "StopSignal": "SIGTERM",
        "Healthcheck": {"Test": ["CMD", "true"], "Interval": 30},
        "ArgsEscaped": True,
        "Shell": ["/bin/bash", "-c"],
        "MacAddress": "aa:bb",
        "StopTimeout": 10,
    }
    container_config = {"Hostname": "builder", "Cmd": ["/bin/sh", "-c", "#(nop)"], "Tty": False}
    metadata = metadata_of(
        {
            "architecture": "amd64",
            "config": {**scrambled, **unknown},
            "container_config": {**container_config, **unknown},
            "created": "2024-05-14T09:21:33Z",
            "os": "linux",
            "variant": "v8",
            "rootfs": {"type": "layers", "diff_ids": []},
            "history": [{"created_by": "x"}],
        }
    )
    # Compared as JSON text: key order matters, at every level (Go sorts map keys).
    assert json.dumps(metadata["Config"]) == json.dumps(EVERY_DOCKER_CONFIG_KEY_EXPECTED)
    assert metadata["ContainerConfig"] == {
        "Hostname": "builder",
        "Cmd": ["/bin/sh", "-c", "#(nop)"],
    }
    assert list(metadata) == [
        "kind",
        "apiVersion",
        "Id",
        "Created",
        "ContainerConfig",
        "Config",
        "Architecture",
        "Size",
    ]


def test_all_docker_image_fields_in_go_struct_order() -> None:
    metadata = metadata_of(
        {
            "size": 123456,
            "architecture": "s390x",
            "config": {"User": "0"},
            "author": "Jane <jane@example.com>",
            "docker_version": "24.0.7",
            "container_config": {"User": "1"},
            "container": "c0ffee",
            "created": "2020-01-02T03:04:05Z",
            "comment": "buildkit.dockerfile.v0",
            "parent": "sha256:parent",
            "id": "ignored-for-schema2",
        }
    )
    assert list(metadata.items())[2:-1] == [
        ("Id", metadata["Id"]),
        ("Parent", "sha256:parent"),
        ("Comment", "buildkit.dockerfile.v0"),
        ("Created", "2020-01-02T03:04:05Z"),
        ("Container", "c0ffee"),
        ("ContainerConfig", {"User": "1"}),
        ("DockerVersion", "24.0.7"),
        ("Author", "Jane <jane@example.com>"),
        ("Config", {"User": "0"}),
        ("Architecture", "s390x"),
    ]
    assert metadata["Id"].startswith("sha256:")
    assert metadata["Size"] != 123456  # config "size" is replaced by the computed size


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, {}),
        ({"config": None}, {}),
        ({"config": {}}, {"Config": {}}),
        ({"config": {"StopSignal": "SIGTERM"}}, {"Config": {}}),
        (
            {
                "config": {
                    "User": "",
                    "Memory": 0,
                    "Tty": False,
                    "Env": [],
                    "Cmd": None,
                    "Labels": {},
                    "ExposedPorts": {},
                    "Volumes": None,
                }
            },
            {"Config": {}},
        ),
    ],
)
def test_config_is_a_pointer_and_its_empty_values_are_omitted(
    config: dict[str, Any], expected: dict[str, Any]
) -> None:
    metadata = metadata_of(config)
    assert {key: value for key, value in metadata.items() if key == "Config"} == expected
    assert metadata["ContainerConfig"] == {}
    assert "Architecture" not in metadata
    assert metadata["Created"] is None


def test_empty_strings_are_omitted_but_id_and_created_and_container_config_stay() -> None:
    metadata = metadata_of(
        {"parent": "", "comment": "", "container": "", "docker_version": "", "author": ""}
    )
    assert list(metadata) == ["kind", "apiVersion", "Id", "Created", "ContainerConfig", "Size"]


def test_keys_match_case_insensitively_like_go() -> None:
    metadata = metadata_of(
        {
            "Architecture": "arm64",
            "CONFIG": {"user": "7", "workingdir": "/w", "Wor\u212aingDir": "/kelvin"},
            "Container_Config": {"LABEL\u017f": {"k": "v"}},
            "Created": "2024-01-01T00:00:00Z",
        }
    )
    assert metadata["Architecture"] == "arm64"
    assert metadata["Config"] == {"User": "7", "WorkingDir": "/kelvin"}
    assert metadata["ContainerConfig"] == {"Labels": {"k": "v"}}
    assert metadata["Created"] == "2024-01-01T00:00:00Z"


def test_non_ascii_lookalikes_that_go_does_not_fold_are_ignored() -> None:
    metadata = metadata_of({"architectur\u00e9": "x", "config": {"\u0130mage": "i"}})
    assert "Architecture" not in metadata
    assert metadata["Config"] == {}


def test_duplicate_keys_follow_go_last_wins_merge_and_null_rules() -> None:
    raw = (
        b'{"architecture":"amd64","Architecture":"arm64","architecture":null,'
        b'"config":{"User":"a","Labels":{"x":"1"},"Env":["A","B"]},'
        b'"config":{"Labels":{"y":"2"},"Env":[null],"WorkingDir":"/w"},'
        b'"container_config":{"User":"u"},"container_config":null}'
    )
    metadata = metadata_of(raw)
    assert metadata["Architecture"] == "arm64"
    assert metadata["Config"] == {
        "User": "a",
        "Env": ["A"],
        "WorkingDir": "/w",
        "Labels": {"x": "1", "y": "2"},
    }
    assert metadata["ContainerConfig"] == {"User": "u"}


def test_null_config_after_a_value_clears_the_pointer() -> None:
    metadata = metadata_of(b'{"config":{"User":"a"},"config":null}')
    assert "Config" not in metadata


def test_invalid_utf8_and_lone_surrogates_become_replacement_characters() -> None:
    raw = b'{"config":{"Labels":{"bad":"a\xe2\x82b","lone":"\\ud800x","pair":"\\ud83d\\ude00"}}}'
    labels = metadata_of(raw)["Config"]["Labels"]
    assert labels == {"bad": "a\ufffd\ufffdb", "lone": "\ufffdx", "pair": "\U0001f600"}


# ------------------------------------------------------------------------------------------
# Created (§2.2: UTC, whole seconds, null when absent)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ("2024-05-14T09:21:33.123456789Z", "2024-05-14T09:21:33Z"),
        ("2024-05-14T11:21:33.999999999+02:00", "2024-05-14T09:21:33Z"),
        ("2024-02-28T23:30:00-01:00", "2024-02-29T00:30:00Z"),
        ("2023-12-31T23:59:59.1234567891234-00:30", "2024-01-01T00:29:59Z"),
        ("2024-05-14T09:21:33,5Z", "2024-05-14T09:21:33Z"),
        ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"),
        ("2024-01-01T00:00:00+24:00", "2023-12-31T00:00:00Z"),
        ("0001-01-01T00:00:00.5Z", "0001-01-01T00:00:00Z"),
        ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"),
        ("0000-01-01T00:00:00+01:00", "-0001-12-31T23:00:00Z"),
        ("9999-12-31T23:59:59-01:00", "10000-01-01T00:59:59Z"),
    ],
)
def test_created_is_utc_truncated_to_seconds(created: str, expected: str) -> None:
    assert metadata_of({"created": created})["Created"] == expected


@pytest.mark.parametrize(
    "created",
    [
        "0001-01-01T00:00:00Z",  # Go's zero time
        "0001-01-01T01:00:00+01:00",
        None,
        "",
        "yesterday",
        "2024-05-14",
        "2024-05-14 09:21:33Z",
        "2024-05-14t09:21:33Z",
        "2024-05-14T09:21:33z",
        "2024-05-14T09:21:33",
        "2024-05-14T09:21:33.Z",
        "2024-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-05-14T24:00:00Z",
        "2024-05-14T09:60:00Z",
        "2024-05-14T09:21:60Z",
        "2024-05-14T09:21:33+25:00",
        "2024-05-14T09:21:33+0200",
        "\u0662\u0660\u0662\u0664-05-14T09:21:33Z",
        12345,
        ["2024-05-14T09:21:33Z"],
        {"time": "2024-05-14T09:21:33Z"},
    ],
)
def test_created_absent_zero_or_unparsable_is_null(created: Any) -> None:
    assert metadata_of({"created": created})["Created"] is None


def test_missing_created_is_null() -> None:
    assert metadata_of({"architecture": "amd64"})["Created"] is None


def test_null_created_after_a_value_keeps_the_value() -> None:
    assert metadata_of(b'{"created":"2024-01-01T00:00:00Z","created":null}')["Created"] == (
        "2024-01-01T00:00:00Z"
    )


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    offset_minutes=st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
    fraction=st.one_of(st.none(), st.from_regex(r"[0-9]{1,12}", fullmatch=True)),
)
def test_created_matches_python_datetime_arithmetic(
    moment: datetime, offset_minutes: int, fraction: str | None
) -> None:
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"  # %Y is not zero-padded below 1000
    if fraction is not None:
        text += "." + fraction
    text += f"{sign}{hours:02d}:{minutes:02d}"
    utc = (moment - timedelta(minutes=offset_minutes)).replace(microsecond=0)
    expected = f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"
    assert metadata_of({"created": text})["Created"] == expected


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        (
            datetime(2024, 5, 14, 11, 30, 0, 999999, tzinfo=timezone(timedelta(hours=2))),
            "2024-05-14T09:30:00Z",
        ),
        (datetime(2024, 5, 14, 9, 30, 0), "2024-05-14T09:30:00Z"),
    ],
)
def test_list_created_is_utc_whole_seconds(created: datetime, expected: str) -> None:
    image = build_list_image(
        pull_repository=REPO,
        digest=LIST_DIGEST,
        manifest=list_manifest(),
        content_type=None,
        created=created,
    )
    assert image["dockerImageMetadata"]["Created"] == expected


# ------------------------------------------------------------------------------------------
# Media type (§2.1 step 7)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body_type", "content_type", "expected"),
    [
        (None, mediatypes.DOCKER_SCHEMA2, mediatypes.DOCKER_SCHEMA2),
        (None, mediatypes.OCI_MANIFEST, mediatypes.OCI_MANIFEST),
        (None, f"{mediatypes.OCI_MANIFEST}; charset=utf-8", mediatypes.OCI_MANIFEST),
        (None, "Application/VND.OCI.Image.Manifest.v1+JSON", mediatypes.OCI_MANIFEST),
        (mediatypes.OCI_MANIFEST, "application/json", mediatypes.OCI_MANIFEST),
        (mediatypes.OCI_MANIFEST, None, mediatypes.OCI_MANIFEST),
        (mediatypes.OCI_MANIFEST, mediatypes.OCI_MANIFEST, mediatypes.OCI_MANIFEST),
        (None, None, mediatypes.DOCKER_SCHEMA2),
        (None, "application/octet-stream", mediatypes.DOCKER_SCHEMA2),
    ],
)
def test_manifest_media_type(
    body_type: str | None, content_type: str | None, expected: str
) -> None:
    config = config_bytes({})
    manifest = image_manifest(config, [], media_type=body_type, config_type=mediatypes.OCI_CONFIG)
    assert inspect_manifest(manifest, content_type).media_type == expected
    assert build(manifest, config, content_type)["dockerImageManifestMediaType"] == expected


def test_content_type_disagreeing_with_the_body_is_refused() -> None:
    config = config_bytes({})
    manifest = image_manifest(config, [], media_type=mediatypes.OCI_MANIFEST)
    with pytest.raises(ContentInvalid, match="disagrees"):
        inspect_manifest(manifest, mediatypes.DOCKER_SCHEMA2)


@pytest.mark.parametrize(
    ("body_type", "content_type"),
    [
        (None, "application/vnd.oci.artifact.manifest.v1+json"),
        ("application/vnd.oci.artifact.manifest.v1+json", None),
        ("application/vnd.example.thing+json", mediatypes.OCI_MANIFEST),
        (None, "text/html"),
    ],
)
def test_unknown_media_types_are_unsupported(
    body_type: str | None, content_type: str | None
) -> None:
    config = config_bytes({})
    manifest = image_manifest(config, [], media_type=body_type)
    with pytest.raises(UnsupportedManifest, match="not an image manifest type") as caught:
        inspect_manifest(manifest, content_type)
    assert caught.value.reason == "unknown-media-type"


def test_list_body_under_a_single_image_content_type_is_refused() -> None:
    manifest = index_manifest([index_entry("a", {"architecture": "amd64", "os": "linux"})])
    with pytest.raises(ContentInvalid, match="no config descriptor"):
        inspect_manifest(manifest, mediatypes.OCI_MANIFEST)


def test_image_body_under_a_list_content_type_is_refused() -> None:
    with pytest.raises(ContentInvalid, match="disagrees"):
        inspect_manifest(amd64_manifest(), mediatypes.DOCKER_LIST)
    config = config_bytes({})
    with pytest.raises(ContentInvalid, match="no manifests"):
        inspect_manifest(image_manifest(config, [], media_type=None), mediatypes.OCI_INDEX)


# ------------------------------------------------------------------------------------------
# Manifest lists / OCI indexes (§2.6)
# ------------------------------------------------------------------------------------------

LINUX_AMD64 = {"architecture": "amd64", "os": "linux"}
ATTESTATION = {"vnd.docker.reference.type": "attestation-manifest"}


def test_index_drops_attestations_and_entries_without_platform_and_keeps_variant() -> None:
    entries = [
        index_entry("amd64", LINUX_AMD64),
        index_entry("arm", {"architecture": "arm", "os": "linux", "variant": "v7"}),
        index_entry(
            "att-amd64",
            {"architecture": "unknown", "os": "unknown"},
            annotations={**ATTESTATION, "vnd.docker.reference.digest": layer_digest("amd64")},
        ),
        index_entry("no-platform", None),
        index_entry("empty-platform", {}),
        index_entry("no-os", {"architecture": "amd64"}),
        index_entry("nested", LINUX_AMD64, media_type=mediatypes.OCI_INDEX),
        index_entry("unknown-not-attestation", {"architecture": "unknown", "os": "unknown"}),
        index_entry("windows", {"architecture": "amd64", "os": "windows", "os.version": "10.0"}),
    ]
    manifest = index_manifest(entries, mediatypes.OCI_INDEX)
    info = inspect_manifest(manifest, mediatypes.OCI_INDEX)
    names = ["amd64", "arm", "unknown-not-attestation", "windows"]
    assert [child.digest for child in info.children] == [layer_digest(n) for n in names]
    image = build_list(manifest)
    assert image["dockerImageManifests"] == [
        {
            "digest": layer_digest("amd64"),
            "mediaType": mediatypes.OCI_MANIFEST,
            "manifestSize": 500,
            "architecture": "amd64",
            "os": "linux",
        },
        {
            "digest": layer_digest("arm"),
            "mediaType": mediatypes.OCI_MANIFEST,
            "manifestSize": 500,
            "architecture": "arm",
            "os": "linux",
            "variant": "v7",
        },
        {
            "digest": layer_digest("unknown-not-attestation"),
            "mediaType": mediatypes.OCI_MANIFEST,
            "manifestSize": 500,
            "architecture": "unknown",
            "os": "unknown",
        },
        {
            "digest": layer_digest("windows"),
            "mediaType": mediatypes.OCI_MANIFEST,
            "manifestSize": 500,
            "architecture": "amd64",
            "os": "windows",
        },
    ]


@pytest.mark.parametrize("content_type", [mediatypes.OCI_INDEX, None, "application/json"])
def test_oci_index_without_top_level_media_type(content_type: str | None) -> None:
    manifest = index_manifest([index_entry("amd64", LINUX_AMD64)])
    info = inspect_manifest(manifest, content_type)
    assert (info.kind, info.media_type) == ("list", mediatypes.OCI_INDEX)
    image = build_list(manifest, content_type)
    assert image["dockerImageManifestMediaType"] == mediatypes.OCI_INDEX
    assert image["dockerImageMetadata"] == {
        "kind": "DockerImage",
        "apiVersion": "image.openshift.io/1.0",
        "Id": sha256(manifest),
        "Created": "2024-05-14T09:30:00Z",
        "ContainerConfig": {},
    }
    assert image["metadata"] == {"name": sha256(manifest)}
    assert "dockerImageLayers" not in image


def test_index_of_only_attestations_is_unsupported() -> None:
    entry = index_entry(
        "att", {"architecture": "unknown", "os": "unknown"}, annotations=ATTESTATION
    )
    with pytest.raises(UnsupportedManifest, match="no platform-specific") as caught:
        inspect_manifest(index_manifest([entry], mediatypes.OCI_INDEX), None)
    assert caught.value.reason == "no-platform-images"


def test_empty_index_is_unsupported() -> None:
    with pytest.raises(UnsupportedManifest):
        inspect_manifest(index_manifest([], mediatypes.OCI_INDEX), None)


def test_list_and_single_builders_refuse_each_others_manifests() -> None:
    with pytest.raises(ContentInvalid, match="build_list_image"):
        build(list_manifest(), None, mediatypes.DOCKER_LIST)
    with pytest.raises(ContentInvalid, match="build_image"):
        build_list(amd64_manifest(), mediatypes.DOCKER_SCHEMA2)


# ------------------------------------------------------------------------------------------
# Docker schema1 (§2.1 step 8, §2.4)
# ------------------------------------------------------------------------------------------

EMPTY_LAYER = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
BASE_LAYER = layer_digest("schema1-base")
TOP_LAYER = layer_digest("schema1-top")
SCHEMA1_FS_LAYERS = [EMPTY_LAYER, TOP_LAYER, EMPTY_LAYER, BASE_LAYER]  # newest first
SCHEMA1_HISTORY = [
    v1_compat(
        "3" * 64,
        0,
        parent="2" * 64,
        created="2016-06-01T10:00:00.5+02:00",
        container="abc",
        container_config={"Cmd": ["/bin/sh", "-c", '#(nop) CMD ["app"]']},
        docker_version="1.11.2",
        author="someone",
        config={"Cmd": ["app"], "Env": ["PATH=/bin"]},
        architecture="amd64",
        os="linux",
    ),
    v1_compat("2" * 64, 700, parent="1" * 64),
    v1_compat("1" * 64, 0, parent="0" * 64),
    v1_compat("0" * 64, 3000),
]

SCHEMA1_EXPECTED_METADATA = {
    "kind": "DockerImage",
    "apiVersion": "image.openshift.io/1.0",
    "Id": "3" * 64,
    "Parent": "2" * 64,
    "Created": "2016-06-01T08:00:00Z",
    "Container": "abc",
    "ContainerConfig": {"Cmd": ["/bin/sh", "-c", '#(nop) CMD ["app"]']},
    "DockerVersion": "1.11.2",
    "Author": "someone",
    "Config": {"Env": ["PATH=/bin"], "Cmd": ["app"]},
    "Architecture": "amd64",
    "Size": 3700,
}


def _check_schema1_image(image: dict[str, Any], digest: str) -> None:
    assert image["metadata"] == {
        "name": digest,
        "annotations": {LAYERS_ORDER_ANNOTATION: "ascending"},
    }
    assert image["dockerImageReference"] == f"{REPO}@{digest}"
    assert image["dockerImageManifestMediaType"] == mediatypes.DOCKER_SCHEMA1
    assert image["dockerImageLayers"] == [
        {"name": BASE_LAYER, "size": 3000, "mediaType": mediatypes.SCHEMA1_LAYER},
        {"name": EMPTY_LAYER, "size": 0, "mediaType": mediatypes.SCHEMA1_LAYER},
        {"name": TOP_LAYER, "size": 700, "mediaType": mediatypes.SCHEMA1_LAYER},
        {"name": EMPTY_LAYER, "size": 0, "mediaType": mediatypes.SCHEMA1_LAYER},
    ]
    assert image["dockerImageMetadata"] == SCHEMA1_EXPECTED_METADATA
    assert list(image["dockerImageMetadata"]) == list(SCHEMA1_EXPECTED_METADATA)
    assert "dockerImageSignatures" not in image


def test_schema1_unsigned() -> None:
    manifest = schema1_payload(SCHEMA1_FS_LAYERS, SCHEMA1_HISTORY)
    assert inspect_manifest(manifest, mediatypes.DOCKER_SCHEMA1) == ManifestInfo(
        "schema1", mediatypes.DOCKER_SCHEMA1, None, None, ()
    )
    _check_schema1_image(build(manifest, None, mediatypes.DOCKER_SCHEMA1), sha256(manifest))


@pytest.mark.parametrize(
    "content_type",
    [mediatypes.DOCKER_SCHEMA1_SIGNED, mediatypes.DOCKER_SCHEMA1, "application/json", None],
)
def test_schema1_signed_is_named_by_its_payload_digest(content_type: str | None) -> None:
    payload = schema1_payload(SCHEMA1_FS_LAYERS, SCHEMA1_HISTORY)
    signed = sign_schema1(payload)
    assert json.loads(signed)["signatures"]
    digest = sha256(payload)
    image = build(signed, None, content_type, digest=digest)
    _check_schema1_image(image, digest)
    with pytest.raises(ContentInvalid, match="do not match digest"):
        build(signed, None, content_type, digest=sha256(signed))


def test_schema1_ignores_a_config_blob() -> None:
    manifest = schema1_payload(SCHEMA1_FS_LAYERS, SCHEMA1_HISTORY)
    image = build(manifest, b"not even json", mediatypes.DOCKER_SCHEMA1)
    assert image["dockerImageMetadata"]["Id"] == "3" * 64


@pytest.mark.parametrize(
    "history_entry",
    ['{"size":"12"}', '{"size":1.5}', "not json", '{"size":99999999999999999999}', "[]"],
)
def test_schema1_unparsable_layer_size_counts_as_zero(history_entry: str) -> None:
    manifest = schema1_payload([TOP_LAYER, BASE_LAYER], [v1_compat("b" * 64, 5), history_entry])
    image = build(manifest, None, mediatypes.DOCKER_SCHEMA1)
    assert image["dockerImageLayers"][0]["size"] == 0
    assert image["dockerImageMetadata"]["Size"] == 5


def test_zero_size_is_omitted_like_go_omitempty() -> None:
    manifest = schema1_payload(
        [EMPTY_LAYER, EMPTY_LAYER], [v1_compat("b" * 64), v1_compat("a" * 64)]
    )
    metadata = build(manifest, None, mediatypes.DOCKER_SCHEMA1)["dockerImageMetadata"]
    assert "Size" not in metadata
    assert metadata["Id"] == "b" * 64


def test_schema1_case_insensitive_size_key() -> None:
    manifest = schema1_payload([TOP_LAYER], ['{"id":"x","SIZE":42}'])
    image = build(manifest, None, mediatypes.DOCKER_SCHEMA1)
    assert image["dockerImageMetadata"]["Size"] == 42


@pytest.mark.parametrize(
    ("fs_layers", "history", "message"),
    [
        ([TOP_LAYER, BASE_LAYER], [v1_compat("a" * 64)], "1 history entries for 2 fsLayers"),
        ([], [], "no history"),
        (["sha256:" + "A" * 64], [v1_compat("a" * 64)], "not a sha256 digest"),
        ([TOP_LAYER], ["not json"], "not valid JSON"),
        ([TOP_LAYER], ["[1]"], "must be a JSON object"),
        ([TOP_LAYER], ['{"id":5}'], "id must be a string"),
        ([TOP_LAYER], ['{"id":"x","size":-1}'], "negative layer size"),
    ],
)
def test_schema1_malformed(fs_layers: list[str], history: list[str], message: str) -> None:
    manifest = schema1_payload(fs_layers, history)
    with pytest.raises(ContentInvalid, match=message):
        build(manifest, None, mediatypes.DOCKER_SCHEMA1)


def test_schema1_content_type_with_schema2_body_is_refused() -> None:
    with pytest.raises(ContentInvalid, match="schemaVersion 1"):
        inspect_manifest(
            image_manifest(b"{}", [], media_type=None), mediatypes.DOCKER_SCHEMA1_SIGNED
        )


# ------------------------------------------------------------------------------------------
# Artifacts are skipped (UnsupportedManifest)
# ------------------------------------------------------------------------------------------

EMPTY_CONFIG = b"{}"


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        pytest.param(
            image_manifest(
                EMPTY_CONFIG,
                [descriptor(layer_digest("sbom"), 10, "application/spdx+json")],
                media_type=mediatypes.OCI_MANIFEST,
                config_type="application/vnd.oci.empty.v1+json",
                artifactType="application/spdx+json",
            ),
            "artifactType",
            id="artifactType",
        ),
        pytest.param(
            image_manifest(
                EMPTY_CONFIG,
                [
                    descriptor(
                        layer_digest("chart"),
                        10,
                        "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                    )
                ],
                media_type=mediatypes.OCI_MANIFEST,
                config_type="application/vnd.cncf.helm.config.v1+json",
            ),
            "config media type",
            id="helm-chart",
        ),
        pytest.param(
            image_manifest(
                EMPTY_CONFIG,
                [
                    descriptor(
                        layer_digest("sig"), 10, "application/vnd.dev.cosign.simplesigning.v1+json"
                    )
                ],
                media_type=mediatypes.OCI_MANIFEST,
                config_type=mediatypes.OCI_CONFIG,
            ),
            "not a container image layer",
            id="cosign-signature",
        ),
        pytest.param(
            image_manifest(
                EMPTY_CONFIG,
                [descriptor(layer_digest("intoto"), 10, "application/vnd.in-toto+json")],
                media_type=mediatypes.OCI_MANIFEST,
                config_type=mediatypes.OCI_CONFIG,
            ),
            "not a container image layer",
            id="buildx-attestation",
        ),
        pytest.param(
            image_manifest(
                EMPTY_CONFIG,
                [],
                media_type=mediatypes.DOCKER_SCHEMA2,
                config_type="application/vnd.docker.plugin.v1+json",
            ),
            "config media type",
            id="docker-plugin",
        ),
        pytest.param(
            image_manifest(
                EMPTY_CONFIG,
                [],
                media_type=None,
                config_type="application/vnd.oci.empty.v1+json",
                artifactType="application/vnd.example+type",
            ),
            "artifactType",
            id="artifactType-without-mediaType",
        ),
        pytest.param(
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": mediatypes.OCI_INDEX,
                    "artifactType": "application/vnd.example.bundle",
                    "manifests": [index_entry("a", LINUX_AMD64)],
                }
            ).encode(),
            "artifactType",
            id="index-artifact",
        ),
    ],
)
def test_artifacts_are_unsupported(manifest: bytes, message: str) -> None:
    with pytest.raises(UnsupportedManifest, match=message) as caught:
        inspect_manifest(manifest, None)
    assert caught.value.reason == "artifact"
    with pytest.raises(UnsupportedManifest):
        build(manifest, EMPTY_CONFIG, None)


# ------------------------------------------------------------------------------------------
# Hostile and malformed input
# ------------------------------------------------------------------------------------------


def _manifest_with(**changes: Any) -> bytes:
    document = json.loads(amd64_manifest())
    document.update(changes)
    return json.dumps(document).encode()


def _amd64_layers_with(**changes: Any) -> bytes:
    document = json.loads(amd64_manifest())
    document["layers"][1].update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not valid JSON"),
        (b"null", "must be a JSON object, not null"),
        (b"[]", "must be a JSON object, not array"),
        (b'"manifest"', "must be a JSON object, not string"),
        (b"{", "not valid JSON"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
        (b"\xff\xfe{\x00}\x00", "not valid JSON"),
        (b'{"schemaVersion": NaN}', "not valid JSON"),
        (b'{"schemaVersion": 2} trailing', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"x":' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
        (_manifest_with(schemaVersion="2"), "schemaVersion must be an integer, not string"),
        (_manifest_with(schemaVersion=True), "schemaVersion must be an integer, not boolean"),
        (_manifest_with(schemaVersion=2.0), "schemaVersion must be an integer, not number"),
        (_manifest_with(schemaVersion=3), "schemaVersion 2, not 3"),
        (_manifest_with(schemaVersion=10**30), "schemaVersion is out of range"),
        (_manifest_with(mediaType=5), "mediaType must be a string"),
        (_manifest_with(layers={"0": {}}), "layers must be an array, not object"),
        (_manifest_with(layers=[None]), "layers\\[0\\] has no mediaType"),
        (_manifest_with(layers=["layer"]), "layers\\[0\\] must be an object"),
        (_manifest_with(config=[]), "config must be an object, not array"),
        (_manifest_with(config=None), "no config descriptor"),
        (_amd64_layers_with(size="48215602"), "layers\\[1\\].size must be an integer"),
        (_amd64_layers_with(size=-1), "layers\\[1\\] has a negative size"),
        (_amd64_layers_with(size=2**63), "layers\\[1\\].size is out of range"),
        (_amd64_layers_with(size=1e300), "must be an integer, not number"),
        (_amd64_layers_with(size=None), "layers\\[1\\] has no size"),
        (_amd64_layers_with(digest="sha256:abc"), "not a sha256 digest"),
        (_amd64_layers_with(digest="SHA256:" + "a" * 64), "not a sha256 digest"),
        (_amd64_layers_with(digest="sha256:" + "a" * 64 + "\n"), "not a sha256 digest"),
        (_amd64_layers_with(digest="../../etc/passwd"), "not a sha256 digest"),
        (_amd64_layers_with(digest=None), "not a sha256 digest \\(missing\\)"),
        (_amd64_layers_with(mediaType="no slash"), "invalid mediaType"),
        (_amd64_layers_with(mediaType=""), "has no mediaType"),
    ],
)
def test_malformed_manifests_are_content_invalid(body: bytes, message: str) -> None:
    with pytest.raises(ContentInvalid, match=message):
        inspect_manifest(body, mediatypes.DOCKER_SCHEMA2)


@pytest.mark.parametrize("digest", ["sha512:" + "a" * 128, "blake3:" + "a" * 64, "md5:abc"])
def test_other_digest_algorithms_are_unsupported_not_invalid(digest: str) -> None:
    body = _amd64_layers_with(digest=digest)
    with pytest.raises(UnsupportedManifest, match="other than sha256") as caught:
        inspect_manifest(body, mediatypes.DOCKER_SCHEMA2)
    assert caught.value.reason == "digest-algorithm"


def test_malformed_sha512_is_content_invalid() -> None:
    with pytest.raises(ContentInvalid, match="not a sha256 digest"):
        inspect_manifest(_amd64_layers_with(digest="sha512:abc"), mediatypes.DOCKER_SCHEMA2)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {
                "mediaType": mediatypes.OCI_MANIFEST,
                "digest": "nope",
                "size": 1,
                "platform": LINUX_AMD64,
            },
            "digest",
        ),
        (
            {
                "mediaType": mediatypes.OCI_MANIFEST,
                "digest": layer_digest("a"),
                "platform": LINUX_AMD64,
            },
            "no size",
        ),
        ({"digest": layer_digest("a"), "size": 1, "platform": LINUX_AMD64}, "no mediaType"),
        (
            {
                "mediaType": mediatypes.OCI_MANIFEST,
                "digest": layer_digest("a"),
                "size": 1,
                "platform": "linux",
            },
            "platform must be an object",
        ),
        (
            {
                "mediaType": mediatypes.OCI_MANIFEST,
                "digest": layer_digest("a"),
                "size": 1,
                "platform": {"architecture": 1, "os": "linux"},
            },
            "architecture must be a string",
        ),
        (
            {
                "mediaType": mediatypes.OCI_MANIFEST,
                "digest": layer_digest("a"),
                "size": 1,
                "platform": LINUX_AMD64,
                "annotations": {"a": 1},
            },
            "must be a string",
        ),
    ],
)
def test_malformed_index_entries(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ContentInvalid, match=message):
        inspect_manifest(index_manifest([entry], mediatypes.OCI_INDEX), None)


def test_index_manifests_must_be_an_array() -> None:
    body = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": {}})
    with pytest.raises(ContentInvalid, match="manifests must be an array"):
        inspect_manifest(body.encode(), None)


def test_shape_without_config_or_manifests_is_content_invalid() -> None:
    with pytest.raises(ContentInvalid, match="neither config, manifests nor fsLayers"):
        inspect_manifest(b'{"schemaVersion": 2}', None)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (b"not json", "image config is not valid JSON"),
        (b"[]", "image config must be a JSON object"),
        (b'{"architecture": 1}', "architecture must be a string"),
        (b'{"config": "x"}', "config must be an object, not string"),
        (b'{"config": {"Env": "A=1"}}', "config.Env must be an array, not string"),
        (b'{"config": {"Env": [1]}}', "config.Env\\[0\\] must be a string"),
        (b'{"config": {"Memory": "1g"}}', "config.Memory must be an integer"),
        (b'{"config": {"Memory": 1.5}}', "config.Memory must be an integer"),
        (b'{"config": {"Memory": 99999999999999999999}}', "config.Memory is out of range"),
        (b'{"config": {"Tty": "true"}}', "config.Tty must be a boolean"),
        (b'{"config": {"ExposedPorts": ["80/tcp"]}}', "ExposedPorts must be an object"),
        (b'{"config": {"ExposedPorts": {"80/tcp": "yes"}}}', "must be an object, not string"),
        (b'{"config": {"Labels": {"a": 1}}}', "config.Labels\\['a'\\] must be a string"),
        (b'{"container_config": []}', "container_config must be an object"),
    ],
)
def test_malformed_configs_are_content_invalid(config: bytes, message: str) -> None:
    with pytest.raises(ContentInvalid, match=message):
        build_from_config(config)


def test_fields_openshift_drops_are_not_inspected() -> None:
    metadata = metadata_of({"os": 5, "rootfs": "x", "history": {}, "size": "big", "variant": []})
    assert metadata["ContainerConfig"] == {}


def test_config_blob_must_be_the_one_the_manifest_names() -> None:
    config = config_bytes({"architecture": "amd64"})
    manifest = image_manifest(config, [])
    with pytest.raises(ContentInvalid, match="config blob is required"):
        build(manifest, None)
    with pytest.raises(ContentInvalid, match="the manifest says"):
        build(manifest, config + b" ")
    with pytest.raises(ContentInvalid, match="do not match digest"):
        build(manifest, config.replace(b"amd64", b"arm64"))


def test_image_digest_must_name_the_manifest() -> None:
    with pytest.raises(ContentInvalid, match="not a sha256 digest"):
        build(amd64_manifest(), amd64_config(), digest="latest")
    with pytest.raises(ContentInvalid, match="do not match digest"):
        build(amd64_manifest(), amd64_config(), digest=ARM64_DIGEST)
    with pytest.raises(ContentInvalid, match="do not match digest"):
        build_list_image(
            pull_repository=REPO,
            digest=AMD64_DIGEST,
            manifest=list_manifest(),
            content_type=None,
            created=LIST_CREATED,
        )


def test_managed_annotation_is_never_set() -> None:
    single = build(amd64_manifest(), amd64_config())
    schema1 = build(schema1_payload(SCHEMA1_FS_LAYERS, SCHEMA1_HISTORY), None, None)
    listed = build_list(list_manifest(), mediatypes.DOCKER_LIST)
    for image in (single, schema1):
        assert MANAGED_ANNOTATION not in image["metadata"]["annotations"]
    assert "annotations" not in listed["metadata"]


# ------------------------------------------------------------------------------------------
# Property tests: whatever comes in, only StreamhookError subclasses come out
# ------------------------------------------------------------------------------------------

CONTENT_TYPES = st.sampled_from(
    [None, "application/json", "text/html", *sorted(mediatypes.MANIFEST_TYPES)]
)
JSON_KEYS = st.one_of(
    st.sampled_from(
        [
            "schemaVersion",
            "mediaType",
            "config",
            "layers",
            "manifests",
            "platform",
            "architecture",
            "os",
            "variant",
            "digest",
            "size",
            "annotations",
            "artifactType",
            "fsLayers",
            "history",
            "v1Compatibility",
            "blobSum",
            "created",
            "Env",
            "Labels",
            "ExposedPorts",
            "container_config",
            "id",
            "CONFIG",
            "Size",
        ]
    ),
    st.text(max_size=8),
)
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.sampled_from(
            [
                2,
                1,
                AMD64_DIGEST,
                mediatypes.OCI_MANIFEST,
                mediatypes.DOCKER_SCHEMA2,
                mediatypes.OCI_INDEX,
                mediatypes.OCI_CONFIG,
                OCI_LAYER,
                "linux",
                "amd64",
                "2024-05-14T09:21:33Z",
                "unknown",
                "attestation-manifest",
            ]
        ),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(JSON_KEYS, children, max_size=5)
    ),
    max_leaves=30,
)
HYPOTHESIS_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _only_streamhook_errors(call: Callable[[], object]) -> None:
    try:
        result = call()
    except StreamhookError:
        return
    json.dumps(result, ensure_ascii=False).encode("utf-8")  # always serialisable


def _all_entry_points(body: bytes, content_type: str | None, config: bytes | None) -> None:
    digest = sha256(body)
    _only_streamhook_errors(lambda: inspect_manifest(body, content_type).kind)
    _only_streamhook_errors(
        lambda: build_image(
            pull_repository=REPO,
            digest=digest,
            manifest=body,
            content_type=content_type,
            config=config,
        )
    )
    _only_streamhook_errors(
        lambda: build_list_image(
            pull_repository=REPO,
            digest=digest,
            manifest=body,
            content_type=content_type,
            created=LIST_CREATED,
        )
    )


@HYPOTHESIS_SETTINGS
@given(
    body=st.binary(max_size=512),
    content_type=CONTENT_TYPES,
    config=st.none() | st.binary(max_size=64),
)
def test_arbitrary_bytes_raise_only_streamhook_errors(
    body: bytes, content_type: str | None, config: bytes | None
) -> None:
    _all_entry_points(body, content_type, config)


@HYPOTHESIS_SETTINGS
@given(document=JSON_VALUES, content_type=CONTENT_TYPES)
def test_arbitrary_json_raises_only_streamhook_errors(
    document: Any, content_type: str | None
) -> None:
    _all_entry_points(json.dumps(document).encode(), content_type, amd64_config())


@HYPOTHESIS_SETTINGS
@given(
    section=st.sampled_from(["top", "config", "layer", "index-entry", "platform"]),
    key=JSON_KEYS,
    value=JSON_VALUES,
    content_type=CONTENT_TYPES,
)
def test_mutated_manifests_raise_only_streamhook_errors(
    section: str, key: str, value: Any, content_type: str | None
) -> None:
    image_doc = json.loads(amd64_manifest())
    index_doc = json.loads(list_manifest())
    target = {
        "top": image_doc,
        "config": image_doc["config"],
        "layer": image_doc["layers"][0],
        "index-entry": index_doc["manifests"][0],
        "platform": index_doc["manifests"][1]["platform"],
    }[section]
    target[key] = value
    document = index_doc if section in ("index-entry", "platform") else image_doc
    _all_entry_points(json.dumps(document).encode(), content_type, amd64_config())


@HYPOTHESIS_SETTINGS
@given(config_document=st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=6), inner=JSON_VALUES)
def test_arbitrary_configs_raise_only_streamhook_errors(
    config_document: dict[str, Any], inner: Any
) -> None:
    config_document.setdefault("config", inner)
    config = json.dumps(config_document).encode()
    manifest = image_manifest(config, [descriptor(layer_digest("a"), 1)])
    _only_streamhook_errors(lambda: build(manifest, config))


@HYPOTHESIS_SETTINGS
@given(history=st.lists(JSON_VALUES.map(json.dumps) | st.text(max_size=30), min_size=1, max_size=3))
def test_arbitrary_schema1_history_raises_only_streamhook_errors(history: list[str]) -> None:
    manifest = schema1_payload([TOP_LAYER] * len(history), history)
    _only_streamhook_errors(lambda: build(manifest, None, mediatypes.DOCKER_SCHEMA1))
