from __future__ import annotations


class MalformedPayload(ValueError):
    """The body cannot be understood; answered 400 with this message."""
