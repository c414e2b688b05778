"""The comuni's side of a consultation: who sends a comune's contribution (the
sindaco, or the delegate they name); what the open data say of them (nothing,
unless the consultation publishes names); which comuni are still awaited; and
what the list of consultations tells each sender."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import func, select

from collab.accounts.actions import do_create_user
from collab.consultations.models import Consultation, Contribution
from collab.db import Database
from collab.i18n import translations
from collab.models import Comune, Zone
from tests.conftest import World
from tests.conftest import email as email_of
from tests.consultations.scene import PDF, expire, open_consultation
from tests.consultations.test_flow import in_days
from tests.helpers import (
    PASSWORD,
    Client,
    italian,
    parse,
    quiet_db,  # noqa: F401 (the db fixture: writes notify people)
    snapshot,
    text_of,
)

Login = Callable[[str], Awaitable[Client]]


async def _delegate(db: Database, new_client: Callable[[], Client]) -> Client:
    """A technician of Pinerolo (the comune of ``sindaco5``), logged in."""
    async with db.transaction() as uow:
        await do_create_user(
            uow, None, email=email_of("delegato5"), name="Delegata Pinerolo", role="tecnico",
            password=PASSWORD, comune_istat="001191",
        )  # fmt: skip
    client = new_client()
    await client.login(email_of("delegato5"))
    return client


def _form(page: object) -> object:
    return parse(page).select_one('[data-testid="contribution-form"]')  # type: ignore[arg-type]


async def test_the_sindaco_names_a_delegate_who_sends_for_the_comune(
    login_as: Login, db: Database, world: World, new_client: Callable[[], Client]
) -> None:
    consultation = await open_consultation(db, world["staff"])
    url = f"/consultations/{consultation.id}"
    delegate = await _delegate(db, new_client)
    # A technician of the comune has no say until the sindaco names them.
    assert _form(await delegate.get(url)) is None
    refused = await delegate.upload(f"{url}/contributions", {"body": "Parere del tecnico."})
    assert refused.status_code == 403

    sindaco = await login_as("sindaco5")
    before = await snapshot(db)
    for email, message in (
        (email_of("tecnico5"), "The delegate must be a user of your comune."),  # Luserna
        (email_of("sindaco5"), "The delegate must be someone else."),
        ("nessuno@example.org", "The delegate must be a user of your comune."),
    ):
        response = await sindaco.post(f"{url}/delegate", {"email": email})
        assert response.status_code == 422, email
        assert italian(message) in parse(response).get_text()
    assert await snapshot(db) == before
    # Only a sindaco (or portavoce) names a delegate, and only for their comune.
    tecnico = await login_as("tecnico5")
    assert (
        await tecnico.post(f"{url}/delegate", {"email": email_of("delegato5")})
    ).status_code == 403

    named = await sindaco.post(f"{url}/delegate", {"email": email_of("delegato5").upper()})
    assert named.status_code == 303
    assert "Delegata Pinerolo" in text_of(await sindaco.get(url), '[data-testid="delegate"]')
    assert _form(await delegate.get(url)) is not None
    sent = await delegate.upload(
        f"{url}/contributions",
        {"body": "Parere favorevole del Comune di Pinerolo."},
        [("files", ("delibera.pdf", PDF, "application/pdf"))],
    )
    assert sent.status_code == 303, sent.text
    async with db.session() as session:
        contribution = await session.scalar(
            select(Contribution).where(Contribution.consultation_id == consultation.id)
        )
    assert contribution is not None and contribution.comune.istat_code == "001191"
    # It is the comune's one contribution: the sindaco sees it as theirs.
    own = await sindaco.get(url)
    assert f"{consultation.id}-0001" in text_of(own, "#own-contribution")
    assert _form(own) is None

    # Once the sindaco takes the delegation back, the delegate can no longer change it.
    assert (await sindaco.post(f"{url}/delegate", {"email": ""})).status_code == 303
    edit = await delegate.upload(
        f"/contributions/{contribution.id}/edit", {"body": "Testo cambiato dal delegato."}
    )
    assert edit.status_code in (403, 404)
    changed = await sindaco.upload(
        f"/contributions/{contribution.id}/edit", {"body": "Testo del sindaco, versione 2."}
    )
    assert changed.status_code == 303, changed.text


async def test_names_are_published_only_when_the_consultation_says_so(
    login_as: Login, db: Database, world: World, new_client: Callable[[], Client]
) -> None:
    quiet = await open_consultation(db, world["staff"])
    public = await open_consultation(db, world["staff"], publish_names=True)
    delegate = await _delegate(db, new_client)
    sindaco = await login_as("sindaco5")
    portavoce = await login_as("portavoce5")
    for consultation in (quiet, public):
        url = f"/consultations/{consultation.id}"
        notice = parse(await portavoce.get(url)).select_one('[data-testid="names-published"]')
        # Whoever sends a version is told before sending that their name is published.
        assert (notice is not None) == consultation.publish_names
        await sindaco.post(f"{url}/delegate", {"email": email_of("delegato5")})
        await delegate.upload(f"{url}/contributions", {"body": "Parere del Comune di Pinerolo."})
        await portavoce.upload(f"{url}/contributions", {"body": "Parere del Comune di Cumiana."})

    staff = await login_as("staff")
    exported = (await staff.get(f"/consultations/{public.id}/export.json")).json()
    assert exported["consultation"]["publish_names"] is True
    senders = {r["comune"]: (r["sent_by"], r["sent_as"]) for r in exported["contributions"]}
    assert senders == {"Pinerolo": ("Delegata Pinerolo", "delegate"),
                       "Cumiana": ("Portavoce5", "portavoce")}  # fmt: skip
    as_csv = (await staff.get(f"/consultations/{public.id}/export.csv")).content.decode("utf-8-sig")
    header, *rows = as_csv.splitlines()
    assert "sent_by;sent_as" in header
    assert any("Delegata Pinerolo;delegate" in row for row in rows)
    # An edit is sent by whoever makes it: the sindaco's version names the sindaco.
    async with db.session() as session:
        pinerolo = await session.scalar(
            select(Contribution).where(
                Contribution.consultation_id == public.id, Contribution.number == 1
            )
        )
    assert pinerolo is not None
    edit_page = await sindaco.get(f"/contributions/{pinerolo.id}")
    assert parse(edit_page).select_one('[data-testid="edit-form"] [data-testid="names-published"]')
    await sindaco.upload(f"/contributions/{pinerolo.id}/edit", {"body": "Versione 2 del sindaco."})
    exported = (await staff.get(f"/consultations/{public.id}/export.json")).json()
    senders = {r["comune"]: (r["sent_by"], r["sent_as"]) for r in exported["contributions"]}
    assert senders["Pinerolo"] == ("Sindaco5", "sindaco")

    # The other consultation promised no names: its data have the columns, empty.
    quiet_json = (await staff.get(f"/consultations/{quiet.id}/export.json")).json()
    assert quiet_json["consultation"]["publish_names"] is False
    assert {(r["sent_by"], r["sent_as"]) for r in quiet_json["contributions"]} == {(None, None)}
    quiet_csv = (await staff.get(f"/consultations/{quiet.id}/export.csv")).text
    for person in ("Delegata", "Portavoce5", email_of("portavoce5")):
        assert person not in quiet_csv and person not in str(quiet_json)
    # The staff's panel says which rule each consultation follows.
    scopes = (
        (quiet, "Without personal data: comuni, texts, answers and files only."),
        (public, "Comuni, texts, answers and files, with the name of who sent each "
                 "contribution (published, as announced on the form)."),
    )  # fmt: skip
    for consultation, wording in scopes:
        page = await staff.get(f"/consultations/{consultation.id}")
        assert text_of(page, '[data-testid="open-data-scope"]') == italian(wording)


async def test_staff_choose_to_publish_names_when_opening(login_as: Login, db: Database) -> None:
    staff = await login_as("staff")
    page = parse(await staff.get("/consultations/new"))
    assert page.select_one('input[name="publish_names"][type="checkbox"]') is not None
    zone = page.select_one('input[name="zones"] + label:-soup-contains("Pinerolese")')
    assert zone is not None
    zone_value = str(zone.find_previous("input")["value"])
    # A refused form keeps the choice.
    again = await staff.upload(
        "/consultations/new",
        {"title": "Parere", "body": "", "deadline": in_days(20), "zones": [zone_value],
         "publish_names": "1"},
    )  # fmt: skip
    assert again.status_code == 422
    assert parse(again).select_one('input[name="publish_names"][checked]') is not None
    response = await staff.upload(
        "/consultations/new",
        {"title": "Parere con nomi", "body": "Si pubblicano i nomi di chi invia.",
         "deadline": in_days(20), "zones": [zone_value], "publish_names": "1"},
    )  # fmt: skip
    assert response.status_code == 303, response.text
    async with db.session() as session:
        opened = await session.scalar(
            select(Consultation).where(Consultation.title == "Parere con nomi")
        )
    assert opened is not None and opened.publish_names
    api = (await staff.get(f"/api/v1/consultations/{opened.id}")).json()
    assert api["publish_names"] is True


def _awaited(page: object) -> list[str]:
    items = parse(page).select('[data-testid="awaited-list"] li')  # type: ignore[arg-type]
    return [li.get_text(" ", strip=True) for li in items]


async def test_the_page_lists_the_comuni_still_awaited(
    login_as: Login, db: Database, world: World
) -> None:
    consultation = await open_consultation(db, world["staff"], zones=(5, 9))
    url = f"/consultations/{consultation.id}"
    async with db.session() as session:
        total = await session.scalar(
            select(func.count(Comune.id)).join(Zone).where(Zone.number.in_((5, 9)))
        )
    assert total is not None and total > 3
    it = translations("it")

    def still(num: int) -> str:
        text = it.ngettext(
            "Still awaited: %(num)d comune of %(total)d",
            "Still awaited: %(num)d comuni of %(total)d",
            num,
        )
        return text % {"num": num, "total": total}

    tecnico = await login_as("tecnico9")
    page = await tecnico.get(url)
    assert text_of(page, '[data-testid="awaited-count"]') == still(total)
    awaited = _awaited(page)
    assert len(awaited) == total
    # Two zones: each comune says its zone; zone 5 first.
    assert "Pinerolo (ZO 5)" in awaited and "Ivrea (ZO 9)" in awaited
    assert awaited.index("Pinerolo (ZO 5)") < awaited.index("Ivrea (ZO 9)")

    for key, body in (("sindaco5", "Parere di Pinerolo."), ("sindaco9", "Parere di Ivrea.")):
        sender = await login_as(key)
        sent = await sender.upload(f"{url}/contributions", {"body": body})
        assert sent.status_code == 303, sent.text
    page = await tecnico.get(url)
    assert text_of(page, '[data-testid="awaited-count"]') == still(total - 2)
    awaited = _awaited(page)
    assert "Pinerolo (ZO 5)" not in awaited and "Ivrea (ZO 9)" not in awaited
    assert len(awaited) == total - 2

    # After the deadline the same comuni are those that did not respond.
    await expire(db, consultation.id)
    closed = text_of(await tecnico.get(url), '[data-testid="awaited-count"]')
    expected = it.ngettext(
        "Did not respond: %(num)d comune of %(total)d",
        "Did not respond: %(num)d comuni of %(total)d",
        total - 2,
    )
    assert closed == expected % {"num": total - 2, "total": total}


def _cards(page: object, section: str) -> dict[str, str | None]:
    """Consultation title -> the user's own-state badge text (None: no badge)."""
    found: dict[str, str | None] = {}
    for card in parse(page).select(f'[data-testid="consultations-{section}"] li'):  # type: ignore[arg-type]
        badge = card.select_one('[data-testid="own-state"]')
        title = card.select_one("a.fw-semibold")
        assert title is not None
        found[f"{title.get_text(strip=True)}#{title['href']}"] = (
            badge.get_text(strip=True) if badge is not None else None
        )
    return found


