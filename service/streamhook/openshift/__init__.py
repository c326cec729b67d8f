"""streamhook's OpenShift API writer.

``create_writer(config)`` gives an ``ImageWriter``: a ``ClusterWriter`` (kubernetes-asyncio,
rate limited, errors classified into ``APIRejected`` / ``APIUnavailable``) or, with
``openshift.mode: dry-run``, a ``DryRunWriter`` printing the request bodies as JSON Lines.
"""

from __future__ import annotations

from streamhook.config import OpenShiftConfig
from streamhook.errors import ConfigError
from streamhook.openshift._cluster import ClusterWriter
from streamhook.openshift._dryrun import DryRunWriter
from streamhook.openshift._limiter import RateLimiter, TokenBucket
from streamhook.openshift._protocol import ImageWriter, Observer

__all__ = [
    "ClusterWriter",
    "DryRunWriter",
    "ImageWriter",
    "Observer",
    "RateLimiter",
    "TokenBucket",
    "create_writer",
]


async def create_writer(
    config: OpenShiftConfig, *, observer: Observer | None = None
) -> ImageWriter:
    if config.mode == "dry-run":
        try:
            return DryRunWriter(config.dry_run_output, observer=observer)
        except OSError as exc:
            raise ConfigError(
                [f"openshift.dryRunOutput: cannot open {config.dry_run_output!r}: {exc.strerror}"]
            ) from None
    return await ClusterWriter.from_config(config, observer=observer)
