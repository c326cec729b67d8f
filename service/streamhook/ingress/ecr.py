"""Amazon ECR ``ECR Image Action`` events through an EventBridge API destination (§7.3).

Only ``action-type: PUSH`` with ``result: SUCCESS`` is work; ``image-tag`` is absent for
untagged pushes. The registry host ``<account>.dkr.ecr.<region>.amazonaws.com`` is derived
from the envelope for the cross-check only.
"""

from __future__ import annotations

import re
from typing import Any

from streamhook.events import Delivery, ParsedNotification
from streamhook.ingress import _fields as f
from streamhook.ingress._errors import MalformedPayload
from streamhook.ingress._json import decode_object

DETAIL_TYPE = "ECR Image Action"
SOURCE = "aws.ecr"
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-[0-9]+$")


def _registry_host(body: dict[str, Any]) -> str | None:
    account, region = f.text(body, "account", "body"), f.text(body, "region", "body")
    if account is None or region is None:
        return None
    if not _ACCOUNT.match(account) or not _REGION.match(region):
        raise MalformedPayload("body.account or body.region is not an AWS account/region")
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}"


def parse(delivery: Delivery) -> ParsedNotification:
    body = decode_object(delivery.body)
    detail_type = f.text(body, "detail-type", "body")
    if detail_type is None:
        raise MalformedPayload("body.detail-type is missing")
    if detail_type != DETAIL_TYPE or f.text(body, "source", "body") not in (None, SOURCE):
        return f.ignore("other-event")  # scans, replication, pull-through cache, lifecycle
    detail = f.as_object(body.get("detail"), "detail")
    repository = f.repository(f.text(detail, "repository-name", "detail"), "detail.repository-name")
    action = f.text(detail, "action-type", "detail")
    if action != "PUSH":
        return f.ignore("delete" if action == "DELETE" else "other-action", repository)
    if f.text(detail, "result", "detail") != "SUCCESS":
        return f.ignore("failed", repository)
    entry = f.push_or_untagged(
        repository,
        f.tag(f.text(detail, "image-tag", "detail"), "detail.image-tag"),
        digest=f.digest(f.text(detail, "image-digest", "detail"), "detail.image-digest"),
        media_type=f.text(detail, "manifest-media-type", "detail"),
        event_id=f.text(body, "id", "body"),
        payload_hosts=f.hosts(_registry_host(body)),
    )
    return f.collect([entry])
