"""The streaming multipart parser in isolation: a tiny app calls ``parse_upload``.

The app answers JSON (the fields, and for every file its name, SHA-256, size
and type) or the status of the :class:`collab.errors.ActionError` raised. It
is driven through httpx's ASGI transport, mostly with a streaming body (an
async generator of chunks, so no ``Content-Length``), the way a browser's
chunked or a slow upload arrives.
"""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Message

from collab.documents.store import FileStore
from collab.errors import ActionError
from collab.uploads import MAX_FIELD_BYTES, parse_upload

BOUNDARY = "----collab-test-boundary-7MA4YWxkTrZu0gW"
CHUNK = 64 * 1024
MiB = 1024 * 1024
LIMIT = 40 * MiB
PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
CSV_LINE = b"comune;anno;valore\n"


def make_app(root: Path, limit: int = LIMIT, max_files: int = 3) -> Starlette:
    store = FileStore(root)

    async def upload(request: Request) -> JSONResponse:
        try:
            async with await parse_upload(request, store, limit, max_files) as form:
                if request.query_params.get("keep"):
                    for item in form.files:
                        item.incoming.keep()
                        item.kept = True
                return JSONResponse(
                    {
                        "fields": form.fields,
                        "files": [
                            {
                                "field": item.field,
                                "name": item.name,
                                "sha256": item.sha256,
                                "size": item.size,
                                "mime": item.kind.mime,
                            }
                            for item in form.files
                        ],
                    }
                )
        except ActionError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except ClientDisconnect:
            return JSONResponse({"error": "disconnected"}, status_code=499)

    return Starlette(routes=[Route("/upload", upload, methods=["POST"])])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture
async def http(root: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(make_app(root)) as client:
        yield client


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60
    )


# --- building bodies -----------------------------------------------------------


