"""Azure Container Registry webhooks (registry-webhooks.md §5).

One bare Distribution-style event per request, without the ``events`` envelope. The
"Ping" button sends ``action: ping``: authentic, answered 200, nothing to do. Chart,
quarantine and delete actions are ignored like other non-push actions.
"""

from __future__ import annotations

from streamhook.events import Delivery, ParsedNotification
from streamhook.ingress import _fields as f
from streamhook.ingress import distribution
from streamhook.ingress._json import decode_object

PING_ACTION = "ping"


def parse(delivery: Delivery) -> ParsedNotification:
    event = decode_object(delivery.body)
    if event.get("action") == PING_ACTION:
        return f.ignore("ping")
    # The event itself has exactly the Distribution event's shape.
    return f.collect([distribution.parse_event(event, "body")])
