"""Translations: every marked message has an Italian translation, Italian by default.

The extraction here uses the same ``babel.cfg`` and keywords as ``make messages``,
so a string marked in ``collab/`` or ``templates/`` but not translated in the
Italian catalog fails CI with the list of what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import httpx
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tests.helpers import Client, parse, text_of

ROOT = Path(__file__).resolve().parent.parent
BABEL_CFG = ROOT / "babel.cfg"
PO_PATH = "collab/translations/it/LC_MESSAGES/messages.po"
PO_FILE = ROOT / PO_PATH
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}

# A printf-style placeholder, named or not; "%%" is matched so it is not mistaken
# for the start of one.
PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<type>[a-zA-Z%])"
)


@cache
def catalog() -> Catalog:
    with PO_FILE.open("rb") as fp:
        return read_po(fp, locale="it")


@cache
def extracted() -> dict[str | tuple[str, ...], list[str]]:
    """Every marked message in collab/ and templates/, with where it is used."""
    with BABEL_CFG.open() as fp:
        method_map, options_map = parse_mapping_cfg(fp, str(BABEL_CFG))
    found: dict[str | tuple[str, ...], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        assert context is None, "message contexts are not used; update this test"
        key = tuple(m for m in message if m) if isinstance(message, tuple) else message
        if isinstance(key, tuple) and len(key) == 1:
            key = key[0]
        found.setdefault(key, []).append(f"{filename}:{lineno}")
    return found


def msgid(key: str | tuple[str, ...]) -> str:
    return key[0] if isinstance(key, tuple) else key


def strings(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def translated(message: Message | None) -> bool:
    if message is None or message.fuzzy:
        return False
    forms = strings(message.string)
    return bool(forms) and all(forms)


def catalog_messages() -> Iterator[Message]:
    return (m for m in catalog() if m.id)


def placeholders(text: str) -> set[str]:
    return {m.group(0) for m in PLACEHOLDER.finditer(text) if m.group("type") != "%"}


class Probe(dict[str, object]):
    """Format arguments: any name is a number (fits %d, %s and %r alike)."""

    def __missing__(self, key: str) -> object:
        return 1


def test_extraction_finds_messages_in_python_and_templates() -> None:
    files = {where.rsplit(":", 1)[0] for wheres in extracted().values() for where in wheres}
    assert any(f.startswith("collab/") and f.endswith(".py") for f in files)
    assert any(f.startswith("templates/") and f.endswith(".html") for f in files)
    # N_() in domain code, _() in templates, ngettext() plurals.
    assert "Wrong email or password." in extracted()
    assert "Log in" in extracted()
    assert ("%(num)d thread", "%(num)d threads") in extracted()


def test_every_message_has_an_italian_translation() -> None:
    missing = [
        f"{msgid(key)!r} ({', '.join(wheres)})"
        for key, wheres in sorted(extracted().items(), key=lambda item: msgid(item[0]))
        if not translated(catalog().get(msgid(key)))
    ]
    assert not missing, (
        f"{len(missing)} message(s) without an Italian translation in {PO_PATH}"
        " (run `make messages`, then translate them):\n  " + "\n  ".join(missing)
    )


def test_plurals_have_both_italian_forms() -> None:
    assert catalog().plural_forms == "nplurals=2; plural=(n != 1);"
    for key in extracted():
        if isinstance(key, tuple):
            message = catalog().get(key[0])
            assert message is not None and message.pluralizable, key
            assert isinstance(message.id, tuple) and message.id[1] == key[1], key
            assert len(strings(message.string)) == 2, key


def test_catalog_has_no_fuzzy_or_obsolete_entries() -> None:
    fuzzy = [m.id for m in catalog_messages() if m.fuzzy]
    assert not fuzzy, f"fuzzy entries (check and unflag them): {fuzzy}"
    assert not catalog().obsolete, f"obsolete entries: {list(catalog().obsolete)}"


@pytest.mark.parametrize("message", list(catalog_messages()), ids=lambda m: msgid(m.id)[:40])
def test_placeholders_match(message: Message) -> None:
    source = strings(message.id)
    expected = set().union(*(placeholders(s) for s in source))
    for form in strings(message.string):
        assert placeholders(form) == expected, (message.id, form)
        # Templates use new-style gettext, which always applies "%": the Italian
        # text must format wherever the English one does.
        try:
            source[0] % Probe()
        except (TypeError, ValueError, KeyError):
            continue
        form % Probe()


async def test_home_page_is_italian_by_default(client: Client) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    page = parse(response)
    assert page.html is not None and page.html["lang"] == "it"
    assert text_of(response, 'header a[href="/login"]') == "Accedi"
    assert text_of(response, "main h1") == "Le 11 zone omogenee"


async def test_error_pages_are_italian_by_default(client: Client) -> None:
    response = await client.get("/no-such-page")
    assert response.status_code == 404
    assert text_of(response, "main h1") == "Pagina non trovata"


async def choose_language(client: Client, lang: str) -> httpx.Response:
    """Submit the footer's language form, with the CSRF token it carries."""
    page = parse(await client.get("/"))
    token = page.select_one('form[action="/language"] input[name="csrf_token"]')
    assert token is not None and token["value"], "the language form has no CSRF token"
    client.token = str(token["value"])
    return await client.post("/language", {"lang": lang, "next": "/"})


async def test_language_can_be_switched_to_english_and_back(client: Client) -> None:
    response = await choose_language(client, "en")
    assert response.status_code == 303
    assert response.headers["location"] == "/"

    response = await client.get("/")
    page = parse(response)
    assert page.html is not None and page.html["lang"] == "en"
    assert text_of(response, 'header a[href="/login"]') == "Log in"
    assert text_of(response, "main h1") == "The 11 homogeneous zones"

    await choose_language(client, "it")
    response = await client.get("/")
    assert text_of(response, 'header a[href="/login"]') == "Accedi"


async def test_unknown_language_is_ignored(client: Client) -> None:
    response = await choose_language(client, "xx")
    assert response.status_code == 303
    response = await client.get("/")
    page = parse(response)
    assert page.html is not None and page.html["lang"] == "it"
