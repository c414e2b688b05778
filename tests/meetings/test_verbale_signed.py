"""The signed copy of a published verbale: recognised by content, then the official download.

On SQLite by default, on PostgreSQL with ``DATABASE_URL`` (tests/dbs.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from collab.db import Database
from collab.documents.models import StoredFile
from collab.documents.sniff import PDF
from collab.meetings import actions, attendance, documents, minutes, signed
from collab.meetings.models import Meeting, Verbale
from tests.conftest import World
from tests.helpers import Client, italian, parse, snapshot, text_of
from tests.meetings.scene import comune_id, convene

Login = Callable[[str], Awaitable[Client]]


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        length = bytes([size])
    else:
        raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def p7m(payload: bytes = b"%PDF-1.7 il verbale") -> bytes:
    """A CMS ContentInfo of signedData as a signing tool writes it (DER), trimmed to its frame."""
    encap = _tlv(
        0x30, _tlv(0x06, bytes.fromhex("2a864886f70d010701")) + _tlv(0xA0, _tlv(0x04, payload))
    )
    signed_data = _tlv(0x30, _tlv(0x02, b"\x01") + _tlv(0x31, b"") + encap + _tlv(0x31, b""))
    return _tlv(0x30, bytes.fromhex("06092a864886f70d010702") + _tlv(0xA0, signed_data))


def pades(body: bytes = b"1 0 obj\n<< /Type /Catalog >>\nendobj\n") -> bytes:
    """A PDF with a signature dictionary whose /ByteRange frames the hex signature."""
    hole = b"<" + b"30820a1f" * 64 + b">"
    tail = b" >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"

    def head(first: int, second: int, length: int) -> bytes:
        return (
            b"%PDF-1.7\n" + body + b"2 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite "
            b"/SubFilter /ETSI.CAdES.detached /ByteRange ["
            + b"0 %010d %010d %010d" % (first, second, length)
            + b"] /Contents "
        )

    first = len(head(0, 0, 0))
    second = first + len(hole)
    return head(first, second, len(tail)) + hole + tail


PLAIN_PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"


def _write(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "f"
    path.write_bytes(content)
    return path


def test_a_pades_pdf_is_told_from_a_plain_one(tmp_path: Path) -> None:
    assert signed.is_pades(_write(tmp_path, pades()))
    assert signed.sniff(_write(tmp_path, pades())) == PDF
    assert not signed.is_pades(_write(tmp_path, PLAIN_PDF))
    assert signed.sniff(_write(tmp_path, PLAIN_PDF)) == PDF  # a PDF: refused later, as unsigned
    # A /ByteRange that points outside the file, or at no hex signature, is no signature.
    cut = pades()[:-10]
    assert not signed.is_pades(_write(tmp_path, cut))
    forged = PLAIN_PDF + b"/ByteRange [0 5 10 3]"
    assert not signed.is_pades(_write(tmp_path, forged))
    assert not signed.is_pades(_write(tmp_path, b"PK\x03\x04 /ByteRange [0 1 2 3]"))


def test_a_p7m_is_a_cms_signed_data_by_its_content(tmp_path: Path) -> None:
    envelope = p7m()
    assert signed.is_p7m(_write(tmp_path, envelope))
    assert signed.sniff(_write(tmp_path, envelope)) == signed.P7M
    assert signed.sniff(_write(tmp_path, p7m(b"x" * 5000))) == signed.P7M  # long-form lengths
    # Cut short, or with bytes after it, or another CMS type (data, not signedData): no.
    assert not signed.is_p7m(_write(tmp_path, envelope[:-1]))
    assert not signed.is_p7m(_write(tmp_path, envelope + b"\x00"))
    other = envelope.replace(
        bytes.fromhex("2a864886f70d010702"), bytes.fromhex("2a864886f70d010701")
    )
    assert not signed.is_p7m(_write(tmp_path, other))
    for content in (b"", b"\x30", b"ciao", b"\x30\x84\xff\xff\xff\xff"):
        assert signed.sniff(_write(tmp_path, content)) is None


async def _published(
    db: Database, world: World, *, public: bool = False, publish: bool = True
) -> int:
    """A meeting of ZO 5 held and closed; its verbale published unless told otherwise."""
    chair, mayor = world["portavoce5"], world["sindaco5"]
    meeting = await convene(db, world["staff"], (5,), public=public)
    async with db.transaction() as uow:
        await actions.do_open(uow, chair, meeting.id)
    async with db.transaction() as uow:
        await attendance.do_check_in(uow, mayor, meeting.id, await comune_id(db, "001191"))
    async with db.transaction() as uow:
        await minutes.do_close(uow, chair, meeting.id)
    if publish:
        async with db.transaction() as uow:
            await minutes.do_publish_verbale(uow, chair, meeting.id)
    return meeting.id


async def _verbale(db: Database, meeting_id: int) -> Verbale:
    async with db.session() as session:
        verbale = await session.scalar(select(Verbale).where(Verbale.meeting_id == meeting_id))
    assert verbale is not None
    return verbale


def _file(
    name: str, content: bytes, mime: str = "application/octet-stream"
) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("signed", (name, content, mime))]


async def test_only_a_published_verbale_takes_a_signed_copy(
    login_as: Login, db: Database, world: World
) -> None:
    meeting_id = await _published(db, world, publish=False)
    url = f"/meetings/{meeting_id}/verbale/signed"
    chair = await login_as("portavoce5")
    before = await snapshot(db)
    refused = await chair.upload(url, files=_file("verbale.pdf", pades()))
    assert refused.status_code == 409
    assert italian(signed.NOT_PUBLISHED) in refused.text
    page = await chair.get(f"/meetings/{meeting_id}/verbale")
    assert parse(page).select_one('[data-testid="verbale-sign"]') is None
    assert await snapshot(db) == before


async def test_the_signed_copy_becomes_the_official_download(
    login_as: Login, db: Database, world: World, new_client: Callable[[], Client]
) -> None:
    meeting_id = await _published(db, world, public=True)
    page_url = f"/meetings/{meeting_id}/verbale"
    url = f"{page_url}/signed"
    chair, mayor = await login_as("portavoce5"), await login_as("sindaco5")
    stranger = await login_as("sindaco9")  # of another zone

    # Before: the chair is offered the form, a mayor is not; no signed copy to fetch.
    form = parse(await chair.get(page_url)).select_one('form[data-testid="verbale-sign-form"]')
    assert form is not None and form["action"] == url
    assert form["enctype"] == "multipart/form-data"
    assert parse(await mayor.get(page_url)).select_one('[data-testid="verbale-sign"]') is None
    assert (await mayor.get(url)).status_code == 404

    # Refused: who may not publish, no file, an unsigned PDF, something else. Nothing kept.
    before = await snapshot(db)
    assert (await mayor.upload(url, files=_file("v.pdf", pades()))).status_code == 403
    assert (await stranger.upload(url, files=_file("v.pdf", pades()))).status_code == 404
    empty = await chair.upload(url)
    assert empty.status_code == 422
    assert text_of(empty, "#signed-file ~ .invalid-feedback") == italian(signed.NO_FILE)
    unsigned = await chair.upload(url, files=_file("verbale.pdf", PLAIN_PDF, "application/pdf"))
    assert unsigned.status_code == 422
    assert text_of(unsigned, "#signed-file ~ .invalid-feedback") == italian(signed.NOT_SIGNED)
    named = await chair.upload(
        url, files=_file("verbale.pdf.p7m", b"non sono firmato", "application/pkcs7-mime")
    )
    assert named.status_code == 415
    assert "PDF, P7M" in named.text
    # Without the CSRF token, nothing is read.
    token_less = await chair.http.post(url, files=_file("v.pdf", pades()))
    assert token_less.status_code == 403
    assert await snapshot(db) == before

    # Accepted: it is kept under its hash and the verbale points at it.
    content = pades()
    digest = hashlib.sha256(content).hexdigest()
    done = await chair.upload(url, files=_file("Verbale firmato.pdf", content, "application/pdf"))
    assert done.status_code == 303 and done.headers["location"] == page_url
    verbale = await _verbale(db, meeting_id)
    assert verbale.signed_at is not None and verbale.signed_by_id == world["portavoce5"].id
    async with db.session() as session:
        stored = await session.get(StoredFile, verbale.signed_file_id)
    assert stored is not None and stored.sha256 == digest and stored.name == "Verbale firmato.pdf"

    # The page: the signed file first, with its fingerprint; the PDF as the unsigned version.
    page = await mayor.get(page_url)
    box = parse(page).select_one('[data-testid="verbale-signed"]')
    assert box is not None
    assert text_of(page, '[data-testid="verbale-signed-sha256"]') == digest
    link = box.select_one('a[data-testid="verbale-signed-link"]')
    assert link is not None and link["href"] == url
    unsigned_link = box.select_one('a[data-testid="verbale-pdf"]')
    assert unsigned_link is not None and unsigned_link["href"] == f"{page_url}.pdf"
    assert unsigned_link.get_text(strip=True) == italian("Unsigned version (PDF)")
    assert parse(page).select_one('[data-testid="verbale-sign"]') is None
    download = await mayor.get(url)
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "attachment" in download.headers["content-disposition"]
    assert (await stranger.get(url)).status_code == 404

    # Official means final: a second upload is refused, changing nothing.
    before = await snapshot(db)
    again = await chair.upload(url, files=_file("altro.pdf", pades(b"% altro\n")))
    assert again.status_code == 409
    assert italian(signed.ALREADY_SIGNED) in again.text
    assert await snapshot(db) == before

    # The public link serves the page with both files, and both files.
    async with db.session() as session:
        token = await session.scalar(select(Meeting.public_token).where(Meeting.id == meeting_id))
    visitor = new_client()
    public = await visitor.get(f"/m/{token}/verbale")
    assert public.status_code == 200
    assert text_of(public, '[data-testid="verbale-signed-sha256"]') == digest
    public_link = parse(public).select_one('a[data-testid="verbale-signed-link"]')
    assert public_link is not None and public_link["href"] == f"/m/{token}/verbale/signed"
    public_signed = await visitor.get(f"/m/{token}/verbale/signed")
    assert public_signed.status_code == 200 and public_signed.content == content
    public_pdf = await visitor.get(f"/m/{token}/verbale.pdf")
    assert public_pdf.status_code == 200 and public_pdf.content.startswith(b"%PDF-")
    assert public_pdf.headers["referrer-policy"] == "same-origin"


async def test_a_p7m_is_accepted_and_served_as_such(
    login_as: Login, db: Database, world: World
) -> None:
    meeting_id = await _published(db, world)
    chair = await login_as("portavoce5")
    url = f"/meetings/{meeting_id}/verbale/signed"
    envelope = p7m()
    done = await chair.upload(url, files=_file("verbale.pdf.p7m", envelope))
    assert done.status_code == 303
    download = await chair.get(url)
    assert download.status_code == 200 and download.content == envelope
    assert download.headers["content-type"] == "application/pkcs7-mime"
    assert 'filename="verbale.pdf.p7m"' in download.headers["content-disposition"]


@pytest.mark.parametrize("path", ["/m/not-a-token/verbale.pdf", "/m/not-a-token/verbale/signed"])
async def test_a_bad_public_link_has_no_verbale(
    new_client: Callable[[], Client], path: str
) -> None:
    assert (await new_client().get(path)).status_code == 404


async def test_a_draft_is_not_served_through_the_public_link(
    db: Database, world: World, new_client: Callable[[], Client]
) -> None:
    meeting_id = await _published(db, world, public=True, publish=False)
    async with db.session() as session:
        token = await session.scalar(select(Meeting.public_token).where(Meeting.id == meeting_id))
    for path in ("verbale", "verbale.pdf", "verbale/signed"):
        assert (await new_client().get(f"/m/{token}/{path}")).status_code == 404


async def test_a_published_verbale_s_pdf_is_laid_out_once(
    login_as: Login,
    db: Database,
    world: World,
    new_client: Callable[[], Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meeting_id = await _published(db, world, public=True, publish=False)
    renders: list[str] = []
    real = documents.render_pdf_async

    async def counted(html: str, *args: object, **kwargs: object) -> bytes:
        renders.append(html)
        return await real(html)

    monkeypatch.setattr(documents, "render_pdf_async", counted)
    chair = await login_as("portavoce5")
    url = f"/meetings/{meeting_id}/verbale.pdf"
    # A draft changes: laid out on every request.
    assert (await chair.get(url)).status_code == 200
    assert (await chair.get(url)).status_code == 200
    assert len(renders) == 2
    async with db.transaction() as uow:
        await minutes.do_publish_verbale(uow, world["portavoce5"], meeting_id)
    async with db.session() as session:
        token = await session.scalar(select(Meeting.public_token).where(Meeting.id == meeting_id))
    first = await chair.get(url)
    public = await new_client().get(f"/m/{token}/verbale.pdf")
    again = await new_client().get(f"/m/{token}/verbale.pdf")
    assert len(renders) == 3  # published: once, then kept
    assert first.content == public.content == again.content
    assert public.content.startswith(b"%PDF-")


async def test_with_htmx_an_error_replaces_the_form_and_success_redirects(
    login_as: Login, db: Database, world: World
) -> None:
    meeting_id = await _published(db, world)
    chair = await login_as("portavoce5")
    url = f"/meetings/{meeting_id}/verbale/signed"
    form = parse(await chair.get(f"/meetings/{meeting_id}/verbale")).select_one(
        'form[data-testid="verbale-sign-form"]'
    )
    assert form is not None and form["hx-post"] == url
    assert form["hx-target"] == form["hx-select"] == "#verbale-sign"
    refused = await chair.upload(url, files=_file("v.pdf", PLAIN_PDF), htmx=True)
    assert refused.status_code == 422
    section = parse(refused).select_one("#verbale-sign")
    assert section is not None
    assert text_of(refused, "#verbale-sign #signed-file ~ .invalid-feedback") == italian(
        signed.NOT_SIGNED
    )
    done = await chair.upload(url, files=_file("v.pdf", pades()), htmx=True)
    assert done.status_code == 200
    assert done.headers["hx-redirect"] == f"/meetings/{meeting_id}/verbale"
