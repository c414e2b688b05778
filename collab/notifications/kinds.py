"""The kinds of notification: what each says, and how it reaches people by default.

A kind's default :class:`Mode` holds until a person chooses another on their
notification settings page. Time-bound kinds (a convocation, a deadline, a
meeting about to start, an answer to one's comune) are e-mailed at once;
conversation (replies, new threads, library versions) goes to the daily
digest, so a mayor gets one message a day rather than one per post.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from collab.i18n import N_
from collab.notifications.models import Mode

__all__ = ["KINDS", "Kind", "KindInfo", "describe"]


class Kind(enum.StrEnum):
    MEETING_CONVENED = "meeting_convened"
    MEETING_CHANGED = "meeting_changed"
    MEETING_CANCELLED = "meeting_cancelled"
    MEETING_SOON = "meeting_soon"
    VOTE_OPENED = "vote_opened"
    VERBALE_PUBLISHED = "verbale_published"
    CONSULTATION_OPENED = "consultation_opened"
    CONSULTATION_DEADLINE = "consultation_deadline"
    CONTRIBUTION_ANSWERED = "contribution_answered"
    REPLY = "reply"
    MENTION = "mention"
    THREAD_NEW = "thread_new"
    DOCUMENT_VERSION = "document_version"


@dataclass(frozen=True)
class KindInfo:
    default: Mode
    #: What the settings page calls it.
    label: str
    #: Who gets it, for the settings page and the e-mail's "why you got this".
    reason: str


KINDS: Mapping[Kind, KindInfo] = {
    Kind.MEETING_CONVENED: KindInfo(
        Mode.IMMEDIATELY,
        N_("A meeting is convened"),
        N_("A meeting was convened for your zone."),
    ),
    Kind.MEETING_CHANGED: KindInfo(
        Mode.IMMEDIATELY,
        N_("A meeting changes"),
        N_("A meeting of your zone changed its date, place or agenda."),
    ),
    Kind.MEETING_CANCELLED: KindInfo(
        Mode.IMMEDIATELY,
        N_("A meeting is cancelled"),
        N_("A meeting of your zone was cancelled."),
    ),
    Kind.MEETING_SOON: KindInfo(
        Mode.IMMEDIATELY,
        N_("A meeting starts within the hour"),
        N_("You are invited to a meeting that starts within the hour."),
    ),
    Kind.VOTE_OPENED: KindInfo(
        Mode.APP,
        N_("A vote opens"),
        N_("A vote opened in a meeting you are checked in to."),
    ),
    Kind.VERBALE_PUBLISHED: KindInfo(
        Mode.IMMEDIATELY,
        N_("A verbale is published"),
        N_("The verbale of a meeting you attended was published."),
    ),
    Kind.CONSULTATION_OPENED: KindInfo(
        Mode.IMMEDIATELY,
        N_("A consultation opens"),
        N_("A consultation opened for your comune."),
    ),
    Kind.CONSULTATION_DEADLINE: KindInfo(
        Mode.IMMEDIATELY,
        N_("A consultation's deadline is near"),
        N_("Your comune has not sent its contribution and the deadline is near."),
    ),
    Kind.CONTRIBUTION_ANSWERED: KindInfo(
        Mode.IMMEDIATELY,
        N_("Your comune's contribution is reviewed or answered"),
        N_("The metropolitan staff reviewed or answered your comune's contribution."),
    ),
    Kind.REPLY: KindInfo(
        Mode.DIGEST,
        N_("Replies in threads you take part in"),
        N_("Someone replied in a thread you started, replied to or follow."),
    ),
    Kind.MENTION: KindInfo(
        Mode.IMMEDIATELY,
        N_("Mentions of you"),
        N_("Someone mentioned you in a post."),
    ),
    Kind.THREAD_NEW: KindInfo(
        Mode.DIGEST,
        N_("New threads in themes you follow"),
        N_("A thread was started in a theme you follow."),
    ),
    Kind.DOCUMENT_VERSION: KindInfo(
        Mode.DIGEST,
        N_("New forms in themes you follow"),
        N_("A form was added or updated in the library of a theme you follow."),
    ),
}

# What each kind says, with the thing's title (and the actor's name, when
# there is one). Two-part choices pick by a param (see :func:`describe`).
_SENTENCES: Mapping[Kind, str] = {
    Kind.MEETING_CONVENED: N_("Meeting convened: %(title)s"),
    Kind.MEETING_CHANGED: N_("Meeting changed: %(title)s"),
    Kind.MEETING_CANCELLED: N_("Meeting cancelled: %(title)s"),
    Kind.MEETING_SOON: N_("Starting within the hour: %(title)s"),
    Kind.VOTE_OPENED: N_("A vote is open in %(title)s"),
    Kind.VERBALE_PUBLISHED: N_("Verbale published: %(title)s"),
    Kind.CONSULTATION_OPENED: N_("New consultation for your comune: %(title)s"),
    Kind.CONTRIBUTION_ANSWERED: N_("%(actor)s answered your comune's contribution to %(title)s"),
    Kind.REPLY: N_("%(actor)s replied in %(title)s"),
    Kind.MENTION: N_("%(actor)s mentioned you in %(title)s"),
    Kind.THREAD_NEW: N_("%(actor)s started a thread: %(title)s"),
    Kind.DOCUMENT_VERSION: N_("New version in the forms library: %(title)s"),
}
DEADLINE_TOMORROW = N_("Deadline tomorrow, your comune has not sent its contribution: %(title)s")
DEADLINE_DAYS = N_(
    "Deadline in %(days)s days, your comune has not sent its contribution: %(title)s"
)
REVIEWED = N_("Your comune's contribution to %(title)s was marked as reviewed")
NEW_DOCUMENT = N_("New form in the library: %(title)s")
SOMEONE = N_("Someone")


def describe(
    kind: str,
    title: str,
    actor: str | None,
    params: Mapping[str, Any],
    gettext: Callable[[str], str],
) -> str:
    """The sentence of one notification, in the language of ``gettext``."""
    try:
        known = Kind(kind)
    except ValueError:
        return title
    values = {"title": title, "actor": actor or gettext(SOMEONE), **params}
    if known is Kind.CONSULTATION_DEADLINE:
        days = int(params.get("days", 1))
        text = DEADLINE_TOMORROW if days <= 1 else DEADLINE_DAYS
    elif known is Kind.CONTRIBUTION_ANSWERED and params.get("what") == "reviewed":
        text = REVIEWED
    elif known is Kind.DOCUMENT_VERSION and params.get("what") == "added":
        text = NEW_DOCUMENT
    else:
        text = _SENTENCES[known]
    return gettext(text) % values
