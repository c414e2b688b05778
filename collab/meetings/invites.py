"""The meeting as an iCalendar invitation in the e-mail of a convocation.

An :data:`~collab.notifications.mailer.AttachmentMaker` for the kinds
convened, changed and cancelled: ``METHOD:REQUEST`` (the same UID as the
feeds, ``meeting-<id>@<host>``, and the meeting's revision as SEQUENCE, so a
calendar replaces the event it has) or, once the meeting is cancelled,
``METHOD:CANCEL`` with ``STATUS:CANCELLED``, whatever the kind: a message
written after the cancellation must not put the meeting back. The event is
the meeting as it is when the message is written, in the recipient's
language, with ORGANIZER (``MAIL_FROM``) and the recipient as ATTENDEE, which
calendar applications expect of an invitation (RFC 6047).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from collab.mail.compose import Attachment
from collab.meetings import ics
from collab.meetings.models import AgendaItem, Meeting, MeetingState, MeetingZone
from collab.models import User, Zone
from collab.notifications.models import Notification
from collab.settings import Settings

__all__ = ["Invites"]

REQUEST_TYPE = "text/calendar; method=REQUEST; charset=UTF-8"
CANCEL_TYPE = "text/calendar; method=CANCEL; charset=UTF-8"


@dataclass(frozen=True)
class Invites:
    """Makes the attachment; ``base_url`` and ``mail_from`` as in the settings."""

    base_url: str
    mail_from: str

    @classmethod
    def of(cls, settings: Settings) -> Invites:
        return cls(settings.base_url, settings.mail_from)

    async def __call__(
        self, session: AsyncSession, notification: Notification, user: User
    ) -> Attachment | None:
        meeting_id = notification.params.get("meeting_id")
        if not isinstance(meeting_id, int):
            return None
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None:
            return None
        items = list(
            await session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id))
        )
        zones = list(
            await session.scalars(
                select(Zone)
                .join(MeetingZone, MeetingZone.zone_id == Zone.id)
                .where(MeetingZone.meeting_id == meeting_id)
            )
        )
        cancelled = meeting.state == MeetingState.ANNULLATA
        name, address = parseaddr(self.mail_from)
        event = ics.meeting_event(
            meeting, items, zones, f"{self.base_url}/meetings/{meeting.id}",
            sequence=meeting.revision, locale=user.locale or "it",
            organizer=(name or "collab", address), attendee=(user.name, user.email),
        )  # fmt: skip
        method = "CANCEL" if cancelled else "REQUEST"
        body = ics.calendar([event], meeting.title, method=method)
        if cancelled:
            return Attachment("annullamento.ics", CANCEL_TYPE, body.encode())
        return Attachment("invito.ics", REQUEST_TYPE, body.encode())