async def test_the_list_tells_each_sender_what_their_comune_has_done(
    login_as: Login, db: Database, world: World, new_client: Callable[[], Client]
) -> None:
    waiting = await open_consultation(db, world["staff"])
    answered = await open_consultation(db, world["staff"])
    missed = await open_consultation(db, world["staff"])
    elsewhere = await open_consultation(db, world["staff"], zones=(9,))
    await expire(db, missed.id)
    sindaco = await login_as("sindaco5")
    sent = await sindaco.upload(f"/consultations/{answered.id}/contributions", {"body": "Parere."})
    assert sent.status_code == 303

    def key(c: Consultation) -> str:
        return f"{c.title}#/consultations/{c.id}"

    page = await sindaco.get("/consultations")
    assert page.status_code == 200
    assert parse(page).select_one('[data-testid="open-consultation"]') is None
    assert _cards(page, "open") == {
        key(waiting): italian("Your comune's contribution is awaited"),
        key(answered): italian("Your comune has sent its contribution"),
    }
    assert _cards(page, "closed") == {
        key(missed): italian("Your comune did not send a contribution")
    }
    mine = parse(page).select_one(f'#consultation-card-{answered.id} [data-testid="own-state"]')
    assert mine is not None and str(mine["href"]).startswith("/contributions/")

    # Someone who does not send for a comune sees the consultations, no badge.
    tecnico = await login_as("tecnico5")
    listed = await tecnico.get("/consultations")
    assert set(_cards(listed, "open").values()) == {None}
    assert key(elsewhere) not in _cards(listed, "open")
    # A delegate sees the badge of the consultation they were named for only.
    delegate = await _delegate(db, new_client)
    await sindaco.post(f"/consultations/{waiting.id}/delegate", {"email": email_of("delegato5")})
    cards = _cards(await delegate.get("/consultations"), "open")
    assert cards[key(waiting)] == italian("Your comune's contribution is awaited")
    assert cards[key(answered)] is None
    # Staff open consultations from here, and see every zone's.
    staff = await login_as("staff")
    staff_page = await staff.get("/consultations")
    assert parse(staff_page).select_one('[data-testid="open-consultation"]') is not None
    assert key(elsewhere) in _cards(staff_page, "open")


