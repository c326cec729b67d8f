"""The real writer: kubernetes-asyncio against the cluster's API server.

Every call goes through the rate limiter and carries an explicit timeout. The only retry in
here is the one OpenShift's own registry does (docs/openshift-image-api.md §3.4): a 404 that
names the missing stream leads to ``POST imagestreams`` and one more ISM attempt. Everything
else is classified into ``APIRejected`` / ``APIUnavailable`` and left to the caller's
``streamhook.retry``. ``dryRun`` is never sent: the ISM endpoint ignores it and would write.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

import aiohttp
import structlog
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from streamhook import __version__
from streamhook.config import OpenShiftConfig
from streamhook.errors import APIRejected, StreamhookError
from streamhook.openshift._events import event_body
from streamhook.openshift._kubeconfig import load_configuration
from streamhook.openshift._limiter import RateLimiter
from streamhook.openshift._protocol import (
    OP_EVENT,
    OP_IMAGE,
    OP_IMAGE_STREAM,
    OP_MAPPING,
    OUTCOME_CREATED,
    OUTCOME_EXISTS,
    OUTCOME_FAILED,
    Observer,
    notify,
)
from streamhook.openshift._status import APIFailure, failure_from_response, transport_error

log = structlog.get_logger(__name__)

GROUP = "image.openshift.io"
VERSION = "v1"
IMAGES = "images"
IMAGE_STREAMS = "imagestreams"
IMAGE_STREAM_MAPPINGS = "imagestreammappings"
USER_AGENT = f"streamhook/{__version__}"

DEFAULT_REQUEST_TIMEOUT_SECONDS = 30.0
DEFAULT_CONNECT_TIMEOUT_SECONDS = 5.0

ApiCall = Callable[[aiohttp.ClientTimeout], Awaitable[Any]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _instance_name() -> str:
    return os.environ.get("HOSTNAME") or socket.gethostname() or "streamhook"


def mapping_target(mapping: Mapping[str, Any]) -> tuple[str, str, str]:
    """(namespace, image stream, tag) of an ImageStreamMapping body."""
    metadata = mapping.get("metadata")
    if not isinstance(metadata, Mapping):
        raise ValueError("ImageStreamMapping needs metadata")
    namespace, stream = metadata.get("namespace"), metadata.get("name")
    if not isinstance(namespace, str) or not namespace:
        raise ValueError("ImageStreamMapping needs metadata.namespace")
    if not isinstance(stream, str) or not stream:
        raise ValueError("ImageStreamMapping needs metadata.name (the image stream)")
    tag = mapping.get("tag")
    return namespace, stream, tag if isinstance(tag, str) else ""


def _image_name(image: Mapping[str, Any]) -> str:
    metadata = image.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) and name else "(unnamed)"


class ClusterWriter:
    """``ImageWriter`` over an ``ApiClient``; owns and closes it."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        create_image_streams: bool = True,
        events: bool = True,
        request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
        connect_timeout_seconds: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        limiter: RateLimiter | None = None,
        observer: Observer | None = None,
        now: Callable[[], datetime] = _utc_now,
        instance: str | None = None,
    ) -> None:
        self._api_client = api_client
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._create_image_streams = create_image_streams
        self._events = events
        self._timeout = aiohttp.ClientTimeout(
            total=request_timeout_seconds, connect=connect_timeout_seconds
        )
        self._limiter = limiter or RateLimiter()
        self._observer = observer
        self._now = now
        self._instance = instance or _instance_name()

    @classmethod
    async def from_config(
        cls,
        config: OpenShiftConfig,
        *,
        observer: Observer | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> ClusterWriter:
        configuration = await load_configuration(
            config.kubeconfig, context=config.context, environ=environ
        )
        api_client = client.ApiClient(configuration=configuration)
        api_client.user_agent = USER_AGENT
        limiter = RateLimiter(
            qps=config.qps, burst=config.burst, max_in_flight=config.max_in_flight
        )
        return cls(
            api_client,
            create_image_streams=config.create_image_streams,
            events=config.events,
            request_timeout_seconds=config.request_timeout_seconds,
            connect_timeout_seconds=config.connect_timeout_seconds,
            limiter=limiter,
            observer=observer,
        )

    async def _send(self, operation: str, subject: str, call: ApiCall) -> Any:
        """One API call: limiter, timeout, and failures turned into ``APIFailure`` or errors."""
        async with self._limiter.slot(operation):
            try:
                return await call(self._timeout)
            except ApiException as exc:
                raise failure_from_response(
                    exc.status or 0,
                    http_reason=exc.reason if isinstance(exc.reason, str) else None,
                    headers=exc.headers,
                    body=exc.body,
                ) from None
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise transport_error("create", subject, exc) from None

    async def create_image(self, image: dict[str, Any]) -> None:
        name = _image_name(image)
        try:
            await self._send(
                OP_IMAGE,
                f"image {name}",
                lambda timeout: self._custom.create_cluster_custom_object(
                    GROUP, VERSION, IMAGES, image, _request_timeout=timeout
                ),
            )
        except APIFailure as failure:
            if failure.code == 409:
                log.debug("openshift.image.exists", image=name)
                notify(self._observer, OP_IMAGE, OUTCOME_EXISTS)
                return
            self._failed(OP_IMAGE, failure.error("create", f"image {name}"), image=name)
        except StreamhookError as error:
            self._failed(OP_IMAGE, error, image=name)
        log.info("openshift.image.created", image=name)
        notify(self._observer, OP_IMAGE, OUTCOME_CREATED)

    async def create_mapping(self, mapping: dict[str, Any]) -> None:
        namespace, stream, tag = mapping_target(mapping)
        subject = f"imagestreammapping {namespace}/{stream}:{tag}"
        fields = {"namespace": namespace, "image_stream": stream, "tag": tag}
        try:
            try:
                await self._post_mapping(namespace, subject, mapping)
            except APIFailure as failure:
                if not failure.is_missing(IMAGE_STREAM_MAPPINGS, stream):
                    raise
                if not self._create_image_streams:
                    raise APIRejected(
                        f"create {subject}: image stream {namespace}/{stream} does not exist "
                        "and openshift.createImageStreams is false",
                        status=404,
                        reason="api-not-found",
                    ) from None
                log.info("openshift.imagestream.missing", **fields)
                await self._create_stream(namespace, stream)
                await self._post_mapping(namespace, subject, mapping)
        except APIFailure as failure:
            self._failed(OP_MAPPING, failure.error("create", subject), **fields)
        except StreamhookError as error:
            self._failed(OP_MAPPING, error, **fields)
        log.info(
            "openshift.mapping.created", image=_image_name(mapping.get("image") or {}), **fields
        )
        notify(self._observer, OP_MAPPING, OUTCOME_CREATED)

    async def _post_mapping(self, namespace: str, subject: str, mapping: dict[str, Any]) -> None:
        await self._send(
            OP_MAPPING,
            subject,
            lambda timeout: self._custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, IMAGE_STREAM_MAPPINGS, mapping, _request_timeout=timeout
            ),
        )

    async def _create_stream(self, namespace: str, stream: str) -> None:
        body = {
            "kind": "ImageStream",
            "apiVersion": f"{GROUP}/{VERSION}",
            "metadata": {"name": stream},
        }
        subject = f"imagestream {namespace}/{stream}"
        try:
            await self._send(
                OP_IMAGE_STREAM,
                subject,
                lambda timeout: self._custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, IMAGE_STREAMS, body, _request_timeout=timeout
                ),
            )
        except APIFailure as failure:
            if failure.code == 409:  # created meanwhile by someone else: just as good
                notify(self._observer, OP_IMAGE_STREAM, OUTCOME_EXISTS)
                return
            error = failure.error("create", subject)
            notify(self._observer, OP_IMAGE_STREAM, error.reason)
            raise error from None
        except StreamhookError as error:
            notify(self._observer, OP_IMAGE_STREAM, error.reason)
            raise
        log.info("openshift.imagestream.created", namespace=namespace, image_stream=stream)
        notify(self._observer, OP_IMAGE_STREAM, OUTCOME_CREATED)

    async def record_event(
        self,
        *,
        namespace: str,
        image_stream: str,
        reason: str,
        message: str,
        warning: bool = False,
    ) -> None:
        if not self._events:
            return
        body = event_body(
            namespace=namespace,
            image_stream=image_stream,
            reason=reason,
            message=message,
            warning=warning,
            now=self._now(),
            instance=self._instance,
        )
        subject = f"event {namespace}/{image_stream}"
        try:
            await self._send(
                OP_EVENT,
                subject,
                # The generated client serialises plain dicts as they are; its stub wants a model.
                lambda timeout: self._core.create_namespaced_event(
                    namespace,
                    body,  # type: ignore[arg-type]
                    _request_timeout=timeout,
                ),
            )
        except APIFailure as failure:
            error = failure.error("create", subject)
            log.warning("openshift.event.failed", error=str(error), reason=error.reason)
            notify(self._observer, OP_EVENT, OUTCOME_FAILED)
        except Exception as exc:  # best effort: an Event must never fail a mapping
            log.warning("openshift.event.failed", error=str(exc), reason=type(exc).__name__)
            notify(self._observer, OP_EVENT, OUTCOME_FAILED)
        else:
            notify(self._observer, OP_EVENT, OUTCOME_CREATED)

    async def close(self) -> None:
        await self._api_client.close()

    def _failed(self, operation: str, error: StreamhookError, **fields: str) -> NoReturn:
        log.warning(
            f"openshift.{operation}.failed", error=str(error), reason=error.reason, **fields
        )
        notify(self._observer, operation, error.reason)
        raise error from None
