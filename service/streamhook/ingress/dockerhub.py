"""Docker Hub repository webhooks (registry-webhooks.md §4).

``repository.repo_name`` and ``push_data.tag``; never a digest. The body names no registry
host (``callback_url`` and ``repo_url`` are web hosts), so there is nothing to cross-check:
the registry is the webhook's. Multi-arch pushes arrive several times; the queue coalesces.
"""

from __future__ import annotations

from streamhook.events import Delivery, ParsedNotification
from streamhook.ingress import _fields as f
from streamhook.ingress._json import decode_object

OFFICIAL_NAMESPACE = "library"


def parse(delivery: Delivery) -> ParsedNotification:
    body = decode_object(delivery.body)
    push_data = f.as_object(body.get("push_data"), "push_data")
    about = f.as_object(body.get("repository"), "repository")
    name = f.text(about, "repo_name", "repository")
    if name is not None and "/" not in name:
        name = f"{OFFICIAL_NAMESPACE}/{name}"  # the registry API path of an official image
    entry = f.push_or_untagged(
        f.repository(name, "repository.repo_name"),
        f.tag(f.text(push_data, "tag", "push_data"), "push_data.tag"),
        media_type=f.text(push_data, "media_type", "push_data"),  # reported, not documented
    )
    return f.collect([entry])
