"""Thread pages and post actions: reply, edit, delete, hide, pin, close, history.

Every write works two ways: a plain form post answered with a redirect
(JavaScript off), or an htmx request answered with the partial it swaps in.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from collab import web
from collab.errors import ActionError
from collab.forums import actions, mention_routes, queries, tracking
from collab.forums.boards import Board, carries_files, read_message_form
from collab.forums.models import Post, PostRevision, Thread
from collab.models import User
from collab.permissions import Action, can
from collab.realtime.events import thread_topic
from collab.realtime.log import last_seqs

__all__ = [
    "delete_post",
    "edit_post",
    "edit_post_page",
    "hide_post",
    "post_fragment",
    "post_history",
    "reply",
    "restore_post",
    "set_closed",
    "set_pinned",
    "thread_page",
]


def _board(thread: Thread) -> Board:
    return Board(thread.zone)


def _permalink(post: Post, number: int) -> str:
    return f"/threads/{post.thread_id}?page={number}#post-{post.id}"


async def _permalink_of(request: Request, post: Post) -> str:
    async with web.db(request).session() as session:
        return _permalink(post, await queries.post_position(session, post))


async def _thread_context(
    request: Request, user: User, thread_id: int, number: int, record: bool = False
) -> dict[str, Any]:
    """What the thread page shows; ``record``: the view counts as read (a page
    shown again with a refused reply records nothing)."""
    async with web.db(request).session() as session:
        thread = await actions.get_readable_thread(session, user, thread_id)
        live_topics = await last_seqs(session, [thread_topic(thread.id)])  # before the content
        page = await queries.thread_posts(session, thread.id, number)
        post_files = await queries.post_files(session, page.items)
        # Before the view is recorded: the separator marks what was unread on arrival.
        reading = await tracking.thread_reading(session, user, thread, page)
    if record:
        await tracking.record_view(request, user, reading)
    return {
        **reading.context(),
        "thread": thread,
        "board": _board(thread),
        "theme": thread.theme,
        "page": page,
        "post_files": post_files,
        "live_topics": live_topics,
    }


async def thread_page(request: Request) -> Response:
    user = await web.require_user(request)
    context = await _thread_context(
        request, user, request.path_params["id"], web.page_number(request), record=True
    )
    context["mention_notice"] = mention_routes.pop_notice(request)  # after a redirect
    return await web.render(request, "forums/thread.html", context)


async def reply(request: Request) -> Response:
    user = await web.require_user(request)
    thread_id = request.path_params["id"]
    if carries_files(request):
        # Before the body is read: who may not reply here, or not now, uploads nothing.
        async with web.db(request).session(quick=True) as session:
            await actions.check_reply(session, user, thread_id)
    async with await read_message_form(request) as form:
        body, shown_page = form.get("body"), form.get("page")
        try:
            async with web.db(request).transaction() as uow:
                post = await actions.do_reply(
                    uow,
                    user,
                    thread_id,
                    body,
                    form.files_of("files"),
                    mention_limit=web.settings(request).mention_limit,
                )
                # Its page, in the same transaction: one session less per reply.
                url = _permalink(post, await queries.post_position(uow.session, post))
        except ActionError as exc:
            if exc.status != 422:
                raise
            return await _reply_refused(request, user, thread_id, body, exc)
    notice = mention_routes.notice_after_post(request, post.html, user.id)
    if (
        web.is_htmx(request)
        and shown_page.isdigit()
        and url.startswith(f"/threads/{thread_id}?page={shown_page}#")
    ):
        # The new post belongs on the page being shown: append it in place.
        async with web.db(request).session() as session:
            thread = await actions.get_readable_thread(session, user, thread_id)
            post = await session.get_one(Post, post.id)
            post_files = await queries.post_files(session, [post])
        return await web.render(
            request,
            "forums/_reply_created.html",
            {"post": post, "thread": thread, "page": {"number": int(shown_page)},
             "post_files": post_files, "mention_notice": notice},
        )  # fmt: skip
    mention_routes.remember_notice(request, notice)
    return web.redirect(request, url)


async def _reply_refused(
    request: Request, user: User, thread_id: int, body: str, exc: ActionError
) -> Response:
    error = {"body": body, "error": web.translate(request, exc)}
    if web.is_htmx(request):
        async with web.db(request).session() as session:
            thread = await actions.get_readable_thread(session, user, thread_id)
        return await web.render(
            request, "forums/_reply_form.html", {"thread": thread, **error},
            status_code=422, headers={"HX-Retarget": "#reply-form", "HX-Reswap": "outerHTML"},
        )  # fmt: skip
    context = await _thread_context(request, user, thread_id, 10**6)
    return await web.render(request, "forums/thread.html", {**context, **error}, 422)


async def _render_post(
    request: Request, user: User, post_id: int, notice: str | None = None
) -> Response:
    async with web.db(request).session() as session:
        post, thread = await actions.get_post(session, user, post_id)
        post_files = await queries.post_files(session, [post])
    return await web.render(
        request,
        "forums/_post_noticed.html" if notice else "forums/_post.html",
        {"post": post, "thread": thread, "post_files": post_files, "mention_notice": notice},
    )


async def post_fragment(request: Request) -> Response:
    """The post alone for htmx (cancel an edit); otherwise its permalink."""
    user = await web.require_user(request)
    if web.is_htmx(request):
        return await _render_post(request, user, request.path_params["id"])
    async with web.db(request).session() as session:
        post, _ = await actions.get_post(session, user, request.path_params["id"])
    return web.redirect(request, await _permalink_of(request, post))


async def edit_post_page(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        # The same checks as the edit itself: the form holds the post's source,
        # which must not leak for someone else's or a hidden post.
        post, thread = await actions.get_own_post(session, user, request.path_params["id"])
    template = "forums/_post_edit.html" if web.is_htmx(request) else "forums/post_edit.html"
    context = {"post": post, "thread": thread, "board": _board(thread), "body": post.source}
    return await web.render(request, template, context)


async def edit_post(request: Request) -> Response:
    user = await web.require_user(request)
    data = await web.form(request)
    body = web.field(data, "body")
    post_id = request.path_params["id"]
    try:
        async with web.db(request).transaction() as uow:
            post = await actions.do_edit_post(
                uow, user, post_id, body, mention_limit=web.settings(request).mention_limit
            )
    except ActionError as exc:
        if exc.status != 422:
            raise
        async with web.db(request).session() as session:
            post, thread = await actions.get_post(session, user, post_id)
        template = "forums/_post_edit.html" if web.is_htmx(request) else "forums/post_edit.html"
        context = {"post": post, "thread": thread, "board": _board(thread), "body": body}
        return await web.render(
            request, template, {**context, "error": web.translate(request, exc)}, 422
        )
    notice = mention_routes.notice_after_post(request, post.html, user.id)
    if notice and web.is_htmx(request):
        return await _render_post(request, user, post_id, notice)
    mention_routes.remember_notice(request, notice)
    return await _after_post_change(request, user, post_id)


async def _after_post_change(request: Request, user: User, post_id: int) -> Response:
    if web.is_htmx(request):
        return await _render_post(request, user, post_id)
    async with web.db(request).session() as session:
        post, _ = await actions.get_post(session, user, post_id)
    return web.redirect(request, await _permalink_of(request, post))


async def delete_post(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).transaction() as uow:
        await actions.do_delete_own_post(uow, user, request.path_params["id"])
    return await _after_post_change(request, user, request.path_params["id"])


async def hide_post(request: Request) -> Response:
    user = await web.require_user(request)
    data = await web.form(request)
    try:
        async with web.db(request).transaction() as uow:
            await actions.do_hide_post(
                uow, user, request.path_params["id"], web.field(data, "reason")
            )
    except ActionError as exc:
        if exc.status != 422:
            raise
        return await web.error_response(request, 422, web.translate(request, exc))
    return await _after_post_change(request, user, request.path_params["id"])


async def restore_post(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).transaction() as uow:
        await actions.do_restore_post(uow, user, request.path_params["id"])
    return await _after_post_change(request, user, request.path_params["id"])


async def _thread_flag(request: Request, flag: str) -> Response:
    user = await web.require_user(request)
    data = await web.form(request)
    value = web.field(data, "value") == "1"
    do = actions.do_set_pinned if flag == "pinned" else actions.do_set_closed
    async with web.db(request).transaction() as uow:
        await do(uow, user, request.path_params["id"], value)
    return web.redirect(request, f"/threads/{request.path_params['id']}")


async def set_pinned(request: Request) -> Response:
    return await _thread_flag(request, "pinned")


async def set_closed(request: Request) -> Response:
    return await _thread_flag(request, "closed")


async def post_history(request: Request) -> Response:
    user = await web.require_user(request)
    async with web.db(request).session() as session:
        post, thread = await actions.get_post(session, user, request.path_params["id"])
        revisions = (
            await session.scalars(
                select(PostRevision)
                .where(PostRevision.post_id == post.id)
                .order_by(PostRevision.id.desc())
            )
        ).all()
    hidden = post.deleted and not can(user, Action.MODERATE, thread.zone_id)
    return await web.render(
        request,
        "forums/history.html",
        {"post": post, "thread": thread, "board": _board(thread), "revisions": revisions,
         "hidden": hidden},
    )  # fmt: skip
