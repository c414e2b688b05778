"""The signed copy of a published verbale: the official document once uploaded.

After publication, whoever may publish (the chair, the secretary, staff)
uploads the file as signed with a qualified signature: a PAdES PDF (the
signature inside the PDF) or a CAdES envelope (``.p7m``, the signed file
inside). Both are recognised by their content, never by their name:

- PAdES: a PDF (``%PDF-``) with a signature dictionary whose ``/ByteRange``
  ``[0 a b c]`` is real, the hole between ``a`` and ``b`` holding the
  hexadecimal ``<...>`` signature and the ranges within the file;
- ``.p7m``: a DER (or BER) CMS ``ContentInfo`` of type ``signedData``
  (OID 1.2.840.113549.1.7.2) holding a ``SignedData`` with its version.

The signature itself is not verified here (no certificate chain to check it
against); the file is kept as uploaded, and its SHA-256 shown next to it so
anyone can tell that the copy they hold is the official one. The generated
PDF stays available as the unsigned version.

Domain code: no Starlette.
"""

from __future__ import annotations

import mmap
import re
from pathlib import Path

from collab.audit import audit
from collab.db import UnitOfWork
from collab.documents.files import keep
from collab.documents.models import StoredFile
from collab.documents.sniff import PDF, Kind
from collab.documents.upload import Upload
from collab.errors import ActionError, Conflict, PermissionDenied
from collab.i18n import N_
from collab.meetings.actions import lock_meeting, require_reader
from collab.meetings.models import Verbale
from collab.meetings.room import Room
from collab.meetings.rules import may_take_notes
from collab.models import User, utcnow
from collab.realtime.events import VerbaleChanged

__all__ = [
    "KINDS",
    "P7M",
    "check_sign",
    "do_upload_signed",
    "is_p7m",
    "is_pades",
    "sniff",
]

P7M = Kind("application/pkcs7-mime", "p7m", "P7M")
KINDS = (PDF, P7M)

NOT_PUBLISHED = N_("Publish the verbale first: the signed copy is uploaded after publication.")
ALREADY_SIGNED = N_(
    "The signed copy was uploaded already: it is the official document and is not replaced."
)
NO_FILE = N_("Choose the signed file (PAdES PDF or .p7m).")
NOT_SIGNED = N_(
    "This PDF carries no digital signature (PAdES): upload the file as it came out of the "
    "signing software."
)
ONLY_PUBLISHERS = N_("Only who may publish the verbale can upload its signed copy.")

# 1.2.840.113549.1.7.2 (id-signedData), DER-encoded with its tag and length.
_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
_BYTE_RANGE = re.compile(
    rb"/ByteRange\s*\[\s*(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s*\]"
)
_HEX_HOLE = re.compile(rb"<[0-9A-Fa-f\s]*>")


def _der_length(data: bytes, at: int) -> tuple[int | None, int] | None:
    """The length at ``data[at]`` and where the content starts; None: malformed.

    A length of None is BER's indefinite form (0x80).
    """
    if at >= len(data):
        return None
    first = data[at]
    if first < 0x80:
        return first, at + 1
    if first == 0x80:
        return None, at + 1
    count = first & 0x7F
    if count > 4 or at + 1 + count > len(data):
        return None
    return int.from_bytes(data[at + 1 : at + 1 + count], "big"), at + 1 + count


def is_p7m(path: Path) -> bool:
    """Whether the file is a CMS ``ContentInfo`` of ``signedData`` (a ``.p7m``)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(64)
    except OSError:
        return False
    if not head.startswith(b"\x30"):
        return False
    outer = _der_length(head, 1)
    if outer is None:
        return False
    length, start = outer
    if length is not None and start + length != size:
        return False  # DER: the ContentInfo is the whole file
    if head[start : start + len(_SIGNED_DATA)] != _SIGNED_DATA:
        return False
    at = start + len(_SIGNED_DATA)
    if head[at : at + 1] != b"\xa0":  # [0] EXPLICIT content
        return False
    inner = _der_length(head, at + 1)
    if inner is None:
        return False
    at = inner[1]
    if head[at : at + 1] != b"\x30":  # SignedData ::= SEQUENCE
        return False
    signed = _der_length(head, at + 1)
    if signed is None:
        return False
    at = signed[1]
    # CMSVersion ::= INTEGER { v0(0) ... v5(5) }, one byte.
    return head[at : at + 2] == b"\x02\x01" and head[at + 2 : at + 3] in {
        bytes([v]) for v in range(6)
    }


def is_pades(path: Path) -> bool:
    """Whether the PDF at ``path`` holds a signature whose ``/ByteRange`` is real."""
    try:
        with path.open("rb") as f:
            if f.read(5) != b"%PDF-":
                return False
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                size = len(data)
                for found in _BYTE_RANGE.finditer(data):
                    start, first, second, length = (int(g) for g in found.groups())
                    if start != 0 or not 0 < first < second or second + length > size:
                        continue
                    if _HEX_HOLE.fullmatch(data[first:second]):
                        return True
    except (OSError, ValueError):
        return False
    return False


def sniff(path: Path) -> Kind | None:
    """The kind of an upload meant as a signed verbale: a PDF or a ``.p7m``."""
    try:
        with path.open("rb") as f:
            head = f.read(5)
    except OSError:
        return None
    if head == b"%PDF-":
        return PDF
    return P7M if is_p7m(path) else None


def check_sign(user: User, room: Room) -> Verbale:
    """The verbale whose signed copy ``user`` may upload now.

    The route calls it before the upload is read (nothing arrives from who
    may not upload), :func:`do_upload_signed` again under the meeting's lock.
    """
    require_reader(user, room)
    if not may_take_notes(user, room.meeting, room.zone_ids):
        raise PermissionDenied(ONLY_PUBLISHERS)
    verbale = room.verbale
    if verbale is None or verbale.published_at is None:
        raise Conflict(NOT_PUBLISHED)
    if verbale.signed_file_id is not None:
        raise Conflict(ALREADY_SIGNED)
    return verbale


async def do_upload_signed(
    uow: UnitOfWork, user: User, meeting_id: int, upload: Upload | None
) -> StoredFile:
    """Keep ``upload`` as the verbale's signed copy: from now on the official download."""
    room = await lock_meeting(uow, meeting_id)
    verbale = check_sign(user, room)
    if upload is None:
        raise ActionError(NO_FILE, field="signed")
    if upload.kind == PDF and not is_pades(upload.incoming.path):
        raise ActionError(NOT_SIGNED, field="signed")
    stored = await keep(uow.session, upload, user)
    await uow.session.flush()
    verbale.signed_file_id = stored.id
    verbale.signed_at = utcnow()
    verbale.signed_by_id = user.id
    audit(uow.session, user, "verbale.signed", verbale, file=stored.id, sha256=stored.sha256)
    uow.record(VerbaleChanged(zone_id=None, meeting_id=meeting_id, published=True))
    return stored
