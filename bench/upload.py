"""Upload benchmark: one large file streamed to a real collab server, its memory watched.

    python -m bench.upload --size-mb 200

Starts collab (``uvicorn --factory collab.app:create_app``, one worker, a
fresh DATA_DIR with the schema and the demo data) and, as the baseline, a bare
Starlette endpoint that reads and discards the body (:data:`bare_app` below),
on free loopback ports. Logs in as the demo staff user and uploads a generated
CSV of ``--size-mb`` MB to the forms library (``POST /library/<theme>/new``)
as a streamed multipart body (a generator: no ``Content-Length``, never held in
memory), after a 1 MB warm-up. The server's RSS is sampled every 10 ms during
the upload; the stored file's size and SHA-256 on disk are checked against the
client's. The same body goes to the bare endpoint in the same run, so the
throughput ratio does not depend on how fast this machine is today.

Prints a table, the command, and as its last line one JSON object for scripts.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.procs import (
    Server,
    collab_data,
    command_line,
    free_port,
    print_report,
    rss_bytes,
    uvicorn_argv,
    work_dir,
)

ROOT = Path(__file__).resolve().parent.parent
STAFF = "staff@demo.collab.it"
DEMO_PASSWORD = "collab-demo"  # noqa: S105 - collab/demo.py, public demo data
THEME = "trasporti-mobilita"
MB = 1024 * 1024
CHUNK = 64 * 1024
SAMPLE_EVERY = 0.010
BOUNDARY = "----collab-bench-" + secrets.token_hex(8)
CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"|value="([^"]+)"\s+name="csrf_token"')


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the bare baseline: read the body, keep nothing --------------------------------


async def _discard(request: Request) -> JSONResponse:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
    return JSONResponse({"received": received})


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


bare_app = Starlette(
    routes=[Route("/upload", _discard, methods=["POST"]), Route("/health", _health)]
)


# --- the body ---------------------------------------------------------------------


@dataclass
class Body:
    """A multipart body made on the fly: text fields, then ``size`` bytes of CSV."""

    size: int
    tag: str  # makes each upload's content distinct (no deduplication)
    sha256: str = ""
    sent: int = 0  # bytes of the whole body, framing included
    _hash: Any = field(default_factory=hashlib.sha256)

    def csv(self) -> Iterator[bytes]:
        header = f"comune;anno;valore;nota\n# {self.tag}\n".encode()
        line = b"Pinerolo;2024;12345;dato di prova\n"
        block = line * (CHUNK // len(line) + 1)
        first = header + block
        remaining = self.size
        piece = first[: min(CHUNK, remaining)]
        while remaining > 0:
            remaining -= len(piece)
            yield piece
            piece = block[: min(CHUNK, remaining)]

    def chunks(self) -> Iterator[bytes]:
        def part(name: str, extra: str = "") -> bytes:
            return (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n'
            ).encode()

        head = (
            part("title")
            + f"Dati di prova {self.tag}".encode()
            + b"\r\n"
            + part("description")
            + f"Un file CSV generato dal benchmark ({self.size // MB} MB).".encode()
            + b"\r\n"
            + part("file", f'; filename="dati-{self.tag}.csv"')[:-2]
            + b"Content-Type: text/csv\r\n\r\n"
        )
        yield self._count(head)
        for piece in self.csv():
            self._hash.update(piece)
            yield self._count(piece)
        self.sha256 = self._hash.hexdigest()
        yield self._count(f"\r\n--{BOUNDARY}--\r\n".encode())

    def _count(self, data: bytes) -> bytes:
        self.sent += len(data)
        return data


HEADERS = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


# --- watching the server ------------------------------------------------------------


class Sampler:
    """RSS of a process every 10 ms in a thread, while a block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._read = _rss_reader(pid)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self._read())
            self._stop.wait(SAMPLE_EVERY)

    def __enter__(self) -> Sampler:
        self.samples.append(self._read())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(self._read())


def _rss_reader(pid: int) -> Callable[[], int]:
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        return lambda: rss_bytes(pid)
    process = psutil.Process(pid)
    return lambda: int(process.memory_info().rss)


# --- the runs -------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float
    status: int
    body_bytes: int
    sha256: str
    location: str = ""
    rss_baseline: int = 0
    rss_peak: int = 0
    samples: int = 0


def upload(client: httpx.Client, url: str, size: int, tag: str, pid: int | None = None) -> Outcome:
    body = Body(size, tag)
    baseline = _settled_rss(pid) if pid is not None else 0
    started = time.perf_counter()
    if pid is not None:
        with Sampler(pid) as sampler:
            response = client.post(url, content=body.chunks(), headers=HEADERS)
    else:
        response = client.post(url, content=body.chunks(), headers=HEADERS)
    seconds = time.perf_counter() - started
    outcome = Outcome(seconds, response.status_code, body.sent, body.sha256)
    outcome.location = response.headers.get("location", "")
    if pid is not None:
        outcome.rss_baseline = baseline
        outcome.rss_peak = max(sampler.samples)
        outcome.samples = len(sampler.samples)
    if response.status_code >= 400:
        log(f"  {url} answered {response.status_code}: {response.text[:500]}")
    return outcome


def _settled_rss(pid: int) -> int:
    """The server's RSS once it is idle: the lowest of a few readings over 0.3 s."""
    read = _rss_reader(pid)
    readings = []
    for _ in range(30):
        readings.append(read())
        time.sleep(SAMPLE_EVERY)
    return min(readings)


def csrf_token(client: httpx.Client, path: str) -> str:
    response = client.get(path)
    response.raise_for_status()
    match = CSRF.search(response.text)
    if match is None:
        raise RuntimeError(f"no csrf_token in {path}")
    return match.group(1) or match.group(2)


