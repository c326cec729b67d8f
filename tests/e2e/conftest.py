"""Fixtures for e2e tests; on failure, the logs of every process the test started are attached."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Generator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ._process import ManagedProcess

if TYPE_CHECKING:  # the stack imports the OpenShift fake; harness-only tests do not need it
    from ._stack import Stack, StackFactory

PROCESSES = pytest.StashKey[list[ManagedProcess]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for process in item.stash.get(PROCESSES, []):
            for stream, path in zip(("stdout", "stderr"), process.log_paths, strict=True):
                if path.exists():
                    report.sections.append(
                        (f"{process.name} {stream} (pid {process.pid})", path.read_text("utf-8"))
                    )
    return report


@pytest.fixture
def webhook_token() -> str:
    return "wh-" + secrets.token_urlsafe(24)


@pytest.fixture
def api_token() -> str:
    return "sa-" + secrets.token_urlsafe(24)


@pytest.fixture
def stack_factory(
    request: pytest.FixtureRequest, tmp_path: Path, webhook_token: str, api_token: str
) -> StackFactory:
    """``async with stack_factory(filtered=…) as stack:`` — fake API, streamhook, registry."""
    from ._stack import running_stack

    started = request.node.stash.setdefault(PROCESSES, [])

    def factory(*, filtered: bool) -> AbstractAsyncContextManager[Stack]:
        return running_stack(
            tmp_path / ("filtered" if filtered else "unfiltered"),
            filtered=filtered,
            webhook_token=webhook_token,
            api_token=api_token,
            on_process=started.append,
        )

    return factory


@pytest.fixture
async def unfiltered_stack(stack_factory: StackFactory) -> AsyncIterator[Stack]:
    """The registry sends every event (no ``ignore`` block)."""
    async with stack_factory(filtered=False) as stack:
        yield stack


@pytest.fixture
async def filtered_stack(stack_factory: StackFactory) -> AsyncIterator[Stack]:
    """The registry drops blob, pull and mount events (the recommended ``ignore`` filter)."""
    async with stack_factory(filtered=True) as stack:
        yield stack
