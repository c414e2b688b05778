"""The URL map of the boards."""

from __future__ import annotations

from starlette.routing import Route

from collab.forums import boards, threads

__all__ = ["routes"]

GET, POST = ["GET"], ["POST"]

routes = [
    Route("/", boards.home, methods=GET),
    Route("/metro", boards.zone_page, methods=GET),
    Route("/metro/{theme:str}", boards.board_page, methods=GET),
    Route("/metro/{theme:str}/new", boards.new_thread_page, methods=GET),
    Route("/metro/{theme:str}/new", boards.new_thread, methods=POST),
    Route("/zones/{number:int}", boards.zone_page, methods=GET),
    Route("/zones/{number:int}/{theme:str}", boards.board_page, methods=GET),
    Route("/zones/{number:int}/{theme:str}/new", boards.new_thread_page, methods=GET),
    Route("/zones/{number:int}/{theme:str}/new", boards.new_thread, methods=POST),
    Route("/threads/{id:int}", threads.thread_page, methods=GET),
    Route("/threads/{id:int}/reply", threads.reply, methods=POST),
    Route("/threads/{id:int}/pin", threads.set_pinned, methods=POST),
    Route("/threads/{id:int}/close", threads.set_closed, methods=POST),
    Route("/posts/{id:int}", threads.post_fragment, methods=GET),
    Route("/posts/{id:int}/edit", threads.edit_post_page, methods=GET),
    Route("/posts/{id:int}/edit", threads.edit_post, methods=POST),
    Route("/posts/{id:int}/delete", threads.delete_post, methods=POST),
    Route("/posts/{id:int}/hide", threads.hide_post, methods=POST),
    Route("/posts/{id:int}/restore", threads.restore_post, methods=POST),
    Route("/posts/{id:int}/history", threads.post_history, methods=GET),
]
