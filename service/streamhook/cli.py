"""Command line: ``serve``, ``check-config``, ``map``, ``--version``."""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
from collections.abc import Sequence
from importlib import resources

import structlog
import yaml
from aiohttp import web

from streamhook import __version__, rules
from streamhook import logging as shlogging
from streamhook.app import create_app, retry_policy
from streamhook.config import (
    CONFIG_ENV,
    Settings,
    effective_config,
    load_settings,
    parse_settings,
    resolve_config_path,
)
from streamhook.errors import ConfigError, StreamhookError
from streamhook.events import PushEvent, Target, Work
from streamhook.metrics import Metrics
from streamhook.openshift import DryRunWriter, ImageWriter, create_writer
from streamhook.pipeline.mapper import Mapper
from streamhook.reference import parse_image_ref
from streamhook.registry import RegistryClient
from streamhook.retry import retrying

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
HANDLER_SHUTDOWN_SECONDS = 5.0


def default_config_text() -> str:
    return resources.files("streamhook").joinpath("defaults/local.yaml").read_text("utf-8")


def _load(path: str | None, *, allow_default: bool) -> Settings:
    resolved = resolve_config_path(path)
    if resolved is None:
        if not allow_default:
            raise ConfigError([f"no configuration: pass --config FILE or set {CONFIG_ENV}"])
        return parse_settings(yaml.safe_load(default_config_text()))
    return load_settings(resolved)


def _print_config_errors(error: ConfigError) -> None:
    print("configuration is invalid:", file=sys.stderr)
    for problem in error.problems:
        print(f"  - {problem}", file=sys.stderr)


def _warnings(settings: Settings) -> list[str]:
    found = []
    for i, hook in enumerate(settings.webhooks):
        if hook.auth.none:
            found.append(f"webhooks[{i}].auth: 'none: true' — anyone who can reach it can post")
    for i, registry in enumerate(settings.registries):
        if registry.insecure_skip_tls_verify:
            found.append(f"registries[{i}].insecureSkipTLSVerify: TLS is not verified")
    if not settings.rules:
        found.append("rules: empty — every push will be ignored")
    return found


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        settings = _load(args.config, allow_default=False)
    except ConfigError as error:
        _print_config_errors(error)
        return EXIT_FAILED
    for warning in _warnings(settings):
        print(f"warning: {warning}", file=sys.stderr)
    yaml.safe_dump(effective_config(settings), sys.stdout, sort_keys=False)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        settings = _load(args.config, allow_default=True)
    except ConfigError as error:
        _print_config_errors(error)
        return EXIT_FAILED
    shlogging.configure(settings.log_level, settings.log_format)
    if resolve_config_path(args.config) is None:
        log.warning(
            "config.embedded_default",
            hint=f"no --config or {CONFIG_ENV}: serving the embedded demo config (dry-run)",
        )
    for warning in _warnings(settings):
        log.warning("config.warning", warning=warning)
    app = create_app(settings)
    ssl_context = None
    if settings.server.tls_cert_file and settings.server.tls_key_file:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(settings.server.tls_cert_file, settings.server.tls_key_file)
    try:
        web.run_app(
            app,
            host=settings.server.host,
            port=settings.server.port,
            ssl_context=ssl_context,
            access_log_class=shlogging.AccessLogger,
            # In-flight webhook requests only read a body and enqueue; the queue drain that
            # follows has its own deadline (server.shutdownTimeoutSeconds).
            shutdown_timeout=HANDLER_SHUTDOWN_SECONDS,
            print=None,
        )
    except ConfigError as error:  # found while starting: e.g. an unusable kubeconfig
        _print_config_errors(error)
        return EXIT_FAILED
    return EXIT_OK


def _parse_target(value: str) -> Target:
    namespace, slash, rest = value.partition("/")
    stream, colon, tag = rest.partition(":")
    if not (slash and colon and namespace and stream and tag):
        raise argparse.ArgumentTypeError(f"{value!r}: expected NAMESPACE/STREAM:TAG")
    target = Target(namespace, stream, tag)
    problem = rules.target_problem(target)
    if problem:
        raise argparse.ArgumentTypeError(problem.replace("rendered ", ""))
    return target


async def _map_once(settings: Settings, args: argparse.Namespace) -> int:
    try:
        ref = parse_image_ref(args.ref)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    registry = next((r for r in settings.registries if ref.host in r.known_hosts), None)
    if registry is None:
        known = sorted({h for r in settings.registries for h in r.known_hosts})
        print(f"error: host {ref.host!r} is not a configured registry ({known})", file=sys.stderr)
        return EXIT_USAGE
    tag = ref.tag or (args.to.tag if args.to else None)
    if tag is None:
        print("error: a reference by digest needs --to NAMESPACE/STREAM:TAG", file=sys.stderr)
        return EXIT_USAGE
    event = PushEvent(
        webhook="(cli)",
        registry=registry.name,
        repository=ref.repository,
        tag=tag,
        digest=ref.digest,
    )
    target = args.to
    if target is None:
        decision = rules.decide(settings.rules, event)
        if decision.target is None:
            print(
                f"error: not mapped: {decision.reason} {decision.detail}".rstrip(), file=sys.stderr
            )
            return EXIT_FAILED
        target = decision.target
    metrics = Metrics()
    writer: ImageWriter
    if args.dry_run:
        writer = DryRunWriter("-")
    else:
        writer = await create_writer(settings.openshift, observer=metrics.observe_api_request)
    client = RegistryClient(registry, observer=metrics.observe_registry_request)
    try:
        mapper = Mapper(settings, {registry.name: client}, writer)
        work = Work(event, target)
        result = await retrying(
            lambda: mapper.map(work, reference=ref.digest or ref.tag), retry_policy(settings)
        )
    except StreamhookError as error:
        print(f"error: {error.reason}: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await client.close()
        await writer.close()
    print(f"mapped {args.ref} to {target} as {result.digest}", file=sys.stderr)
    return EXIT_OK


def cmd_map(args: argparse.Namespace) -> int:
    try:
        settings = _load(args.config, allow_default=False)
    except ConfigError as error:
        _print_config_errors(error)
        return EXIT_FAILED
    # Logs go to stderr so that stdout carries only the dry-run JSON Lines.
    shlogging.configure(settings.log_level, settings.log_format)
    return asyncio.run(_map_once(settings, args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamhook",
        description="Registry push notifications become exact OpenShift ImageStreamMappings.",
    )
    parser.add_argument("--version", action="version", version=f"streamhook {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config_help = f"YAML configuration file (default: ${CONFIG_ENV})"

    serve = commands.add_parser("serve", help="run the webhook service")
    serve.add_argument("--config", help=config_help + "; without either, an embedded demo")
    serve.set_defaults(func=cmd_serve)

    check = commands.add_parser(
        "check-config", help="validate and print the effective configuration (secrets masked)"
    )
    check.add_argument("--config", help=config_help)
    check.set_defaults(func=cmd_check_config)

    map_ = commands.add_parser("map", help="map one image now, as the rules (or --to) say")
    map_.add_argument("--config", help=config_help)
    map_.add_argument("--dry-run", action="store_true", help="print the JSON Lines, POST nothing")
    map_.add_argument("--to", type=_parse_target, metavar="NAMESPACE/STREAM:TAG")
    map_.add_argument(
        "ref", metavar="REF", help="host[:port]/repo:tag or host[:port]/repo@sha256:…"
    )
    map_.set_defaults(func=cmd_map)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code
