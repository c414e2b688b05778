"""The CSRF token never travels in a URL (issue 14, finding 9).

Upload forms used to carry the token in their action's query string, so it
ended up in access logs and proxies' histories. Now they send it as their
first field (htmx: the ``X-CSRF-Token`` header), the middleware finds it by
reading only the leading text parts of a multipart body, and a token in the
query string is ignored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select

from collab.db import Database
from collab.forums import actions as forum_actions
from collab.models import Theme, Zone
from collab.security import _MORE, MULTIPART_PREFIX, _multipart_token
from tests.conftest import World
from tests.consultations.scene import PDF, open_consultation
from tests.helpers import (
    Client,
    parse,
    quiet_db,  # noqa: F401 (the db fixture: writes notify people)
    snapshot,
)
from tests.meetings.scene import convene

Login = Callable[[str], Awaitable[Client]]
BOUNDARY = b"----b0undary"


def _part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return b"--" + BOUNDARY + f"\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value


def _body(*parts: bytes) -> bytes:
    return b"\r\n".join(parts) + b"\r\n--" + BOUNDARY + b"--\r\n"


def test_the_token_is_found_among_the_leading_text_parts() -> None:
    body = _body(_part("page", b"2"), _part("csrf_token", b"t0ken"), _part("f", b"x", "a.pdf"))
    assert _multipart_token(body, BOUNDARY) == "t0ken"
    # Arriving a byte at a time, it is "more" until the token's part has ended.
    answers = [_multipart_token(body[:n], BOUNDARY) for n in range(len(body) + 1)]
    first = answers.index("t0ken")
    assert set(answers[:first]) == {_MORE}
    assert set(answers[first:]) == {"t0ken"}


@pytest.mark.parametrize(
    "body",
    [
        _body(_part("f", b"x", "a.pdf"), _part("csrf_token", b"t0ken")),  # after a file
        _body(_part("body", b"testo")),  # absent
        b"garbage" + _body(_part("csrf_token", b"t0ken")),  # not multipart as announced
        _body(_part("body", b"x" * MULTIPART_PREFIX), _part("csrf_token", b"t0ken")),
    ],
)
def test_no_token_is_taken_from_a_file_or_beyond_the_prefix(body: bytes) -> None:
    found = _multipart_token(body[:MULTIPART_PREFIX], BOUNDARY)
    assert found is None or found == _MORE


async def test_upload_forms_keep_the_token_out_of_their_urls(
    login_as: Login, db: Database, world: World
) -> None:
    consultation = await open_consultation(db, world["staff"])
    meeting = await convene(db, world["staff"], (5,))
    async with db.session() as session:
        theme = await session.scalar(select(Theme).order_by(Theme.position).limit(1))
        zone5 = await session.scalar(select(Zone).where(Zone.number == 5))
    assert theme is not None and zone5 is not None
    async with db.transaction() as uow:
        thread = await forum_actions.do_start_thread(
            uow, world["sindaco5"], zone5.id, theme, "Navetta", "Proposta."
        )
    sindaco5, staff = await login_as("sindaco5"), await login_as("staff")
    sent = await sindaco5.upload(
        f"/consultations/{consultation.id}/contributions", {"body": "Il parere."},
        [("files", ("parere.pdf", PDF, "application/pdf"))],
    )  # fmt: skip
    assert sent.status_code == 303, sent.text
    contribution = sent.headers["location"].removesuffix("/receipt")
    added = await sindaco5.upload(
        f"/library/{theme.slug}/new", {"title": "Modulo"},
        [("file", ("modulo.pdf", PDF, "application/pdf"))],
    )  # fmt: skip
    assert added.status_code == 303, added.text
    pages = [
        (sindaco5, contribution, "edit-form"),
        (staff, f"/consultations/{consultation.id}", None),
        (staff, "/consultations/new", None),
        (sindaco5, f"/library/{theme.slug}", "add-document-form"),
        (sindaco5, added.headers["location"], "add-version-form"),
        (sindaco5, f"/zones/5/{theme.slug}/new", None),
        (sindaco5, f"/threads/{thread.id}", None),
        (await login_as("portavoce5"), f"/meetings/{meeting.id}", None),
        (await login_as("admin"), "/admin/comuni/import", "import-form"),
    ]
    for client, url, testid in pages:
        page = parse(await client.get(url))
        forms = page.select('form[enctype="multipart/form-data"]')
        assert forms, url
        if testid is not None:
            assert page.select_one(f'form[data-testid="{testid}"]') in forms, url
        for form in forms:
            first = form.select("input")[0]
            assert first["name"] == "csrf_token" and first["value"] == client.token, url
        for tag in page.find_all(True):
            for name, value in tag.attrs.items():
                assert "csrf_token=" not in str(value), (url, tag.name, name)


async def test_a_token_in_the_query_string_is_not_accepted(
    login_as: Login, db: Database, world: World
) -> None:
    consultation = await open_consultation(db, world["staff"])
    url = f"/consultations/{consultation.id}/contributions"
    sindaco5 = await login_as("sindaco5")
    token = await sindaco5.csrf()
    before = await snapshot(db)
    files = [("files", ("parere.pdf", PDF, "application/pdf"))]
    refused = await sindaco5.http.post(
        f"{url}?csrf_token={token}", data={"body": "Il parere."}, files=files
    )
    assert refused.status_code == 403
    plain = await sindaco5.http.post(f"/consultations/{consultation.id}/extend?csrf_token={token}")
    assert plain.status_code == 403
    # The token after the file: the middleware does not read into a file to find it.
    late = await sindaco5.http.post(url, data={"body": "Il parere."}, files=[
        *files, ("csrf_token", (None, token.encode()))
    ])  # fmt: skip
    assert late.status_code == 403
    assert await snapshot(db) == before
    accepted = await sindaco5.http.post(
        url, data={"csrf_token": token, "body": "Il parere."}, files=files
    )
    assert accepted.status_code == 303, accepted.text
