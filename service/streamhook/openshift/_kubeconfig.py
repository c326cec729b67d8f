"""Where the API server is and who we are: in-cluster service account or a kubeconfig.

Always into a fresh ``Configuration``; the library's global default is never touched, so two
writers (or a test and the code under test) cannot leak settings into each other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import structlog
import yaml
from kubernetes_asyncio import client, config
from kubernetes_asyncio.config.config_exception import ConfigException
from kubernetes_asyncio.config.incluster_config import (
    SERVICE_CERT_FILENAME,
    SERVICE_HOST_ENV_NAME,
    SERVICE_TOKEN_FILENAME,
)

from streamhook.errors import ConfigError

log = structlog.get_logger(__name__)

DEFAULT_KUBECONFIG = "~/.kube/config"
KUBECONFIG_ENV = "KUBECONFIG"


def default_kubeconfig_path(environ: Mapping[str, str]) -> str:
    """$KUBECONFIG (possibly a ``:``-separated list, merged by the loader) or ~/.kube/config."""
    value = environ.get(KUBECONFIG_ENV, "").strip()
    if value:
        return value
    return str(Path(DEFAULT_KUBECONFIG).expanduser())


async def load_configuration(
    kubeconfig: str | None,
    *,
    context: str | None = None,
    environ: Mapping[str, str] | None = None,
    token_file: str = SERVICE_TOKEN_FILENAME,
    ca_file: str = SERVICE_CERT_FILENAME,
) -> client.Configuration:
    """``kubeconfig`` None: in-cluster when running in a pod, else $KUBECONFIG/~/.kube/config."""
    env = os.environ if environ is None else environ
    configuration = client.Configuration()
    if kubeconfig is None and env.get(SERVICE_HOST_ENV_NAME):
        try:
            config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration,
                token_filename=token_file,
                cert_filename=ca_file,
                environ=dict(env),
            )
        except ConfigException as exc:
            raise ConfigError(
                [f"openshift.kubeconfig: in-cluster configuration failed: {exc}"]
            ) from None
        log.info("openshift.config", source="in-cluster", host=configuration.host)
        return configuration

    path = kubeconfig if kubeconfig is not None else default_kubeconfig_path(env)
    try:
        await config.load_kube_config(
            config_file=path,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, OSError) as exc:
        raise ConfigError([f"openshift.kubeconfig: cannot use {path!r}: {exc}"]) from None
    except yaml.YAMLError:
        # The parser's message quotes the offending line, which may hold a token.
        raise ConfigError([f"openshift.kubeconfig: {path!r} is not valid YAML"]) from None
    log.info("openshift.config", source="kubeconfig", path=path, host=configuration.host)
    return configuration
