"""Safe file names for uploads, and the ``Content-Disposition`` header to serve them.

The name of an uploaded file comes from the client and is shown to other
people, written in headers and saved on their disks, so it is cleaned once on
the way in: no directories, no control or bidirectional-override characters,
nothing Windows refuses, a bounded length, and an extension that matches the
detected content (so ``invoice.html`` holding a PDF is saved as
``invoice.html.pdf``, never opened as a web page).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from collab.documents.sniff import Kind

__all__ = [
    "FALLBACK_STEM",
    "MAX_NAME_LENGTH",
    "ascii_fallback",
    "clean_name",
    "content_disposition",
]

#: Longest name produced, in characters, extension included.
MAX_NAME_LENGTH = 120
#: The stem used when nothing of the client's name survives cleaning.
FALLBACK_STEM = "documento"

# Characters Windows forbids in names (the separators are gone already).
_FORBIDDEN = re.compile(r'[<>:"/\\|?*]')
_SEPARATORS = re.compile(r"[/\\]")
# Stripped from both ends: Windows drops trailing dots and spaces, a leading
# dot hides the file on Unix, a leading dash reads as an option on a command line.
_EDGE_CHARS = ". -"
# Device names Windows reserves whatever the extension ("con.txt" too).
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(1, 10)}
    | {f"LPT{n}" for n in range(1, 10)}
)
# Controls that separate words (not str.isspace(): it counts U+001C-U+001F too).
_WHITESPACE_CONTROLS = frozenset("\t\n\x0b\x0c\r\x85")
# Extensions that mean the same kind as the canonical one.
_EXTENSION_ALIASES = {"jpg": frozenset({"jpg", "jpeg"}), "jpeg": frozenset({"jpg", "jpeg"})}


def clean_name(raw: str, kind: Kind) -> str:
    """A display and download name made from the client's ``raw`` name for a file of ``kind``."""
    name = _basename(raw)
    name = unicodedata.normalize("NFC", name)
    name = _drop_controls(name)
    name = _FORBIDDEN.sub("_", name)
    name = " ".join(name.split())
    name = name.strip(_EDGE_CHARS)
    stem, extension = _split_extension(name, kind)
    stem = _fit_stem(stem, extension)
    if _is_reserved(stem):
        stem = "_" + stem
        stem = _fit_stem(stem, extension)
    return f"{stem}.{extension}"


def ascii_fallback(name: str) -> str:
    """An ASCII rendering of ``name`` for the plain ``filename=`` parameter.

    Accents are kept as their base letter (NFKD), other non-ASCII characters
    are dropped, and quotes, backslashes and control characters go too, since
    the result is put inside a quoted string in a header.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = decomposed.encode("ascii", "ignore").decode("ascii")
    ascii_only = "".join(c for c in ascii_only if c.isprintable() and c not in '"\\')
    ascii_only = " ".join(ascii_only.split())
    stem, dot, extension = ascii_only.rpartition(".")
    if not dot:
        stem, extension = ascii_only, ""
    # A name all in another script would leave only ".pdf": a hidden file.
    stem = stem.strip(_EDGE_CHARS) or FALLBACK_STEM
    return f"{stem}.{extension}" if extension else stem


def content_disposition(name: str) -> str:
    """The ``Content-Disposition`` value for downloading a file called ``name``.

    Both forms of RFC 6266: ``filename`` in ASCII for old clients and
    ``filename*`` with the exact name in UTF-8, percent-encoded (RFC 5987).
    """
    # errors="replace": a lone surrogate must not make the response fail.
    encoded = quote(name, safe="", encoding="utf-8", errors="replace")
    return f"attachment; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{encoded}"


def _basename(raw: str) -> str:
    """The part after the last slash or backslash: a client's path is not ours to follow."""
    return _SEPARATORS.split(raw)[-1]


def _drop_controls(name: str) -> str:
    """Remove control and format characters; whitespace controls become spaces.

    Format characters (category Cf) include the bidirectional overrides that
    make ``exe.pdf`` display as ``fdp.exe``; surrogates cannot be encoded.
    """
    kept = []
    for char in name:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs"):
            if char in _WHITESPACE_CONTROLS:
                # A tab or newline between words still separates them.
                kept.append(" ")
            continue
        kept.append(char)
    return "".join(kept)


def _split_extension(name: str, kind: Kind) -> tuple[str, str]:
    """The stem and the extension to use: the name's own if it fits ``kind``, else the kind's."""
    stem, dot, extension = name.rpartition(".")
    accepted = _EXTENSION_ALIASES.get(kind.extension, frozenset({kind.extension}))
    if dot and stem and extension.lower() in accepted:
        # Keep the client's spelling ("Relazione.PDF", "photo.jpeg").
        return stem, extension
    return name, kind.extension


def _fit_stem(stem: str, extension: str) -> str:
    """The stem cut so that ``stem.extension`` fits, never empty."""
    room = MAX_NAME_LENGTH - len(extension) - 1
    stem = stem[:room].rstrip(_EDGE_CHARS)
    return stem or FALLBACK_STEM


def _is_reserved(stem: str) -> bool:
    """Whether Windows would take the name for a device (the part before the first dot)."""
    return stem.split(".", 1)[0].rstrip(" ").upper() in _RESERVED
