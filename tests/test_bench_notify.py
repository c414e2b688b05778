"""The notification and digest benchmarks end to end, in their quick modes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.servers import ROOT


def _run(module: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", module, "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert f"command: python -m {module} --quick" in lines
    figures: dict[str, object] = json.loads(lines[-1])
    return figures


@pytest.mark.slow
def test_the_notify_bench_reaches_every_bell_and_inbox_once() -> None:
    figures = _run("bench.notify")
    assert figures["ok"] is True
    assert figures["bells_all"] is True
    assert figures["lost"] == 0 and figures["twice"] == 0
    assert isinstance(figures["people"], int) and figures["people"] > 50
    assert figures["answer_on_ms"] and figures["answer_off_ms"]


@pytest.mark.slow
def test_the_digest_bench_sends_one_message_each_with_nothing_left() -> None:
    figures = _run("bench.digest")
    assert figures["ok"] is True
    assert figures["messages"] == figures["recipients"] == figures["people"] == 100
    assert figures["owed_after"] == 0
