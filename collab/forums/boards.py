"""Pages of the boards: home, a zone, a zone's theme, and starting a thread."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from collab import web
from collab.consultations.queries import ConsultationView, readable_consultations
from collab.documents.download import file_store
from collab.errors import ActionError, NotFound, PermissionDenied
from collab.forums import actions, follows, mention_routes, queries, reads
from collab.forums.models import Thread
from collab.i18n import N_
from collab.meetings.public import PublicMeeting, upcoming_counts, upcoming_public
from collab.models import Theme, User, Zone, utcnow
from collab.permissions import Action, can
from collab.realtime.events import board_topic
from collab.realtime.log import last_seqs
from collab.uploads import UploadForm, read_upload

__all__ = [
    "Board",
    "board_page",
    "home",
    "new_thread",
    "new_thread_page",
    "read_message_form",
    "theme_list_key",
    "zone_page",
]


METRO_RECENT = 5  # metropolitan threads on the home page
PUBLIC_UPCOMING = 10  # public meetings on the home page of a visitor without an account


def theme_list_key(topic: str, theme_id: int) -> str:
    """What a theme's thread list answers to (``data-thread-list``), for live rows."""
    return f"{topic}/theme:{theme_id}"


@dataclass(frozen=True)
class Board:
    """Where threads live: a zone (or the metropolitan area, ``zone`` None)."""

    zone: Zone | None

    @property
    def zone_id(self) -> int | None:
        return self.zone.id if self.zone else None

    @property
    def url(self) -> str:
        return f"/zones/{self.zone.number}" if self.zone else "/metro"

    def theme_url(self, theme: Theme) -> str:
        return f"{self.url}/{theme.slug}"


def carries_files(request: Request) -> bool:
    """Whether the body may hold files (multipart): then who may not write
    there is refused before it is read (a url-encoded form is small, and
    the action checks the same again in its transaction)."""
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def read_message_form(request: Request) -> UploadForm:
    """The form of a new thread or a reply: multipart with files, or url-encoded without.

    Use it with ``async with``: files the action did not keep are deleted on exit.
    """
    if carries_files(request):
        limit = web.settings(request).upload_max_bytes
        return await read_upload(request, file_store(request), limit, actions.MAX_FILES)
    data = await web.form(request)
    return UploadForm(fields={key: [web.field(data, key)] for key in data})


async def _board(session: AsyncSession, request: Request, user: User, action: Action) -> Board:
    number = request.path_params.get("number")
    zone = None
    if number is not None:
        zone = await session.scalar(select(Zone).where(Zone.number == number))
        if zone is None:
            raise NotFound(N_("This zone does not exist."))
    board = Board(zone)
    if not can(user, action, board.zone_id):
        raise PermissionDenied(N_("You are not allowed to see this zone's boards."))
    return board


async def home(request: Request) -> Response:
    user = await web.current_user(request)
    async with web.db(request).session() as session:
        zone_ids = (await session.scalars(select(Zone.id).order_by(Zone.number))).all()
        readable = {zone_id for zone_id in zone_ids if can(user, Action.READ, zone_id)}
        metro = user is not None and can(user, Action.READ)
        live_topics: dict[str, int] = {}
        if user is not None:  # the websocket is for logged-in users
            boards = [board_topic(z) for z in zone_ids if z in readable]
            live_topics = await last_seqs(session, boards + ([board_topic(None)] if metro else []))
        zones, summaries = await queries.zone_summaries(session)
        recent = await queries.recent_threads(session, None, METRO_RECENT) if metro else []
        unread = await _home_unread(session, user, readable, metro, recent)
        # What a visitor without an account may see: the public meetings.
        public: list[PublicMeeting] = []
        public_counts: dict[int, int] = {}
        if user is None:
            public = await upcoming_public(session, limit=PUBLIC_UPCOMING)
            public_counts = await upcoming_counts(session)
    return await web.render(
        request,
        "forums/home.html",
        {"zones": zones, "summaries": summaries, "readable": readable, "metro_recent": recent,
         "metro_limit": METRO_RECENT, "live_topics": live_topics, "public_upcoming": public,
         "public_counts": public_counts, **unread},
    )  # fmt: skip


