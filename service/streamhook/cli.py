"""Command line: ``serve``, ``check-config``, ``map``, ``--version``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
import sys
from collections.abc import Sequence
from importlib import resources

import structlog
import yaml
from aiohttp import web

from streamhook import __version__, rules
from streamhook import logging as shlogging
from streamhook.app import create_app, drain, retry_policy
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
    try:
        return asyncio.run(_serve(settings))
    except ConfigError as error:  # found while starting: e.g. an unusable kubeconfig
        _print_config_errors(error)
        return EXIT_FAILED


async def _serve(settings: Settings) -> int:
    """Serve until SIGTERM/SIGINT, then drain while the listener still answers (503 for new
    webhooks, /readyz not ready), and only then close it."""
    app = create_app(settings)
    runner = web.AppRunner(
        app,
        access_log_class=shlogging.AccessLogger,
        # In-flight webhook requests only read a body and enqueue; the queue drain before
        # this has its own deadline (server.shutdownTimeoutSeconds).
        shutdown_timeout=HANDLER_SHUTDOWN_SECONDS,
    )
    await runner.setup()
    try:
        site = web.TCPSite(
            runner, settings.server.host, settings.server.port, ssl_context=_ssl_context(settings)
        )
        try:
            await site.start()
        except OSError as error:
            print(
                f"error: cannot listen on {settings.server.listen}: {error.strerror}",
                file=sys.stderr,
            )
            return EXIT_FAILED
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log.info("streamhook.listening", listen=settings.server.listen)
        await stop.wait()
        log.info("streamhook.signal", hint="draining before closing the listener")
        await drain(app)
    finally:
        await runner.cleanup()
    return EXIT_OK


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not (settings.server.tls_cert_file and settings.server.tls_key_file):
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.server.tls_cert_file, settings.server.tls_key_file)
    return context


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
