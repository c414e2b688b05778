"""Real server processes for tests: a free port, a uvicorn worker, waiting for it.

Shared by the browser tests (one worker, in-memory layer) and the
multi-process tests (two workers and Redis). A worker is
``python -m uvicorn --factory collab.app:create_app`` run from the repository
root with the environment it is given, its output in a log file.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

__all__ = [
    "ROOT",
    "WS_KEEPALIVE",
    "free_port",
    "quick_bench",
    "start_uvicorn",
    "stop_process",
    "wait_healthy",
]


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# uvicorn's websocket pings, as the Procfile sets them: none of its own; the
# app's heartbeat schedule pings (collab/realtime/beats.py) and closes peers
# gone silent. docs/operations.md, tests/realtime/test_keepalive.py.
WS_KEEPALIVE = ("--ws-ping-interval", "0")


def start_uvicorn(
    port: int,
    env: Mapping[str, str],
    log: Path,
    log_level: str = "warning",
    factory: str = "collab.app:create_app",
) -> subprocess.Popen[bytes]:
    """Start a uvicorn worker of the app on 127.0.0.1:``port``; output goes to ``log``.

    ``factory`` is the app factory uvicorn calls (a test may wrap the real one).
    """
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", factory,
             "--host", "127.0.0.1", "--port", str(port), "--log-level", log_level,
             "--ws-per-message-deflate", "false", *WS_KEEPALIVE],  # as the Procfile
            cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    """Wait until ``url``/healthz answers 200; fail the test (with the log) otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"uvicorn exited with {proc.returncode}:\n{log.read_text(errors='replace')}"
            )
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    pytest.fail(
        f"uvicorn did not answer /healthz within {timeout}s:\n{log.read_text(errors='replace')}"
    )


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10) -> bool:
    """SIGTERM (a graceful shutdown), then SIGKILL if it does not exit in time.

    True when it exited by itself (or had already), False when it was killed.
    """
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False
    return True


def quick_bench(module: str, timeout: float = 600) -> dict[str, Any]:
    """Run ``python -m <module> --quick``; the figures of its last line (it must succeed)."""
    result = subprocess.run(
        [sys.executable, "-m", module, "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert f"command: python -m {module} --quick" in lines
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures
