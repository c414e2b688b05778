"""The upload benchmark end to end, in its quick mode (20 MB to a real server)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.servers import ROOT


@pytest.mark.slow
def test_the_upload_bench_streams_with_flat_memory() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.upload", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert "command: python -m bench.upload --quick" in lines
    figures = json.loads(lines[-1])
    assert figures["ok"] is True
    assert figures["stored_ok"] is True
    assert figures["size_mb"] == 20
    assert figures["seconds"] > 0 and figures["baseline_seconds"] > 0
    assert figures["mb_per_s"] > 0
    assert figures["rss_samples"] > 1
    assert figures["rss_growth_mb"] < 20, figures
