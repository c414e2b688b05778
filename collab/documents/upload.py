"""A file that arrived whole, and how many files each form takes.

Domain code (no Starlette): the actions receive :class:`Upload` objects and
check their count; :mod:`collab.uploads` (the web side) makes them while it
streams a multipart body.
"""

from __future__ import annotations

from dataclasses import dataclass

from collab.documents.sniff import Kind
from collab.documents.store import Incoming
from collab.errors import ActionError
from collab.i18n import N_

__all__ = ["FILES_PER_FORM", "TOO_MANY_FILES", "Upload", "check_count"]

TOO_MANY_FILES = N_("Too many files: at most %(count)d at a time.")
# How many files one form sends, by what they are attached to. The parser
# stops at the limit while streaming, the actions check it again (an edit
# counts the files it keeps), and the forms check it before sending
# (``data-max-files``, read by static/js/upload.js).
FILES_PER_FORM: dict[str, int] = {"post": 5, "agenda": 10, "consultation": 10, "document": 1}


def check_count(count: int, limit: int) -> None:
    """Refuse ``count`` files where a form takes at most ``limit``."""
    if count > limit:
        raise ActionError(TOO_MANY_FILES, count=limit)


@dataclass
class Upload:
    """A file that arrived whole: its type (from the content) and clean name are known."""

    field: str
    name: str
    kind: Kind
    incoming: Incoming
    kept: bool = False

    @property
    def sha256(self) -> str:
        return self.incoming.sha256

    @property
    def size(self) -> int:
        return self.incoming.size
