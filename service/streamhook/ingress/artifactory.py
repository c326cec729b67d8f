"""JFrog Artifactory ``docker`` domain ``pushed`` events (registry-webhooks.md §7.4).

The repository is ``<repo_key>/<image_name>``: the "repository path" Docker access method,
Artifactory's default, where images are ``HOST/<repo_key>/<image>``. ``data.sha256`` is the
stored manifest's checksum (hex without prefix). The media type is left to the registry: the
file name only tells image from list, not Docker from OCI. ``jpd_origin`` (set only with a
Custom Base URL) gives the host for the cross-check.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from streamhook.events import Delivery, ParsedNotification
from streamhook.ingress import _fields as f
from streamhook.ingress._errors import MalformedPayload
from streamhook.ingress._json import decode_object

DOMAIN = "docker"
PUSHED = "pushed"
MANIFEST_FILES = frozenset({"manifest.json", "list.manifest.json"})


def _origin_host(origin: str | None) -> str | None:
    if origin is None:
        return None
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        raise MalformedPayload("body.jpd_origin is not a URL") from None
    return netloc.rsplit("@", 1)[-1].lower() or None


def parse(delivery: Delivery) -> ParsedNotification:
    body = decode_object(delivery.body)
    domain, event_type = f.text(body, "domain", "body"), f.text(body, "event_type", "body")
    if domain is None or event_type is None:
        raise MalformedPayload("body.domain and body.event_type are required")
    if domain != DOMAIN:
        return f.ignore("other-domain")
    if event_type != PUSHED:
        return f.ignore("delete" if event_type == "deleted" else "other-event")
    data = f.as_object(body.get("data"), "data")
    repo_key, image = f.text(data, "repo_key", "data"), f.text(data, "image_name", "data")
    repository = f.repository(
        f"{repo_key}/{image}" if repo_key and image else None, "data.repo_key/image_name"
    )
    if f.text(data, "name", "data") not in (None, *MANIFEST_FILES):
        return f.ignore("not-a-manifest", repository)
    checksum = f.text(data, "sha256", "data")
    entry = f.push_or_untagged(
        repository,
        f.tag(f.text(data, "tag", "data"), "data.tag"),
        digest=f.digest(f"sha256:{checksum.lower()}" if checksum else None, "data.sha256"),
        payload_hosts=f.hosts(_origin_host(f.text(body, "jpd_origin", "body"))),
    )
    return f.collect([entry])