async def _home_unread(
    session: AsyncSession,
    user: User | None,
    readable: set[int],
    metro: bool,
    recent: Sequence[Thread],
) -> dict[str, object]:
    """The reader's unread counts on the home page: per zone card, and the rows."""
    if user is None:
        return {}
    shown = Thread.zone_id.in_(readable)
    where = or_(shown, Thread.zone_id.is_(None)) if metro else shown
    return {
        "unread_zones": await reads.unread_threads(session, user, Thread.zone_id, where),
        "reads": await reads.thread_states(session, user, recent),
    }


async def zone_page(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        board = await _board(session, request, user, Action.READ)
        live_topics = await last_seqs(session, [board_topic(board.zone_id)])  # before the content
        themes, summaries = await queries.board_summaries(session, board.zone_id)
        recent = await queries.recent_threads(session, board.zone_id)
        comuni = await queries.zone_comuni(session, board.zone_id)
        on_board = (
            Thread.zone_id.is_(None) if board.zone is None else Thread.zone_id == board.zone_id
        )
        unread_themes = await reads.unread_threads(session, user, Thread.theme_id, on_board)
        states = await reads.thread_states(session, user, recent)
        consultations: list[ConsultationView] = []
        if board.zone_id is not None:  # consultations address zones, never the metro board
            consultations = await readable_consultations(session, user, board.zone_id, limit=20)
    now = utcnow()
    return await web.render(
        request,
        "forums/zone.html",
        {"board": board, "themes": themes, "summaries": summaries, "recent": recent,
         "comuni": comuni, "live_topics": live_topics, "recent_limit": queries.RECENT_THREADS,
         "consultations": [v for v in consultations if v.open_at(now)], "now": now,
         "unread_themes": unread_themes, "reads": states},
    )  # fmt: skip


async def board_page(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        board = await _board(session, request, user, Action.READ)
        theme = await actions.get_theme(session, request.path_params["theme"])
        topic = board_topic(board.zone_id)
        live_topics = await last_seqs(session, [topic])  # before the content
        page = await queries.board_threads(
            session, board.zone_id, theme.id, web.page_number(request)
        )
        states = await reads.thread_states(session, user, page.items)
        following = await follows.follows_theme(session, user.id, theme.id, board.zone_id)
    return await web.render(
        request,
        "forums/board.html",
        {"board": board, "theme": theme, "page": page, "live_topics": live_topics,
         "list_key": theme_list_key(topic, theme.id), "live_limit": queries.THREADS_PER_PAGE,
         "reads": states, "theme_follow_url": f"{board.theme_url(theme)}/follow",
         "following_theme": following},
    )  # fmt: skip


async def _new_thread_form(
    request: Request, board: Board, theme: Theme, status: int = 200, **extra: object
) -> Response:
    return await web.render(
        request, "forums/new_thread.html", {"board": board, "theme": theme, **extra},
        status_code=status,
    )  # fmt: skip


async def new_thread_page(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        board = await _board(session, request, user, Action.POST)
        theme = await actions.get_theme(session, request.path_params["theme"])
    return await _new_thread_form(request, board, theme)


async def new_thread(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).session(quick=True) as session:
        # Before the body is read: who may not post here uploads nothing.
        board = await _board(session, request, user, Action.POST)
        theme = await actions.get_theme(session, request.path_params["theme"])
    actions.check_start(user, board.zone_id, theme)
    async with await read_message_form(request) as form:
        title, body = form.get("title"), form.get("body")
        try:
            async with web.db(request).transaction() as uow:
                thread = await actions.do_start_thread(
                    uow,
                    user,
                    board.zone_id,
                    theme,
                    title,
                    body,
                    form.files_of("files"),
                    mention_limit=web.settings(request).mention_limit,
                )
                notice = await mention_routes.notice_after_thread(request, uow.session, thread)
        except ActionError as exc:
            if exc.status != 422:
                raise
            return await _new_thread_form(
                request, board, theme, 422,
                title=title, body=body, error=web.translate(request, exc), error_field=exc.field,
            )  # fmt: skip
    mention_routes.remember_notice(request, notice)
    return web.redirect(request, f"/threads/{thread.id}")
