"""A meeting's documents: its calendars (iCalendar), and the verbale's page, edit and PDF.

Visibility of the verbale: its draft is seen (and edited, and published) only
by those who may take notes (:func:`collab.meetings.rules.may_take_notes`);
once published, by everyone who may follow the meeting, and through the
meeting's public link when it has one. Anyone else gets a 404, the same as
when there is no verbale at all, so a draft's existence is not revealed.
The page and the PDF come from one partial, ``meetings/_verbale.html``.
"""

from __future__ import annotations

import html
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collab import web
from collab.db import UnitOfWork
from collab.documents.download import file_store, stored_file_response
from collab.documents.models import StoredFile
from collab.errors import NotFound, PermissionDenied, Throttled
from collab.i18n import N_, translations
from collab.meetings import confirm, feeds, ics, minutes, signed
from collab.meetings.actions import get_readable_room
from collab.meetings.models import AgendaItem, Meeting, Verbale
from collab.meetings.pdf import render_pdf_async
from collab.meetings.room import Room, load_room
from collab.meetings.room_public import REFERRER_POLICY, allow_public, meeting_of_token
from collab.meetings.rules import may_take_notes
from collab.meetings.verbale import TIME_SPAN, TITLE
from collab.models import User, Zone
from collab.permissions import Action, can
from collab.services import services
from collab.templating import local_time
from collab.uploads import read_upload

__all__ = [
    "edit_verbale",
    "meeting_calendar",
    "own_heading",
    "public_calendar",
    "public_signed_verbale",
    "public_verbale",
    "public_verbale_pdf",
    "publish_verbale",
    "routes",
    "signed_verbale",
    "upload_signed",
    "verbale_page",
    "verbale_pdf",
    "zone_calendar",
]

CALENDAR_TYPE = "text/calendar; charset=utf-8"
ZONE_CALENDAR = N_("Meetings of ZO %(number)d %(name)s")
NO_VERBALE = N_("This meeting has no verbale yet.")
NO_SIGNED = N_("This verbale has no signed copy.")


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _event(
    request: Request, meeting: Meeting, items: list[AgendaItem], zones: list[Zone]
) -> list[str]:
    url = f"{web.settings(request).base_url}/meetings/{meeting.id}"
    return ics.meeting_event(
        meeting, items, zones, url, sequence=meeting.revision, locale=web.locale_of(request)
    )


