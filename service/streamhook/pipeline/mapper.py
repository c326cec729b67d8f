"""One unit of work end to end: resolve → fetch and verify → build Images → write.

The event's digest is only a hint: the registry's answer for the tag now is the truth, so
replayed or reordered notifications never move a tag backwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from streamhook import image as images
from streamhook.config import RegistryConfig, Settings
from streamhook.errors import RegistryRejected, StreamhookError, UnsupportedManifest
from streamhook.events import Work
from streamhook.openshift import ImageWriter
from streamhook.registry import FetchedManifest, RegistryClient

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Mapped:
    digest: str
    media_type: str
    children: int


class Mapper:
    def __init__(
        self,
        settings: Settings,
        registries: Mapping[str, RegistryClient],
        writer: ImageWriter,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._registries = registries
        self._writer = writer
        self._now = now

    async def map(self, work: Work, *, reference: str | None = None) -> Mapped:
        """Map the image that ``reference`` (default: the event's tag) names in the registry now."""
        event, target = work.event, work.target
        registry = self._settings.registry(event.registry)
        client = self._registries[event.registry]
        digest = await self._current_digest(client, work, reference or event.tag)
        fetched = await client.manifest(event.repository, digest)
        info = images.inspect_manifest(fetched.body, fetched.media_type)
        pull_repository = f"{registry.effective_pull_host}/{event.repository}"
        children = 0
        if info.kind == "list":
            if self._settings.openshift.manifest_lists == "preserve":
                children = await self._write_children(registry, client, event.repository, info)
            image = images.build_list_image(
                pull_repository=pull_repository,
                digest=fetched.digest,
                manifest=fetched.body,
                content_type=fetched.media_type,
                created=self._now(),
            )
        else:
            image = await self._build_single(registry, client, event.repository, fetched, info)
        mapping = images.image_stream_mapping(
            namespace=target.namespace,
            image_stream=target.image_stream,
            tag=target.tag,
            image=image,
        )
        await self._writer.create_mapping(mapping)
        return Mapped(fetched.digest, info.media_type, children)

    async def _current_digest(self, client: RegistryClient, work: Work, reference: str) -> str:
        """What ``reference`` points at now; the event's digest only when the tag is not there.

        Distribution sends the notification before it links the tag, so a HEAD right after
        the push can 404: then the payload digest (verified on fetch) is the best truth. A
        tag that points elsewhere has moved since the push; its current image wins.
        """
        event = work.event
        try:
            current = await client.resolve(event.repository, reference)
        except RegistryRejected as error:
            if (
                error.reason != "registry-not-found"
                or not event.digest
                or reference == event.digest
            ):
                raise
            log.info("mapping.tag_not_linked_yet", digest=event.digest)
            return event.digest
        if event.digest and event.digest != current.digest and reference == event.tag:
            log.info("mapping.tag_moved", event_digest=event.digest, current_digest=current.digest)
        return current.digest

    async def _build_single(
        self,
        registry: RegistryConfig,
        client: RegistryClient,
        repository: str,
        fetched: FetchedManifest,
        info: images.ManifestInfo,
    ) -> dict[str, Any]:
        config = None
        if info.kind == "image" and info.config_digest is not None:
            config = await client.blob(
                repository, info.config_digest, max_bytes=registry.max_config_bytes
            )
        return images.build_image(
            pull_repository=f"{registry.effective_pull_host}/{repository}",
            digest=fetched.digest,
            manifest=fetched.body,
            content_type=fetched.media_type,
            config=config,
        )

    async def _write_children(
        self,
        registry: RegistryConfig,
        client: RegistryClient,
        repository: str,
        info: images.ManifestInfo,
    ) -> int:
        written = 0
        for child in info.children:
            try:
                fetched = await client.manifest(repository, child.digest)
                child_info = images.inspect_manifest(fetched.body, fetched.media_type)
                if child_info.kind == "list":
                    raise UnsupportedManifest("a list inside a list", reason="nested-list")
                image = await self._build_single(registry, client, repository, fetched, child_info)
            except UnsupportedManifest as exc:
                # The list still references it in dockerImageManifests; only its Image is skipped.
                log.info("mapping.child_skipped", child=child.digest, reason=exc.reason)
                continue
            await self._writer.create_image(images.image_object(image))
            written += 1
        return written


OutcomeObserver = Callable[[Work, str, str, float], None]


def describe(error: BaseException) -> tuple[str, str]:
    """(outcome, reason) labels for a failed mapping."""
    if isinstance(error, UnsupportedManifest):
        return "skipped", error.reason
    if isinstance(error, StreamhookError):
        return "failed", error.reason
    return "failed", "internal"


def latency(work: Work, clock: Callable[[], float] = time.time) -> float:
    return max(0.0, clock() - work.event.received_at)
