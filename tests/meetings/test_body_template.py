"""An admin edits a voting body's template of the verbale: preview, save, refuse, reset.

On SQLite by default, on PostgreSQL with ``DATABASE_URL`` (tests/dbs.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from collab.db import Database
from collab.meetings.models import BodyKind, VotingBody
from collab.meetings.verbale_template import DEFAULT_TEMPLATE
from tests.conftest import World
from tests.helpers import Client, italian, parse, snapshot, text_of

Login = Callable[[str], Awaitable[Client]]
GOOD = (
    "# {{ body.name }}\n\n{{ ngettext('%(num)d presente', '%(num)d presenti', present|length) }}\n"
)


async def _body(db: Database, kind: BodyKind = BodyKind.PEOPLE) -> int:
    async with db.transaction() as uow:
        body = VotingBody(name="Consiglio metropolitano", kind=kind)
        uow.session.add(body)
        await uow.session.flush()
        return body.id


async def _template(db: Database, body_id: int) -> str:
    async with db.session() as session:
        body = await session.get(VotingBody, body_id)
    assert body is not None
    return body.verbale_template


async def test_only_admins_see_the_template(login_as: Login, db: Database, world: World) -> None:
    body_id = await _body(db)
    url = f"/admin/bodies/{body_id}/verbale"
    for who in ("staff", "sindaco5"):
        client = await login_as(who)
        assert (await client.get(url)).status_code == 403
        assert (await client.post(url, {"action": "save", "source": GOOD})).status_code == 403
    assert await _template(db, body_id) == ""
    admin = await login_as("admin")
    page = await admin.get(url)
    assert page.status_code == 200
    source = parse(page).select_one('textarea[name="source"]')
    assert source is not None and source.get_text() == DEFAULT_TEMPLATE
    assert text_of(page, '[data-testid="template-kind"]') == italian("the default one")
    assert (await admin.get("/admin/bodies/999999/verbale")).status_code == 404


async def test_preview_renders_the_sample_and_saves_nothing(
    login_as: Login, db: Database, world: World
) -> None:
    body_id = await _body(db)
    admin = await login_as("admin")
    before = await snapshot(db)
    page = await admin.post(
        f"/admin/bodies/{body_id}/verbale", {"action": "preview", "source": GOOD}
    )
    assert page.status_code == 200
    preview = parse(page).select_one('[data-testid="template-preview"] .verbale-body')
    assert preview is not None
    assert preview.select_one("h1").get_text() == "Consiglio metropolitano"  # the sample's body
    assert "4 presenti" in preview.get_text()
    textarea = parse(page).select_one('textarea[name="source"]')
    assert textarea is not None and textarea.get_text() == GOOD  # kept as typed
    assert await snapshot(db) == before


async def test_a_broken_template_is_refused_next_to_the_field(
    login_as: Login, db: Database, world: World
) -> None:
    body_id = await _body(db)
    url = f"/admin/bodies/{body_id}/verbale"
    admin = await login_as("admin")
    before = await snapshot(db)
    for action in ("save", "preview"):
        refused = await admin.post(url, {"action": action, "source": "Riga\n{% if %}\n"})
        assert refused.status_code == 422
        message = text_of(refused, "#source ~ .invalid-feedback")
        assert message.startswith(
            italian("The template does not compile, line %(line)d: %(detail)s", line=2, detail="")
        )
        textarea = parse(refused).select_one('textarea[name="source"]')
        assert textarea is not None and textarea.get_text() == "Riga\n{% if %}\n"
    unsafe = await admin.post(url, {"action": "save", "source": "{{ body.__class__ }}"})
    assert unsafe.status_code == 422
    assert text_of(unsafe, "#source ~ .invalid-feedback").startswith(
        italian("The template uses something that is not allowed: %(detail)s", detail="")
    )
    assert await snapshot(db) == before


async def test_save_then_back_to_the_default(login_as: Login, db: Database, world: World) -> None:
    body_id = await _body(db, BodyKind.COMUNI)
    url = f"/admin/bodies/{body_id}/verbale"
    admin = await login_as("admin")
    saved = await admin.post(url, {"action": "save", "source": GOOD.replace("\n", "\r\n")})
    assert saved.status_code == 303 and saved.headers["location"] == f"{url}?done=saved"
    assert await _template(db, body_id) == GOOD  # Unix line ends
    page = await admin.get(saved.headers["location"])
    assert text_of(page, '[data-testid="template-done"]') == italian(
        "The template of the verbale is saved."
    )
    assert text_of(page, '[data-testid="template-kind"]') == italian("the body's own")
    # The default's text saved as it is stays "the default": later defaults apply.
    reset = await admin.post(url, {"action": "reset", "source": "ignorato"})
    assert reset.status_code == 303 and reset.headers["location"] == f"{url}?done=reset"
    assert await _template(db, body_id) == ""
    await admin.post(url, {"action": "save", "source": DEFAULT_TEMPLATE})
    assert await _template(db, body_id) == ""
    # Without the CSRF token nothing is saved.
    token_less = await admin.http.post(url, data={"action": "save", "source": GOOD})
    assert token_less.status_code == 403
    assert await _template(db, body_id) == ""
