"""Documents on a meeting's agenda items: the chair attaches files, everyone who follows reads them.

Domain code: no Starlette. The files are kept in the same transaction as the
audit row and the :class:`collab.realtime.events.MeetingUpdated` event, so the
live room re-renders its agenda for everyone once they are committed.
Downloading them is :func:`collab.documents.files.may_read`'s business (the
meeting's followers).
"""

from __future__ import annotations

from collections.abc import Sequence

from collab.audit import audit
from collab.db import UnitOfWork
from collab.documents.files import keep
from collab.documents.upload import FILES_PER_FORM, Upload
from collab.errors import ActionError, Conflict, NotFound
from collab.i18n import N_
from collab.meetings.actions import lock_meeting, notify_updated, require_chair
from collab.meetings.models import AgendaItem, MeetingState
from collab.meetings.room import Room
from collab.models import User

__all__ = ["MAX_FILES", "check_attach", "do_attach"]

MAX_FILES = FILES_PER_FORM["agenda"]  # at a time, per agenda item
NO_FILES = N_("Choose at least one file.")
NO_MORE = N_("Documents can no longer be added: the meeting is closed or cancelled.")
NOT_ON_AGENDA = N_("This item is not on the agenda of this meeting.")


def check_attach(user: User, room: Room, item_id: int) -> AgendaItem:
    """The agenda item files may go to now: the chair, a meeting not over.

    The route calls it before the upload is read (nothing arrives from who
    may not attach), :func:`do_attach` again under the meeting's lock.
    """
    require_chair(user, room)
    if room.meeting.state in (MeetingState.CHIUSA, MeetingState.ANNULLATA):
        raise Conflict(NO_MORE)
    item = next((i for i in room.items if i.id == item_id), None)
    if item is None:
        raise NotFound(NOT_ON_AGENDA)
    return item


async def do_attach(
    uow: UnitOfWork, user: User, meeting_id: int, item_id: int, uploads: Sequence[Upload]
) -> Room:
    """Keep ``uploads`` as documents of agenda item ``item_id``, for whoever may chair."""
    room = await lock_meeting(uow, meeting_id)
    item = check_attach(user, room, item_id)
    if not uploads:
        raise ActionError(NO_FILES, field="files")
    stored = [await keep(uow.session, upload, user, agenda_item_id=item.id) for upload in uploads]
    await uow.session.flush()
    room.files.setdefault(item.id, []).extend(stored)
    audit(
        uow.session, user, "meeting.item_files", room.meeting,
        item=item.id, files=[f.id for f in stored],
    )  # fmt: skip
    notify_updated(uow, room)
    return room
