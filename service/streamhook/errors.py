"""streamhook's own error tree, independent of the HTTP libraries underneath.

    StreamhookError
    ├── ConfigError                 bad configuration; names the key path
    ├── TemporaryError(retry_after) worth retrying later (timeouts, 429, 5xx, connection errors)
    │   ├── RegistryUnavailable
    │   └── APIUnavailable
    └── PermanentError(reason)      retrying cannot help
        ├── RegistryRejected        401/403/404 from a registry, bad reference
        ├── ContentInvalid          digest mismatch, oversized, unparsable manifest or config
        ├── UnsupportedManifest     artifacts, signatures, unknown media types (skipped, not failed)
        └── APIRejected             401/403/404/422 from the OpenShift API

`reason` is a short, bounded token suitable as a metrics label; `str(err)` is the human
message and never contains secrets or response bodies longer than ``MAX_DETAIL``.
"""

from __future__ import annotations

MAX_DETAIL = 256


def truncate(text: str, limit: int = MAX_DETAIL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class StreamhookError(Exception):
    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(truncate(message, 1024))
        if reason is not None:
            self.reason = reason


class ConfigError(StreamhookError):
    reason = "config"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems) if problems else "invalid configuration")


class TemporaryError(StreamhookError):
    """Retry later; ``retry_after`` (seconds) is the server's hint, if it gave one."""

    reason = "temporary"

    def __init__(
        self, message: str, *, reason: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class PermanentError(StreamhookError):
    reason = "permanent"


class RegistryUnavailable(TemporaryError):
    reason = "registry-unavailable"


class RegistryRejected(PermanentError):
    reason = "registry-rejected"


class ContentInvalid(PermanentError):
    reason = "content-invalid"


class UnsupportedManifest(PermanentError):
    reason = "unsupported-manifest"


class APIUnavailable(TemporaryError):
    reason = "api-unavailable"


class APIRejected(PermanentError):
    reason = "api-rejected"

    def __init__(self, message: str, *, status: int, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.status = status
