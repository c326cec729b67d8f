"""streamhook: registry push notifications become exact OpenShift ImageStreamMappings."""

__version__ = "0.1.0"

__all__ = ["__version__"]
