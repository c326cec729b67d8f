"""Configuration: the YAML file of DESIGN.md, validated with pydantic.

Unknown keys are errors; every error names its key path (``rules[0].namespace``).
Secrets may be given inline or as ``…File`` paths (Kubernetes Secret mounts); file secrets
are read once at load time so a missing file fails ``check-config``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from streamhook.errors import ConfigError
from streamhook.reference import host_problem, name_problem

CONFIG_ENV = "STREAMHOOK_CONFIG"

DEFAULT_LISTEN = "0.0.0.0:8080"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_QUEUE_CAPACITY = 1000
DEFAULT_WORKERS = 4
DEFAULT_SHUTDOWN_SECONDS = 25.0

WebhookFormat = Literal[
    "distribution",
    "harbor",
    "quay",
    "dockerhub",
    "acr",
    "gitlab",
    "github",
    "zot",
    "cloudevents",
    "gar",
    "ecr",
    "artifactory",
    "nexus",
]
WEBHOOK_FORMATS: tuple[str, ...] = get_args(WebhookFormat)

_NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")
_TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")
TEMPLATE_FIELDS = frozenset({"repository", "name", "project", "tag"})


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        hide_input_in_errors=True,
    )


def _read_secret_file(path: str) -> SecretStr:
    try:
        return SecretStr(Path(path).read_text(encoding="utf-8").strip())
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path!r}: {exc.strerror}") from None


class _SecretFileModel(_Model):
    """Models whose ``fooFile`` keys fill ``foo`` before validation."""

    secret_pairs: ClassVar[tuple[tuple[str, str], ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _load_secret_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        values = dict(data)
        for inline, file_key in cls.secret_pairs:
            inline_key, path_key = to_camel(inline), to_camel(file_key)
            if values.get(inline_key) is not None and values.get(path_key) is not None:
                raise ValueError(f"give either {inline_key} or {path_key}, not both")
            path = values.get(path_key)
            if isinstance(path, str):
                try:
                    values[inline_key] = _read_secret_file(path)
                except ValueError as exc:
                    raise ValueError(f"{path_key}: {exc}") from None
        return values


class ServerConfig(_Model):
    listen: str = DEFAULT_LISTEN
    max_body_bytes: Annotated[int, Field(gt=0, le=64 * 1024 * 1024)] = DEFAULT_MAX_BODY_BYTES
    shutdown_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = DEFAULT_SHUTDOWN_SECONDS
    tls_cert_file: str | None = None  # with tlsKeyFile: serve HTTPS (PEM files)
    tls_key_file: str | None = None

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerConfig:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tlsCertFile and tlsKeyFile go together")
        for path in (self.tls_cert_file, self.tls_key_file):
            if path is not None and not Path(path).is_file():
                raise ValueError(f"file {path!r} not found")
        return self

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT, e.g. 0.0.0.0:8080")
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class QueueConfig(_Model):
    capacity: Annotated[int, Field(gt=0, le=1_000_000)] = DEFAULT_QUEUE_CAPACITY
    workers: Annotated[int, Field(gt=0, le=256)] = DEFAULT_WORKERS
    retry_after_seconds: Annotated[int, Field(gt=0, le=3600)] = 5  # told to senders on 503


class RetryConfig(_Model):
    initial_delay_seconds: Annotated[float, Field(gt=0, le=600)] = 1.0
    max_delay_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    max_attempts: Annotated[int, Field(gt=0, le=1000)] = 8
    deadline_seconds: Annotated[float, Field(gt=0, le=86400)] = 300.0


class OpenShiftConfig(_Model):
    mode: Literal["cluster", "dry-run"] = "cluster"
    kubeconfig: str | None = None
    context: str | None = None
    dry_run_output: str = "-"
    create_image_streams: bool = True
    manifest_lists: Literal["preserve", "index-only"] = "preserve"
    qps: Annotated[float, Field(gt=0, le=1000)] = 10.0
    burst: Annotated[int, Field(gt=0, le=1000)] = 20
    max_in_flight: Annotated[int, Field(gt=0, le=256)] = 8
    request_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    connect_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 5.0
    events: bool = True  # post Kubernetes Events on the ImageStream

    @field_validator("kubeconfig")
    @classmethod
    def _kubeconfig(cls, value: str | None, info: ValidationInfo) -> str | None:
        cluster = info.data.get("mode") == "cluster"
        if cluster and value is not None and not Path(value).expanduser().is_file():
            raise ValueError(f"file {value!r} not found")
        return value


class RegistryAuth(_SecretFileModel):
    secret_pairs = (("password", "password_file"),)

    username: str | None = None
    password: SecretStr | None = None
    password_file: str | None = None
    docker_config_json: str | None = None  # path to a .dockerconfigjson file

    @model_validator(mode="after")
    def _consistent(self) -> RegistryAuth:
        if self.docker_config_json and (self.username or self.password):
            raise ValueError("give either username/password or dockerConfigJson, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password (or passwordFile) go together")
        if self.docker_config_json and not Path(self.docker_config_json).is_file():
            raise ValueError(f"dockerConfigJson file {self.docker_config_json!r} not found")
        return self


class RegistryConfig(_Model):
    name: str
    url: str
    pull_host: str | None = None
    hosts: list[str] = Field(default_factory=list)  # further names payloads may use for it
    insecure_skip_tls_verify: bool = Field(default=False, alias="insecureSkipTLSVerify")
    ca_file: str | None = None
    auth: RegistryAuth = Field(default_factory=RegistryAuth)
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    connect_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 5.0
    max_manifest_bytes: Annotated[int, Field(gt=0, le=64 * 1024 * 1024)] = 4 * 1024 * 1024
    max_config_bytes: Annotated[int, Field(gt=0, le=256 * 1024 * 1024)] = 8 * 1024 * 1024

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be lower-case letters, digits, '.', '_' or '-'")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must not have a path, query or fragment")
        return value.rstrip("/")

    @field_validator("pull_host")
    @classmethod
    def _pull_host(cls, value: str | None) -> str | None:
        problem = host_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for host in value:
            problem = host_problem(host)
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"file {value!r} not found")
        return value

    @property
    def url_host(self) -> str:
        """``host[:port]`` of ``url`` as written."""
        return urlsplit(self.url).netloc.rsplit("@", 1)[-1].lower()

    @property
    def effective_pull_host(self) -> str:
        return self.pull_host or self.url_host

    @property
    def known_hosts(self) -> frozenset[str]:
        """Names a payload may use for this registry (compared case-insensitively)."""
        names = {self.url_host, self.effective_pull_host.lower(), *(h.lower() for h in self.hosts)}
        return frozenset(names)


class BasicAuth(_SecretFileModel):
    secret_pairs = (("password", "password_file"),)

    username: str
    password: SecretStr | None = None
    password_file: str | None = None

    @model_validator(mode="after")
    def _needs_password(self) -> BasicAuth:
        if self.password is None:
            raise ValueError("password or passwordFile is required")
        return self


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def _check_jwks_file(path: str) -> None:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read jwksFile {path!r}: {exc.strerror}") from None
    except ValueError:
        raise ValueError(f"jwksFile {path!r} is not JSON") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ValueError(f'jwksFile {path!r} must be a JWK set: {{"keys": [...]}}')


class OidcAuth(_Model):
    """A signed OIDC ID token in ``Authorization: Bearer`` (Pub/Sub push subscriptions)."""

    jwks_file: str | None = None  # re-read when it changes (a mounted ConfigMap)
    jwks_url: str | None = None
    audience: str
    issuer: list[str]  # one string or a list; the token's ``iss`` must be one of them
    email: str | None = None  # when set: the token's ``email``, with ``email_verified: true``

    @field_validator("issuer", mode="before")
    @classmethod
    def _issuer_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> OidcAuth:
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError("give either jwksFile or jwksUrl")
        if not self.audience or not self.issuer or not all(self.issuer):
            raise ValueError("audience and issuer must not be empty")
        if self.jwks_file is not None:
            _check_jwks_file(self.jwks_file)
        if self.jwks_url is not None:
            parts = urlsplit(self.jwks_url)
            loopback = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
            if not parts.hostname or (parts.scheme != "https" and not loopback):
                raise ValueError("jwksUrl must be an https:// URL (http:// only on loopback)")
        return self


class WebhookAuth(_SecretFileModel):
    secret_pairs = (
        ("bearer_token", "bearer_token_file"),
        ("hmac_secret", "hmac_secret_file"),
        ("url_token", "url_token_file"),
        ("header_value", "header_value_file"),
    )

    bearer_token: SecretStr | None = None
    bearer_token_file: str | None = None
    basic: BasicAuth | None = None
    hmac_secret: SecretStr | None = None
    hmac_secret_file: str | None = None
    url_token: SecretStr | None = None
    url_token_file: str | None = None
    header: str | None = None  # with headerValue: compare this whole header (GitLab, Harbor, ACR)
    header_value: SecretStr | None = None
    header_value_file: str | None = None
    oidc: OidcAuth | None = None
    none: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> WebhookAuth:
        kinds = [
            k
            for k, present in (
                ("bearerToken", self.bearer_token is not None),
                ("basic", self.basic is not None),
                ("hmacSecret", self.hmac_secret is not None),
                ("urlToken", self.url_token is not None),
                ("header", self.header is not None or self.header_value is not None),
                ("oidc", self.oidc is not None),
                ("none", self.none),
            )
            if present
        ]
        if not kinds:
            raise ValueError(
                "webhook auth is required: set one of bearerToken(File), basic, "
                "hmacSecret(File), urlToken(File), header+headerValue(File), oidc, or none: true"
            )
        if len(kinds) > 1:
            raise ValueError(f"choose one auth kind, got {', '.join(kinds)}")
        if kinds == ["header"] and (self.header is None or self.header_value is None):
            raise ValueError("header and headerValue (or headerValueFile) go together")
        for secret in (self.bearer_token, self.hmac_secret, self.url_token, self.header_value):
            if secret is not None and not secret.get_secret_value():
                raise ValueError("secrets must not be empty")
        return self

    @property
    def kind(self) -> str:
        for kind, present in (
            ("bearerToken", self.bearer_token is not None),
            ("basic", self.basic is not None),
            ("hmacSecret", self.hmac_secret is not None),
            ("urlToken", self.url_token is not None),
            ("header", self.header is not None),
            ("oidc", self.oidc is not None),
        ):
            if present:
                return kind
        return "none"


class WebhookConfig(_Model):
    name: str
    format: WebhookFormat
    registry: str
    auth: WebhookAuth
    max_body_bytes: Annotated[int, Field(gt=0, le=64 * 1024 * 1024)] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be lower-case letters, digits, '.', '_' or '-' (a URL segment)")
        return value


def template_fields(template: str) -> set[str]:
    return set(_TEMPLATE_FIELD.findall(template))


class RuleConfig(_Model):
    registry: str
    repository: str
    tags: list[str] = Field(default_factory=lambda: ["*"])
    namespace: str
    image_stream: str = "{name}"
    tag: str = "{tag}"
    allowed_namespaces: list[str] | None = None

    @field_validator("namespace", "image_stream", "tag")
    @classmethod
    def _template(cls, value: str, info: ValidationInfo) -> str:
        fields = template_fields(value)
        unknown = fields - TEMPLATE_FIELDS
        if unknown:
            raise ValueError(
                f"unknown template field(s) {sorted(unknown)}; use {sorted(TEMPLATE_FIELDS)}"
            )
        if not value:
            raise ValueError("must not be empty")
        problem = None if fields else name_problem(to_camel(info.field_name or ""), value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("must list at least one glob (default ['*'])")
        return value

    @model_validator(mode="after")
    def _namespace_guard(self) -> RuleConfig:
        if template_fields(self.namespace):
            if self.allowed_namespaces is None:
                raise ValueError(
                    "a templated namespace needs allowedNamespaces (globs), e.g. ['team-*']"
                )
        elif not any(
            fnmatchcase(self.namespace, glob) for glob in self.effective_allowed_namespaces
        ):
            raise ValueError(f"namespace {self.namespace!r} is not in its allowedNamespaces")
        return self

    @property
    def effective_allowed_namespaces(self) -> list[str]:
        return self.allowed_namespaces if self.allowed_namespaces is not None else [self.namespace]


class Settings(_Model):
    server: ServerConfig = Field(default_factory=ServerConfig)
    queue: QueueConfig = Field(default_factory=QueueConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    openshift: OpenShiftConfig = Field(default_factory=OpenShiftConfig)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    registries: list[RegistryConfig] = Field(default_factory=list)
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    rules: list[RuleConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Settings:
        problems: list[str] = []
        registry_names = [r.name for r in self.registries]
        for i, name in enumerate(registry_names):
            if name in registry_names[:i]:
                problems.append(f"registries[{i}].name: duplicate registry name {name!r}")
        webhook_names = [w.name for w in self.webhooks]
        for i, hook in enumerate(self.webhooks):
            if hook.name in webhook_names[:i]:
                problems.append(f"webhooks[{i}].name: duplicate webhook name {hook.name!r}")
            if hook.registry not in registry_names:
                problems.append(f"webhooks[{i}].registry: no registry named {hook.registry!r}")
        for i, rule in enumerate(self.rules):
            if rule.registry not in registry_names:
                problems.append(f"rules[{i}].registry: no registry named {rule.registry!r}")
        if problems:
            raise ConfigError(problems)
        return self

    def registry(self, name: str) -> RegistryConfig:
        for registry in self.registries:
            if registry.name == name:
                return registry
        raise KeyError(name)

    def webhook(self, name: str) -> WebhookConfig | None:
        for hook in self.webhooks:
            if hook.name == name:
                return hook
        return None


def _location(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith(("function-", "literal[", "constrained-", "nullable[")):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _format_errors(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        message = message.removeprefix("Value error, ")
        problems.append(f"{_location(tuple(error['loc']))}: {message}")
    return problems


def parse_settings(data: Mapping[str, Any] | None) -> Settings:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(["(top level): must be a mapping of keys"])
    try:
        return Settings.model_validate(dict(data))
    except ConfigError:
        raise
    except ValidationError as exc:
        nested = [
            e["ctx"]["error"]
            for e in exc.errors(include_url=False)
            if isinstance(e.get("ctx", {}).get("error"), ConfigError)
        ]
        if nested:
            raise nested[0] from None
        raise ConfigError(_format_errors(exc)) from None


def load_settings(path: str | os.PathLike[str]) -> Settings:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read config file {str(path)!r}: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    return parse_settings(data)


def resolve_config_path(cli_value: str | None) -> str | None:
    return cli_value or os.environ.get(CONFIG_ENV) or None


def effective_config(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with every secret masked (``check-config`` output)."""
    dumped: dict[str, Any] = settings.model_dump(mode="json", by_alias=True)
    _drop_secrets_read_from_files(dumped)
    return dumped


def _drop_secrets_read_from_files(node: Any) -> None:
    """``fooFile`` set: leave out the masked ``foo`` it filled, so the output loads again."""
    if isinstance(node, list):
        for item in node:
            _drop_secrets_read_from_files(item)
    elif isinstance(node, dict):
        for key in [k for k in node if k.endswith("File") and node[k] is not None]:
            node.pop(key.removesuffix("File"), None)
        for value in node.values():
            _drop_secrets_read_from_files(value)
