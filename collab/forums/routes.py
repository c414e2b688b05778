"""The URL map of the boards."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from collab import web  # noqa: F401 - registers the {name:id} URL convertor
from collab.forums import boards, mention_routes, people, threads, tracking

__all__ = ["routes"]

GET, POST = ["GET"], ["POST"]


def routes() -> list[BaseRoute]:
    """This module's URL map (built by ``create_app``, after the ``id`` convertor)."""
    return [
        Route("/", boards.home, methods=GET),
        Route("/metro", boards.zone_page, methods=GET),
        Route("/metro/{theme:str}", boards.board_page, methods=GET),
        Route("/metro/{theme:str}/new", boards.new_thread_page, methods=GET),
        Route("/metro/{theme:str}/new", boards.new_thread, methods=POST),
        Route("/metro/{theme:str}/mentions", mention_routes.board_suggestions, methods=GET),
        Route("/metro/{theme:str}/follow", tracking.follow_theme, methods=POST),
        Route("/zones/{number:id}", boards.zone_page, methods=GET),
        Route("/zones/{number:id}/{theme:str}", boards.board_page, methods=GET),
        Route("/zones/{number:id}/{theme:str}/new", boards.new_thread_page, methods=GET),
        Route("/zones/{number:id}/{theme:str}/new", boards.new_thread, methods=POST),
        Route(
            "/zones/{number:id}/{theme:str}/mentions", mention_routes.board_suggestions, methods=GET
        ),
        Route("/zones/{number:id}/{theme:str}/follow", tracking.follow_theme, methods=POST),
        Route("/threads/{id:id}", threads.thread_page, methods=GET),
        Route("/threads/{id:id}/reply", threads.reply, methods=POST),
        Route("/threads/{id:id}/mentions", mention_routes.thread_suggestions, methods=GET),
        Route("/threads/{id:id}/pin", threads.set_pinned, methods=POST),
        Route("/threads/{id:id}/close", threads.set_closed, methods=POST),
        Route("/threads/{id:id}/unread", tracking.unread, methods=GET),
        Route("/threads/{id:id}/read", tracking.read_post, methods=POST),
        Route("/threads/{id:id}/follow", tracking.follow_thread, methods=POST),
        Route("/posts/{id:id}", threads.post_fragment, methods=GET),
        Route("/posts/{id:id}/edit", threads.edit_post_page, methods=GET),
        Route("/posts/{id:id}/edit", threads.edit_post, methods=POST),
        Route("/posts/{id:id}/delete", threads.delete_post, methods=POST),
        Route("/posts/{id:id}/hide", threads.hide_post, methods=POST),
        Route("/posts/{id:id}/restore", threads.restore_post, methods=POST),
        Route("/posts/{id:id}/history", threads.post_history, methods=GET),
        Route("/people/{id:id}", people.person_page, methods=GET),
    ]
