"""OCI distribution registry client: resolve tags, fetch verified manifests and blobs."""

from streamhook.registry._models import FetchedManifest, ManifestRef, RequestObserver
from streamhook.registry.client import RegistryClient

__all__ = ["FetchedManifest", "ManifestRef", "RegistryClient", "RequestObserver"]