def part_head(name: str, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if filename is not None:
        head += "Content-Type: application/octet-stream\r\n"
    return (head + "\r\n").encode()


def body_chunks(
    parts: Iterable[tuple[str, str | None, Iterable[bytes]]], *, close: bool = True
) -> Iterator[bytes]:
    """A multipart body, chunk by chunk: (name, filename or None, chunks of the value)."""
    for name, filename, chunks in parts:
        yield part_head(name, filename)
        yield from chunks
        yield b"\r\n"
    if close:
        yield f"--{BOUNDARY}--\r\n".encode()


def body(parts: Iterable[tuple[str, str | None, bytes]]) -> bytes:
    return b"".join(body_chunks((n, f, [v]) for n, f, v in parts))


async def streamed(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def csv_chunks(total: int, chunk: int = CHUNK) -> Iterator[bytes]:
    """``total`` bytes of a valid CSV in ``chunk``-sized pieces, made on the fly."""
    lines = CSV_LINE * (chunk // len(CSV_LINE) + 1)
    sent = 0
    while sent < total:
        piece = lines[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


HEADERS = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


async def post_stream(
    http: httpx.AsyncClient, chunks: Iterable[bytes], url: str = "/upload"
) -> httpx.Response:
    """POST with a generator body: chunked, no Content-Length."""
    return await http.post(url, content=streamed(chunks), headers=HEADERS)


async def post(
    http: httpx.AsyncClient, parts: Iterable[tuple[str, str | None, bytes]], url: str = "/upload"
) -> httpx.Response:
    return await http.post(url, content=body(parts), headers=HEADERS)


def left_under(root: Path) -> list[Path]:
    """Every file under the store root, temporary ones included."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- the tests -------------------------------------------------------------------


async def test_a_large_file_streams_with_bounded_memory(
    http: httpx.AsyncClient, root: Path
) -> None:
    size = 30 * MiB
    digest = hashlib.sha256()
    for piece in csv_chunks(size):
        digest.update(piece)
    chunks = body_chunks([("title", None, [b"Dati"]), ("file", "dati.csv", csv_chunks(size))])
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        response = await post_stream(http, chunks, "/upload?keep=1")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["fields"] == {"title": ["Dati"]}
    [stored] = answer["files"]
    assert stored == {
        "field": "file",
        "name": "dati.csv",
        "sha256": digest.hexdigest(),
        "size": size,
        "mime": "text/csv",
    }
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB while streaming 30 MiB"
    path = root / digest.hexdigest()[:2] / digest.hexdigest()
    assert path.stat().st_size == size
    assert left_under(root) == [path]  # nothing in tmp/


async def test_oversize_with_content_length_is_refused_before_reading(root: Path) -> None:
    async with _client(make_app(root, limit=MiB, max_files=1)) as http:
        data = body([("file", "big.csv", b"".join(csv_chunks(2 * MiB)))])
        response = await http.post("/upload", content=data, headers=HEADERS)
    assert response.status_code == 413
    assert left_under(root) == []


async def test_oversize_while_streaming_is_refused_and_deleted(root: Path) -> None:
    # Three files may come, so a lone 2 MiB file passes the Content-Length check
    # (none here anyway): the store's count stops it.
    async with _client(make_app(root, limit=MiB)) as http:
        chunks = body_chunks([("file", "big.csv", csv_chunks(2 * MiB))])
        response = await post_stream(http, chunks)
    assert response.status_code == 413
    assert left_under(root) == []


async def test_oversize_under_a_lying_content_length(root: Path) -> None:
    async with _client(make_app(root, limit=MiB, max_files=1)) as http:
        chunks = body_chunks([("file", "big.csv", csv_chunks(2 * MiB))])
        headers = {**HEADERS, "content-length": "1000"}
        response = await http.post("/upload", content=streamed(chunks), headers=headers)
    assert response.status_code == 413
    assert left_under(root) == []


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("x.pdf", b"<!doctype html><html><script>alert(1)</script></html>\n"),
        ("x.docx", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200),
    ],
)
async def test_a_spoofed_type_is_refused_and_deleted(
    http: httpx.AsyncClient, root: Path, filename: str, data: bytes
) -> None:
    response = await post(http, [("title", None, b"t"), ("file", filename, data)])
    assert response.status_code == 415
    assert left_under(root) == []


async def test_a_refused_second_file_drops_the_first_too(
    http: httpx.AsyncClient, root: Path
) -> None:
    response = await post(http, [("a", "ok.pdf", PDF), ("b", "bad.pdf", b"<html></html>")])
    assert response.status_code == 415
    assert left_under(root) == []


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\windows\\system32\\evil.pdf", "evil.pdf"),
        ("C:\\Users\\me\\Documents\\verbale.pdf", "verbale.pdf"),
        ("bad\x01na\x1bme\x7f.pdf", "badname.pdf"),
        ("in\u202egnp.exe", "ingnp.exe.pdf"),
        ("tab\tand newline.pdf", "tab and newline.pdf"),
    ],
)
async def test_file_names_are_cleaned(http: httpx.AsyncClient, raw: str, clean: str) -> None:
    # httpx would escape quotes and controls itself: the raw header is built here.
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{raw}"\r\n\r\n'
    ).encode()
    data = head + PDF + f"\r\n--{BOUNDARY}--\r\n".encode()
    response = await http.post("/upload", content=data, headers=HEADERS)
    assert response.status_code == 200, response.text
    [stored] = response.json()["files"]
    assert stored["name"] == clean
    assert stored["mime"] == "application/pdf"


async def test_the_same_bytes_twice_are_stored_once(http: httpx.AsyncClient, root: Path) -> None:
    first = await post(http, [("file", "a.pdf", PDF)], "/upload?keep=1")
    second = await post(http, [("file", "copia.pdf", PDF)], "/upload?keep=1")
    assert first.status_code == second.status_code == 200
    sha = hashlib.sha256(PDF).hexdigest()
    assert first.json()["files"][0]["sha256"] == second.json()["files"][0]["sha256"] == sha
    assert left_under(root) == [root / sha[:2] / sha]


async def test_two_files_in_one_form_with_the_same_bytes(
    http: httpx.AsyncClient, root: Path
) -> None:
    response = await post(http, [("a", "a.pdf", PDF), ("b", "b.pdf", PDF)], "/upload?keep=1")
    assert response.status_code == 200, response.text
    assert [f["name"] for f in response.json()["files"]] == ["a.pdf", "b.pdf"]
    sha = hashlib.sha256(PDF).hexdigest()
    assert left_under(root) == [root / sha[:2] / sha]


async def test_files_not_kept_are_deleted(http: httpx.AsyncClient, root: Path) -> None:
    response = await post(http, [("file", "a.pdf", PDF)])
    assert response.status_code == 200
    assert left_under(root) == []


async def test_an_empty_file_input_is_ignored(http: httpx.AsyncClient, root: Path) -> None:
    response = await post(http, [("title", None, b"Solo testo"), ("file", "", b"")])
    assert response.status_code == 200, response.text
    assert response.json() == {"fields": {"title": ["Solo testo"]}, "files": []}
    assert left_under(root) == []


async def test_an_empty_file_with_a_name_is_refused(http: httpx.AsyncClient, root: Path) -> None:
    response = await post(http, [("file", "vuoto.pdf", b"")])
    assert response.status_code == 422  # empty, which says more than "not a PDF"
    assert left_under(root) == []


async def test_a_truncated_body_is_refused_and_deleted(http: httpx.AsyncClient, root: Path) -> None:
    chunks = body_chunks([("file", "dati.csv", csv_chunks(300 * 1024))], close=False)
    # Not even the CRLF before the closing boundary: the body stops inside the file.
    response = await post_stream(http, list(chunks)[:-1])
    assert response.status_code == 422
    assert left_under(root) == []


async def test_a_body_without_the_closing_boundary_is_refused(
    http: httpx.AsyncClient, root: Path
) -> None:
    chunks = body_chunks([("file", "a.pdf", [PDF])], close=False)
    response = await post_stream(http, chunks)
    assert response.status_code == 422
    assert left_under(root) == []


async def test_not_multipart_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.post("/upload", data={"a": "b"})
    assert response.status_code == 422


async def test_too_many_files(http: httpx.AsyncClient, root: Path) -> None:
    parts = [("file", f"{n}.pdf", PDF + str(n).encode()) for n in range(4)]
    response = await post(http, parts)
    assert response.status_code == 422
    assert left_under(root) == []


async def test_the_most_files_allowed_pass(http: httpx.AsyncClient) -> None:
    parts = [("file", f"{n}.pdf", PDF + str(n).encode()) for n in range(3)]
    response = await post(http, parts)
    assert response.status_code == 200, response.text
    assert len(response.json()["files"]) == 3


async def test_text_fields_over_the_bound_are_refused(http: httpx.AsyncClient, root: Path) -> None:
    half = b"x" * (MAX_FIELD_BYTES // 2 + 1)
    chunks = body_chunks([("file", "a.pdf", [PDF]), ("a", None, [half]), ("b", None, [half])])
    response = await post_stream(http, chunks)
    assert response.status_code == 413
    assert left_under(root) == []


async def test_text_fields_up_to_the_bound_pass(http: httpx.AsyncClient) -> None:
    value = "è" * (MAX_FIELD_BYTES // 4)  # two bytes each: half the bound
    response = await post(http, [("description", None, value.encode())])
    assert response.status_code == 200
    assert response.json()["fields"] == {"description": [value]}


async def test_a_client_disconnect_mid_upload_leaves_nothing(root: Path) -> None:
    app = make_app(root)
    chunks = list(body_chunks([("file", "dati.csv", csv_chunks(3 * MiB))]))
    messages: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": True}
        for chunk in chunks[: len(chunks) // 2]
    ]
    seen_tmp: list[list[Path]] = []

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        seen_tmp.append(left_under(root))  # the partial file exists right now
        return {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/upload",
        "raw_path": b"/upload",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", HEADERS["content-type"].encode())],
        "server": ("test", 80),
        "client": ("127.0.0.1", 1234),
    }
    await app(scope, receive, send)
    assert seen_tmp and len(seen_tmp[0]) == 1 and seen_tmp[0][0].parent.name == "tmp"
    assert sent[0]["status"] == 499
    assert left_under(root) == []


async def test_an_empty_file_input_does_not_count_as_a_file(root: Path) -> None:
    # One chunk holds both parts: the empty one is still pending when the second starts.
    async with _client(make_app(root, max_files=1)) as http:
        response = await post(http, [("old", "", b""), ("file", "a.pdf", PDF)])
    assert response.status_code == 200, response.text
    assert [f["name"] for f in response.json()["files"]] == ["a.pdf"]
