"""Child processes for e2e tests: free loopback ports, start/stop by PID, bounded polling."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"
DEFAULT_POLL_INTERVAL = 0.05
DEFAULT_STOP_TIMEOUT = 10.0
KILL_WAIT_TIMEOUT = 5.0
LOG_TAIL_CHARS = 20_000


def free_port() -> int:
    """A loopback port that was free a moment ago (bind port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def free_ports(count: int) -> list[int]:
    """Distinct free ports: all sockets are held until every port is chosen."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((LOOPBACK, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


async def wait_until(
    probe: Callable[[], Awaitable[bool]],
    *,
    within: float,
    what: str,
    interval: float = DEFAULT_POLL_INTERVAL,
) -> None:
    """Poll ``probe`` until it returns True; TimeoutError naming ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        if await probe():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not reached within {within:.1f}s")
        await asyncio.sleep(interval)


def read_tail(path: Path, limit: int = LOG_TAIL_CHARS) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return text if len(text) <= limit else "…" + text[-limit:]


class ManagedProcess:
    """One child process with its stdout and stderr in files, stopped by its own PID."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_dir: Path,
        env: Mapping[str, str],
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.stdout_path = log_dir / f"{name}.stdout.log"
        self.stderr_path = log_dir / f"{name}.stderr.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        return self._require().pid

    @property
    def returncode(self) -> int | None:
        return self._require().poll()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log_paths(self) -> tuple[Path, Path]:
        return self.stdout_path, self.stderr_path

    def logs(self) -> str:
        return (
            f"--- {self.name} stdout ---\n{read_tail(self.stdout_path)}\n"
            f"--- {self.name} stderr ---\n{read_tail(self.stderr_path)}"
        )

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError(f"{self.name} already started")
        self.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        with self.stdout_path.open("wb") as stdout, self.stderr_path.open("wb") as stderr:
            self._process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=self.env,
                cwd=self.cwd,
            )

    def ensure_running(self) -> None:
        code = self.returncode
        if code is not None:
            raise RuntimeError(f"{self.name} (pid {self.pid}) exited with {code}\n{self.logs()}")

    async def terminate(self, grace: float = DEFAULT_STOP_TIMEOUT) -> tuple[int, bool]:
        """SIGTERM by PID; SIGKILL if still alive after ``grace`` seconds.

        Returns ``(returncode, exited_in_time)``.
        """
        process = self._require()
        if process.poll() is not None:
            return process.returncode, True
        process.terminate()
        try:
            code = await asyncio.to_thread(process.wait, grace)
        except subprocess.TimeoutExpired:
            process.kill()
            code = await asyncio.to_thread(process.wait, KILL_WAIT_TIMEOUT)
            return code, False
        return code, True

    def _require(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError(f"{self.name} not started")
        return self._process


def minimal_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: nothing from the developer's shell (proxies, KUBECONFIG, …)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
    }
    env.update(extra)
    return env