async def test_staff_filter_the_contributions_by_state(
    login_as: Login, db: Database, world: World
) -> None:
    consultation = await open_consultation(db, world["staff"])
    url = f"/consultations/{consultation.id}"
    for key in ("sindaco5", "portavoce5"):
        sender = await login_as(key)
        assert (await sender.upload(f"{url}/contributions", {"body": "Parere."})).status_code == 303
    async with db.session() as session:
        pinerolo = await session.scalar(
            select(Contribution).where(
                Contribution.consultation_id == consultation.id, Contribution.number == 1
            )
        )
    assert pinerolo is not None
    staff = await login_as("staff")
    moved = await staff.post(f"/contributions/{pinerolo.id}/status", {"status": "under_review"})
    assert moved.status_code == 303

    def rows(page: object) -> list[str]:
        found = parse(page).select('#contributions [data-testid="contribution"] a.fw-semibold')  # type: ignore[arg-type]
        return [a.get_text(strip=True) for a in found]

    def pills(page: object) -> dict[str, str]:
        links = parse(page).select('[data-testid="status-filter"] a')  # type: ignore[arg-type]
        return {a.get_text(" ", strip=True): str(a.get("aria-current", "")) for a in links}

    every = await staff.get(url)
    assert sorted(rows(every)) == ["Cumiana", "Pinerolo"]
    assert pills(every) == {
        f"{italian('All')} (2)": "page",
        f"{italian('Received')} (1)": "",
        f"{italian('Under review')} (1)": "",
    }
    live = parse(every).select_one("#contributions")
    assert live is not None and live.has_attr("data-live-append")

    review = await staff.get(f"{url}?status=under_review")
    assert rows(review) == ["Pinerolo"]
    assert pills(review)[f"{italian('Under review')} (1)"] == "page"
    # A filtered list takes no live additions (a new contribution is "received").
    filtered = parse(review).select_one("#contributions")
    assert filtered is not None and not filtered.has_attr("data-live-append")
    assert rows(await staff.get(f"{url}?status=received")) == ["Cumiana"]
    empty = await staff.get(f"{url}?status=accepted")
    assert rows(empty) == []
    assert text_of(empty, '[data-testid="none-in-state"]') == italian(
        "No contribution in this state."
    )
    # An unknown state is no filter: everything is listed.
    for junk in ("bogus", "", "%00", "received'--"):
        assert sorted(rows(await staff.get(f"{url}?status={junk}"))) == ["Cumiana", "Pinerolo"]