def login(client: httpx.Client) -> str:
    """Log in as the demo staff user; the new session's CSRF token."""
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": STAFF, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    if response.status_code != 303:
        raise RuntimeError(f"login failed: {response.status_code} {response.text[:300]}")
    return csrf_token(client, f"/library/{THEME}")


def stored_file(files_dir: Path, sha256: str) -> tuple[int, str] | None:
    """Size and SHA-256 (read back from disk) of the content stored under ``sha256``."""
    path = files_dir / sha256[:2] / sha256
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MB):
            digest.update(block)
    return path.stat().st_size, digest.hexdigest()


def prepare_data(data_dir: Path, size: int) -> dict[str, str]:
    log(f"preparing collab's database in {data_dir}")
    return collab_data(data_dir, UPLOAD_MAX_BYTES=str(size + 16 * MB))


@dataclass
class Report:
    size: int
    collab: Outcome
    bare: Outcome
    stored: tuple[int, str] | None
    endpoint: str

    @property
    def ok(self) -> bool:
        return (
            self.collab.status == 303
            and self.collab.location.startswith("/documents/")
            and self.bare.status == 200
            and self.stored == (self.size, self.collab.sha256)
        )

    def summary(self) -> dict[str, object]:
        size_mb = self.size / MB
        return {
            "size_mb": round(size_mb, 1),
            "body_bytes": self.collab.body_bytes,
            "rss_baseline_mb": round(self.collab.rss_baseline / MB, 1),
            "rss_peak_mb": round(self.collab.rss_peak / MB, 1),
            "rss_growth_mb": round((self.collab.rss_peak - self.collab.rss_baseline) / MB, 1),
            "rss_samples": self.collab.samples,
            "seconds": round(self.collab.seconds, 3),
            "mb_per_s": round(size_mb / self.collab.seconds, 1),
            "baseline_seconds": round(self.bare.seconds, 3),
            "baseline_mb_per_s": round(size_mb / self.bare.seconds, 1),
            "ratio": round(self.bare.seconds / self.collab.seconds, 3),
            "endpoint": self.endpoint,
            "stored_ok": self.stored == (self.size, self.collab.sha256),
            "ok": self.ok,
        }


def run(args: argparse.Namespace, workdir: Path) -> Report:
    size = int(args.size_mb * MB)
    env = prepare_data(workdir / "collab-data", size)
    servers: list[Server] = []
    try:
        port = free_port()
        collab = Server(
            "collab",
            uvicorn_argv("collab.app:create_app", port, factory=True),
            port,
            workdir,
            env=env,
            cwd=ROOT,
        )
        servers.append(collab)
        bare_port = free_port()
        bare = Server(
            "bare", uvicorn_argv("bench.upload:bare_app", bare_port), bare_port, workdir, cwd=ROOT
        )
        servers.append(bare)
        collab.wait_http("/healthz")
        bare.wait_http("/health")
        endpoint = f"/library/{THEME}/new"
        timeout = httpx.Timeout(600.0)
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=timeout) as client,
            httpx.Client(base_url=f"http://127.0.0.1:{bare_port}", timeout=timeout) as plain,
        ):
            # The token in the header, as htmx sends it (never in the URL).
            client.headers["X-CSRF-Token"] = login(client)
            url = endpoint
            log("warm-up: 1 MB to each")
            warm = upload(client, url, MB, "warm-up")
            if warm.status != 303:
                raise RuntimeError(f"the warm-up upload to {endpoint} answered {warm.status}")
            upload(plain, "/upload", MB, "warm-up")
            log(f"bare endpoint: {args.size_mb:g} MB")
            bare_outcome = upload(plain, "/upload", size, "bare")
            log(f"collab {endpoint}: {args.size_mb:g} MB, RSS sampled every 10 ms")
            collab_outcome = upload(client, url, size, "run", pid=collab.pid)
        stored = stored_file(Path(env["DATA_DIR"]) / "files", collab_outcome.sha256)
        if collab.proc.poll() is not None:
            raise RuntimeError(f"collab exited:\n{collab.log_tail()}")
        return Report(size, collab_outcome, bare_outcome, stored, endpoint)
    finally:
        for server in servers:
            server.stop()


def table(report: Report) -> str:
    s = report.summary()
    rows = [
        ("", "seconds", "MB/s", "RSS before", "RSS peak", "growth"),
        (
            f"collab POST {report.endpoint}",
            f"{s['seconds']:.2f}",
            f"{s['mb_per_s']:.0f}",
            f"{s['rss_baseline_mb']:.1f} MB",
            f"{s['rss_peak_mb']:.1f} MB",
            f"{s['rss_growth_mb']:.1f} MB",
        ),
        (
            "bare Starlette, body discarded",
            f"{s['baseline_seconds']:.2f}",
            f"{s['baseline_mb_per_s']:.0f}",
            "",
            "",
            "",
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.append("")
    lines.append(
        f"collab / bare throughput: {s['ratio']:.2f}x; "
        f"stored file {'matches' if s['stored_ok'] else 'DOES NOT match'} "
        f"the client's size and SHA-256 ({report.collab.sha256[:16]}...); "
        f"{s['rss_samples']} RSS samples"
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.upload", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--size-mb", type=float, default=200, help="file size in MB (200)")
    parser.add_argument("--quick", action="store_true", help="20 MB, for the tests")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, data)")
    args = parser.parse_args(argv)
    if args.quick:
        args.size_mb = 20
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = command_line("bench.upload", argv)
    with work_dir("upload", keep=args.keep) as path:
        report = run(args, path)
    return print_report(command, table(report), report.summary())


if __name__ == "__main__":
    sys.exit(main())
