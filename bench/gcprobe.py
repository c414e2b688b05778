"""Watch the garbage collector of a collab server under a benchmark, and try other settings.

As an app factory (``uvicorn --factory bench.gcprobe:create_app``) it builds
collab's app unchanged, after:

- ``BENCH_GC_LOG=PATH``: appending one line per collection to PATH, its
  generation and how long it stopped the process (ms), from ``gc.callbacks``;
- ``BENCH_GC_THRESHOLDS=A,B,C``: those thresholds instead of
  ``collab.gctune.THRESHOLDS`` (``tune_gc`` still freezes the startup heap);
- ``BENCH_GC_FREEZE_ON_SIGNAL=1``: SIGUSR1 collects and freezes the heap
  again, for a freeze after a benchmark's warm-up (templates compiled,
  statements cached, the dataset's hot rows parsed).

As a command it runs another benchmark with its collab servers started that
way, for the threshold comparison in docs/performance.md::

    python -m bench.gcprobe --thresholds 10000,10,10 -- bench.fanout --rounds 1

The figures of the other benchmark are its own; the collections of each
server are summed from the logs (``--log-dir``, one file per server process).
"""

from __future__ import annotations

import argparse
import gc
import os
import runpy
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["create_app", "read_log", "summarize"]

FACTORY = "bench.gcprobe:create_app"


def _log_collections(path: str) -> None:
    out = open(path, "a", buffering=1)  # noqa: SIM115 - open for the life of the process
    started = [0.0, 0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[:] = time.perf_counter(), time.thread_time()
        else:
            wall = (time.perf_counter() - started[0]) * 1000
            cpu = (time.thread_time() - started[1]) * 1000
            out.write(f"{info['generation']} {wall:.3f} {cpu:.3f}\n")

    gc.callbacks.append(callback)


def _freeze(_signum: int, _frame: Any) -> None:
    gc.collect()
    gc.freeze()


def create_app() -> Any:
    """collab's ``create_app()``, with the collector watched and set as the environment says."""
    from collab import gctune
    from collab.app import create_app as collab_app

    if path := os.environ.get("BENCH_GC_LOG"):
        _log_collections(f"{path}.{os.getpid()}")
    if thresholds := os.environ.get("BENCH_GC_THRESHOLDS"):
        a, b, c = (int(x) for x in thresholds.split(","))
        gctune.THRESHOLDS = (a, b, c)
    if os.environ.get("BENCH_GC_FREEZE_ON_SIGNAL"):
        signal.signal(signal.SIGUSR1, _freeze)
    return collab_app()


Collection = tuple[int, float, float]  # generation, wall ms, CPU ms


def read_log(path: Path, start: int = 0) -> tuple[list[Collection], int]:
    """The collections logged in ``path`` from byte ``start``; the offset reached."""
    try:
        data = path.read_bytes()[start:]
    except FileNotFoundError:
        return [], start
    end = data.rfind(b"\n") + 1  # a line being written is read next time
    rows = []
    for line in data[:end].decode().splitlines():
        generation, wall, cpu = line.split()
        rows.append((int(generation), float(wall), float(cpu)))
    return rows, start + end


def summarize(rows: list[Collection]) -> dict[str, Any]:
    """Collections per generation: how many, total and longest pause (ms), and the
    CPU time of their mean (the pause a quiet machine would see; on a busy one the
    wall time also counts the time the process waited for a core)."""
    out: dict[str, Any] = {}
    for generation in (0, 1, 2):
        walls = [wall for g, wall, _ in rows if g == generation]
        cpus = [cpu for g, _, cpu in rows if g == generation]
        out[f"gen{generation}"] = {
            "n": len(walls),
            "total_ms": round(sum(walls), 1),
            "max_ms": round(max(walls, default=0.0), 1),
            "cpu_mean_ms": round(sum(cpus) / len(cpus), 2) if cpus else 0.0,
            "cpu_max_ms": round(max(cpus, default=0.0), 2),
        }
    out["total_ms"] = round(sum(wall for _, wall, _ in rows), 1)
    out["cpu_total_ms"] = round(sum(cpu for _, _, cpu in rows), 1)
    return out


def _wrap(argv_of: Callable[..., list[str]]) -> Callable[..., list[str]]:
    def argv(app: str, port: int, *, factory: bool = False) -> list[str]:
        if app == "collab.app:create_app":
            app = FACTORY
        return argv_of(app, port, factory=factory)

    return argv


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gcprobe", description=__doc__)
    parser.add_argument("--thresholds", default="", help="A,B,C (collab's own if not given)")
    parser.add_argument("--log-dir", type=Path, default=None, help="where the servers log")
    parser.add_argument("bench", nargs=argparse.REMAINDER, help="-- bench.MODULE [its options]")
    args = parser.parse_args()
    rest = args.bench[1:] if args.bench[:1] == ["--"] else args.bench
    if not rest:
        parser.error("name the benchmark to run: -- bench.fanout ...")
    module, options = rest[0], rest[1:]
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="collab-gcprobe-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    os.environ["BENCH_GC_LOG"] = str(log_dir / "gc")
    if args.thresholds:
        os.environ["BENCH_GC_THRESHOLDS"] = args.thresholds
    import bench.procs

    # The benchmark runs afresh below: its ``from bench.procs import uvicorn_argv`` takes this.
    bench.procs.uvicorn_argv = _wrap(bench.procs.uvicorn_argv)
    sys.argv = [module, *options]
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = int(exc.code or 0)
    for path in sorted(log_dir.glob("gc.*")):
        rows, _ = read_log(path)
        print(f"gc of server {path.suffix[1:]} ({args.thresholds or 'collab'}): {summarize(rows)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