async def meeting_calendar(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        room = await get_readable_room(session, user, request.path_params["id"])
    event = _event(request, room.meeting, room.items, room.zones)
    body = ics.calendar([event], room.meeting.title)
    return Response(body, media_type=CALENDAR_TYPE, headers=_attachment(ics.filename(room.meeting)))


# -- the personal feed ------------------------------------------------------------------

PERSONAL_CALENDAR = N_("collab: my meetings")


async def personal_calendar(request: Request) -> Response:
    """The feed a calendar app subscribes to: the secret in the URL, no cookie."""
    app = services(request)
    client = request.client.host if request.client else ""
    if not app.public_limiter.allow(client):
        raise Throttled(N_("Too many requests. Wait a minute and try again."))
    async with web.db(request).session() as session:
        owner = await feeds.feed_owner(session, request.path_params["token"])
        if owner is None:
            raise NotFound(N_("This calendar address is not valid (any more)."))
        meetings = await feeds.user_meetings(session, owner)
    locale = web.locale_of(request)
    name = translations(locale).gettext(PERSONAL_CALENDAR)
    body = ics.calendar((_event(request, *row) for row in meetings), name)
    # Private: a shared cache must not keep one person's feed; no Referer leaves it.
    headers = {"Cache-Control": "private, max-age=300", **REFERRER_POLICY}
    return Response(body, media_type=CALENDAR_TYPE, headers=headers)


def _webcal(address: str) -> str:
    """The same address for a calendar app to subscribe to (``webcal://``)."""
    return "webcal" + address[address.index(":") :]


async def calendar_page(request: Request) -> Response:
    user = await web.require_user(request)
    base = web.settings(request).base_url
    address = f"{base}/calendar/{user.calendar_token}.ics" if user.calendar_token else None
    async with web.db(request).session() as session:
        zones = list(await session.scalars(select(Zone).order_by(Zone.number)))
    public_feeds = [(zone, _webcal(f"{base}{_public_feed(zone)}")) for zone in zones]
    context = {"address": address, "webcal": address and _webcal(address),
               "public_feeds": public_feeds}  # fmt: skip
    return await web.render(request, "accounts/calendar.html", context, headers=REFERRER_POLICY)


async def _change_calendar(
    request: Request, change: Callable[[UnitOfWork, User], Awaitable[object]]
) -> Response:
    user = await web.require_user(request)
    async with web.db(request).transaction() as uow:
        account = await uow.session.get(User, user.id)  # this transaction's copy
        assert account is not None
        await change(uow, account)
    return web.redirect(request, "/account/calendar")


async def new_calendar(request: Request) -> Response:
    return await _change_calendar(request, feeds.do_new_calendar_token)


async def revoke_calendar(request: Request) -> Response:
    return await _change_calendar(request, feeds.do_revoke_calendar_token)


async def zone_calendar(request: Request) -> Response:
    user = await web.require_user(request)
    number = request.path_params["number"]
    async with web.db(request).session() as session:
        zone = await session.scalar(select(Zone).where(Zone.number == number))
        if zone is None:
            raise NotFound(N_("This zone does not exist."))
        if not can(user, Action.READ, zone.id):
            raise PermissionDenied(N_("You are not allowed to see this zone's boards."))
        meetings = await feeds.meetings_of_zones(session, [zone.id])
    locale = web.locale_of(request)
    name = translations(locale).gettext(ZONE_CALENDAR) % {
        "number": zone.number, "name": zone.label(locale),
    }  # fmt: skip
    body = ics.calendar((_event(request, *row) for row in meetings), name)
    return Response(
        body, media_type=CALENDAR_TYPE, headers=_attachment(f"riunioni-zo-{zone.number}.ics")
    )


# -- a zone's public feed -------------------------------------------------------------

PUBLIC_CALENDAR = N_("Public meetings of ZO %(number)d %(name)s")


def _public_feed(zone: Zone) -> str:
    return f"/public/zones/{zone.number}/meetings.ics"


async def public_calendar(request: Request) -> Response:
    """A zone's public meetings for a calendar app: no cookie, no secret; each
    event links the meeting's public page ``/m/<token>``."""
    app = services(request)
    client = request.client.host if request.client else ""
    if not app.public_limiter.allow(client):
        raise Throttled(N_("Too many requests. Wait a minute and try again."))
    async with web.db(request).session() as session:
        zone = await session.scalar(
            select(Zone).where(Zone.number == request.path_params["number"])
        )
        if zone is None:
            raise NotFound(N_("This zone does not exist."))
        meetings = await feeds.meetings_of_zones(session, [zone.id], public_only=True)
    locale = web.locale_of(request)
    base = app.settings.base_url
    events = (
        ics.meeting_event(
            meeting, items, zones, f"{base}/m/{meeting.public_token}",
            sequence=meeting.revision, locale=locale, video=False,
        )
        for meeting, items, zones in meetings
    )  # fmt: skip
    name = translations(locale).gettext(PUBLIC_CALENDAR) % {
        "number": zone.number, "name": zone.label(locale),
    }  # fmt: skip
    body = ics.calendar(events, name)
    # The same for everyone (in a language): a shared cache may keep it a few minutes.
    headers = {"Cache-Control": "public, max-age=300", "Vary": "Cookie"}
    return Response(body, media_type=CALENDAR_TYPE, headers=headers)


# -- the verbale ----------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    """What the verbale's header shows of its meeting (``meetings/_verbale.html``)."""

    zone_names: list[str]
    date_text: str
    place: str


def _context(conn: HTTPConnection, room: Room, verbale: Verbale) -> dict[str, Any]:
    """The partial's context: title, sanitized body and the meeting's heading."""
    locale = web.locale_of(conn)
    meeting = room.meeting
    start = meeting.opened_at or meeting.starts_at
    date_text = local_time(start, "EEEE d MMMM y", locale)
    if meeting.opened_at and meeting.closed_at:
        date_text += ", " + translations(locale).gettext(TIME_SPAN) % {
            "start": local_time(meeting.opened_at, "HH:mm", locale),
            "end": local_time(meeting.closed_at, "HH:mm", locale),
        }
    title = f"{translations(locale).gettext(TITLE)}: {meeting.title}"
    # A draft from the body's template opens with its own heading (session,
    # date, place): then it is the title, and the partial prints no other.
    own = own_heading(verbale.html)
    heading = Heading(room.zone_names, date_text, meeting.place)
    return {"title": own or title, "own_heading": bool(own), "body_html": verbale.html,
            "meeting": heading, "room": room, "verbale": verbale}  # fmt: skip


_OWN_HEADING = re.compile(r"\A\s*<h1[^>]*>(.*?)</h1>", re.S)


def own_heading(body_html: str) -> str:
    """The text of the heading the verbale's body opens with, or ""."""
    found = _OWN_HEADING.match(body_html)
    if found is None:
        return ""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


@dataclass(frozen=True)
class Seen:
    """A verbale someone may see: its room, whether they may write it, its signed copy."""

    room: Room
    verbale: Verbale
    editor: bool  # may take notes: edit the draft, publish, upload the signed copy
    signed: StoredFile | None

    @property
    def editable(self) -> bool:
        return self.editor and self.verbale.published_at is None

    @property
    def may_sign(self) -> bool:
        return self.editor and self.verbale.published_at is not None and self.signed is None


async def _signed_copy(session: AsyncSession, verbale: Verbale) -> StoredFile | None:
    if verbale.signed_file_id is None:
        return None
    return await session.get(StoredFile, verbale.signed_file_id)


async def _visible(request: Request, user: User) -> Seen:
    """The verbale of the meeting in the path as ``user`` may see it; 404 if not to be seen."""
    async with web.db(request).session() as session:
        room = await get_readable_room(session, user, request.path_params["id"])
        editor = may_take_notes(user, room.meeting, room.zone_ids)
        verbale = room.verbale
        if verbale is None or (verbale.published_at is None and not editor):
            raise NotFound(NO_VERBALE)
        signed = await _signed_copy(session, verbale)
    return Seen(room, verbale, editor, signed)


async def _public(request: Request) -> tuple[Seen, str]:
    """The published verbale of the public meeting whose token is in the path; 404 if none."""
    if not allow_public(request):
        raise Throttled(N_("Too many requests. Wait a minute and try again."))
    token: str = request.path_params["token"]
    meeting_id = await meeting_of_token(request, token)
    async with web.db(request).session() as session:
        room = await load_room(session, meeting_id) if meeting_id is not None else None
        verbale = room.verbale if room is not None else None
        if room is None or verbale is None or verbale.published_at is None:
            raise NotFound(NO_VERBALE)
        signed = await _signed_copy(session, verbale)
    return Seen(room, verbale, False, signed), token


def _links(seen: Seen, token: str | None) -> dict[str, str]:
    """Where the page sends for the PDF and the signed copy (public or not)."""
    base = f"/m/{token}/verbale" if token else f"/meetings/{seen.room.meeting.id}/verbale"
    links = {"pdf_url": f"{base}.pdf"}
    if seen.signed is not None:
        links["signed_url"] = f"{base}/signed"
    return links


async def _page(request: Request, seen: Seen, token: str | None = None, **extra: Any) -> Response:
    context = {
        **_context(request, seen.room, seen.verbale), "editable": seen.editable,
        "may_sign": seen.may_sign, "signed": seen.signed, "source": seen.verbale.source,
        "public": token is not None, "token": token, **_links(seen, token), **extra,
    }  # fmt: skip
    status = 422 if extra.get("error") else 200
    headers = REFERRER_POLICY if token is not None else None
    return await web.render(
        request, "meetings/verbale.html", context, status_code=status, headers=headers
    )


async def verbale_page(request: Request) -> Response:
    user = await web.require_user(request)
    return await _page(request, await _visible(request, user))


async def edit_verbale(request: Request) -> Response:
    user = await web.require_user(request)
    source = web.field(await web.form(request), "source")
    meeting_id: int = request.path_params["id"]

    async def write(uow: UnitOfWork) -> None:
        await minutes.do_edit_verbale(uow, user, meeting_id, source)

    error = await web.attempt(request, write)
    if error is not None:
        return await _page(request, await _visible(request, user), **error, source=source)
    return web.redirect(request, f"/meetings/{meeting_id}/verbale")


async def publish_verbale(request: Request) -> Response:
    if (ask := await confirm.ask_unless_confirmed(request, confirm.PUBLISH)) is not None:
        return ask
    user = await web.require_user(request)
    meeting_id: int = request.path_params["id"]
    async with web.db(request).transaction() as uow:
        await minutes.do_publish_verbale(uow, user, meeting_id)
    return web.redirect(request, f"/meetings/{meeting_id}/verbale")


# A published verbale never changes: its PDF (per language) is laid out once
# per process and kept, a few of them, for whoever asks next (the public
# link's visitors above all). A draft is laid out on every request.
PDF_CACHED = 16
_published_pdfs: OrderedDict[tuple[int, str, str], bytes] = OrderedDict()


async def _pdf(request: Request, seen: Seen) -> Response:
    locale = web.locale_of(request)
    verbale = seen.verbale
    key = None
    if verbale.published_at is not None:
        key = (verbale.id, verbale.published_at.isoformat(), locale)
    pdf = _published_pdfs.get(key) if key is not None else None
    if pdf is None:
        templates = services(request).templates
        html = templates.render(
            "meetings/verbale_document.html", locale, _context(request, seen.room, verbale)
        )
        pdf = await render_pdf_async(html)
        if key is not None:
            _published_pdfs[key] = pdf
            while len(_published_pdfs) > PDF_CACHED:
                _published_pdfs.popitem(last=False)
    elif key is not None:
        _published_pdfs.move_to_end(key)
    name = f"verbale-riunione-{seen.room.meeting.id}.pdf"
    return Response(pdf, media_type="application/pdf", headers=_attachment(name))


async def verbale_pdf(request: Request) -> Response:
    """The PDF laid out from the verbale's text: once a signed copy is
    uploaded, its unsigned version."""
    user = await web.require_user(request)
    return await _pdf(request, await _visible(request, user))


def _signed_response(request: Request, seen: Seen, public: bool) -> Response:
    stored = seen.signed
    path = file_store(request).path(stored.sha256) if stored is not None else None
    if stored is None or path is None or not path.is_file():
        raise NotFound(NO_SIGNED)
    if public:
        return stored_file_response(
            path, stored, cache="public, max-age=300", headers=REFERRER_POLICY
        )
    return stored_file_response(path, stored)


async def signed_verbale(request: Request) -> Response:
    """The signed copy, the official document, for whoever may read the published verbale."""
    user = await web.require_user(request)
    return _signed_response(request, await _visible(request, user), public=False)


async def upload_signed(request: Request) -> Response:
    """``POST /meetings/{id}/verbale/signed``: the signed copy of the published verbale."""
    user = await web.require_user(request)
    meeting_id: int = request.path_params["id"]
    async with web.db(request).session() as session:
        # Before the body is read: who may not upload here, or not now, uploads nothing.
        signed.check_sign(user, await get_readable_room(session, user, meeting_id))
    limit = web.settings(request).upload_max_bytes
    store = file_store(request)
    async with await read_upload(
        request, store, limit, 1, sniff=signed.sniff, kinds=signed.KINDS
    ) as form:
        uploads = form.files_of("signed")

        async def write(uow: UnitOfWork) -> None:
            await signed.do_upload_signed(uow, user, meeting_id, uploads[0] if uploads else None)

        error = await web.attempt(request, write)
    if error is not None:
        return await _page(request, await _visible(request, user), **error)
    return web.redirect(request, f"/meetings/{meeting_id}/verbale")


async def public_verbale(request: Request) -> Response:
    """The published verbale of a public meeting, for anyone with its link."""
    seen, token = await _public(request)
    return await _page(request, seen, token)


async def public_verbale_pdf(request: Request) -> Response:
    """The published verbale's PDF, for anyone with the meeting's public link."""
    seen, _token = await _public(request)
    response = await _pdf(request, seen)
    response.headers.update(REFERRER_POLICY)
    return response


async def public_signed_verbale(request: Request) -> Response:
    """The signed copy, for anyone with the meeting's public link."""
    seen, _token = await _public(request)
    return _signed_response(request, seen, public=True)


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/meetings/{id:id}/calendar.ics", meeting_calendar, methods=["GET"]),
        Route("/zones/{number:id}/meetings.ics", zone_calendar, methods=["GET"]),
        Route("/public/zones/{number:id}/meetings.ics", public_calendar, methods=["GET"]),
        Route("/calendar/{token}.ics", personal_calendar, methods=["GET"]),
        Route("/account/calendar", calendar_page, methods=["GET"]),
        Route("/account/calendar", new_calendar, methods=["POST"]),
        Route("/account/calendar/revoke", revoke_calendar, methods=["POST"]),
        Route("/meetings/{id:id}/verbale", verbale_page, methods=["GET"]),
        Route("/meetings/{id:id}/verbale", edit_verbale, methods=["POST"]),
        Route("/meetings/{id:id}/verbale/publish", publish_verbale, methods=["POST"]),
        Route("/meetings/{id:id}/verbale.pdf", verbale_pdf, methods=["GET"]),
        Route("/meetings/{id:id}/verbale/signed", signed_verbale, methods=["GET"]),
        Route("/meetings/{id:id}/verbale/signed", upload_signed, methods=["POST"]),
        Route("/m/{token}/verbale", public_verbale, methods=["GET"]),
        Route("/m/{token}/verbale.pdf", public_verbale_pdf, methods=["GET"]),
        Route("/m/{token}/verbale/signed", public_signed_verbale, methods=["GET"]),
    ]
