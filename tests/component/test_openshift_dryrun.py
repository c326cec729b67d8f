"""DryRunWriter: JSON Lines of exactly what the cluster writer would POST."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from streamhook.config import OpenShiftConfig
from streamhook.errors import ConfigError
from streamhook.openshift import ClusterWriter, DryRunWriter, create_writer
from tests.fakes.openshift_api import (
    FakeOpenShiftAPI,
    example_child_image_arm64,
    example_image_amd64,
    example_list_image,
    example_mapping,
)


def _keys_in_order(line: str) -> list[str]:
    return list(json.loads(line, object_pairs_hook=lambda pairs: dict(pairs)).keys())


async def test_stdout_lines_children_first_then_the_mapping(
    capsys: pytest.CaptureFixture[str],
) -> None:
    observed: list[tuple[str, str]] = []
    writer = DryRunWriter("-", observer=lambda op, outcome: observed.append((op, outcome)))
    child = example_child_image_arm64()
    mapping = example_mapping(example_list_image())

    await writer.create_image(child)
    await writer.create_mapping(mapping)
    await writer.record_event(namespace="team-a", image_stream="app", reason="R", message="m")
    await writer.close()

    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == [child, mapping]
    assert lines[0].startswith('{"kind":"Image",')
    assert lines[1].startswith('{"kind":"ImageStreamMapping",')
    assert lines[1] == json.dumps(mapping, separators=(",", ":"))  # compact, given key order
    assert _keys_in_order(lines[1]) == list(mapping)
    assert observed == [("image", "dry-run"), ("mapping", "dry-run")]


async def test_non_ascii_is_escaped_like_the_real_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    mapping = example_mapping(example_image_amd64())
    mapping["image"]["dockerImageMetadata"]["Config"]["Labels"]["note"] = 'naïve ☃\n"quoted"'
    await DryRunWriter().create_mapping(mapping)
    out = capsys.readouterr().out
    assert out.isascii()
    assert out.count("\n") == 1  # one line, whatever the label held
    assert json.loads(out) == mapping


async def test_file_output_appends_and_flushes_each_line(tmp_path: Path) -> None:
    target = tmp_path / "dry-run.jsonl"
    target.write_text('{"earlier":true}\n')
    writer = DryRunWriter(str(target))
    mapping = example_mapping(example_image_amd64())

    await writer.create_mapping(mapping)
    assert target.read_text().splitlines()[1] == json.dumps(mapping, separators=(",", ":"))

    await writer.create_image(example_child_image_arm64())
    await writer.close()
    lines = target.read_text().splitlines()
    assert len(lines) == 3 and lines[0] == '{"earlier":true}'
    with pytest.raises(RuntimeError, match="closed"):
        await writer.create_mapping(mapping)


async def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    target = tmp_path / "dry-run.jsonl"
    writer = DryRunWriter(str(target))
    bodies = []
    for i in range(40):
        mapping = example_mapping(example_image_amd64(), tag=f"t{i}")
        mapping["image"]["dockerImageConfig"] = "x" * 200_000  # bigger than any pipe buffer
        bodies.append(mapping)

    await asyncio.gather(*(writer.create_mapping(body) for body in bodies))
    await writer.close()

    lines = target.read_text().splitlines()
    assert sorted(json.loads(line)["tag"] for line in lines) == sorted(b["tag"] for b in bodies)


async def test_create_writer_dry_run_modes(tmp_path: Path) -> None:
    writer = await create_writer(
        OpenShiftConfig(mode="dry-run", dry_run_output=str(tmp_path / "out.jsonl"))
    )
    assert isinstance(writer, DryRunWriter)
    await writer.close()
    with pytest.raises(ConfigError, match=r"openshift\.dryRunOutput"):
        await create_writer(
            OpenShiftConfig(mode="dry-run", dry_run_output=str(tmp_path / "no" / "dir.jsonl"))
        )


@pytest.fixture
async def api() -> AsyncIterator[FakeOpenShiftAPI]:
    async with FakeOpenShiftAPI(namespaces=["team-a"]) as fake:
        fake.add_stream("team-a", "app")
        yield fake


async def test_dry_run_lines_equal_the_bodies_the_cluster_writer_posts(
    api: FakeOpenShiftAPI, tmp_path: Path
) -> None:
    child = example_child_image_arm64()
    mapping = example_mapping(example_list_image())

    dry = DryRunWriter(str(tmp_path / "dry.jsonl"))
    await dry.create_image(child)
    await dry.create_mapping(mapping)
    await dry.close()

    config = OpenShiftConfig(kubeconfig=str(api.write_kubeconfig(tmp_path / "kc")))
    cluster = await ClusterWriter.from_config(config)
    try:
        await cluster.create_image(child)
        await cluster.create_mapping(mapping)
    finally:
        await cluster.close()

    printed = [json.loads(line) for line in (tmp_path / "dry.jsonl").read_text().splitlines()]
    assert printed == [r.body for r in api.requests]
    assert [r.status for r in api.requests] == [201, 201]
