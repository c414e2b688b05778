"""The features, as the app assembles them: what each plugs into the live
engine and what its templates need. Only ``create_app`` (and tests that build
parts of the app) import this; the engine and the core modules never do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collab.consultations import live as consultations_live
from collab.consultations.models import STATUS_LABELS
from collab.consultations.notices import remind_deadlines
from collab.documents import live as documents_live
from collab.documents.sniff import KINDS
from collab.documents.upload import FILES_PER_FORM
from collab.forums import live as forums_live
from collab.meetings import live as meetings_live
from collab.meetings.invites import Invites
from collab.meetings.notices import remind_soon
from collab.notifications import live as notifications_live
from collab.notifications.kinds import Kind
from collab.notifications.mailer import AttachmentMaker, Reminder
from collab.notifications.pages import bell_context
from collab.realtime.registry import LiveFeature
from collab.services import PageHook
from collab.settings import DEFAULT_UPLOAD_MAX_BYTES, Settings
from collab.templating import Templates

__all__ = [
    "LIVE_FEATURES",
    "MAIL_ATTACHMENTS",
    "PAGE_HOOKS",
    "REMINDERS",
    "make_templates",
    "template_extras",
]

# Each registers its topic kinds and event frames with the engine
# (docs/architecture.md, "Adding a live feature").
LIVE_FEATURES: tuple[LiveFeature, ...] = (
    forums_live.feature,
    meetings_live.feature,
    consultations_live.feature,
    documents_live.feature,
    notifications_live.feature,
)

# What a kind of notification attaches to its e-mail (a convocation's ICS),
# made from the settings by ``create_app``.
MAIL_ATTACHMENTS: dict[Kind, Callable[[Settings], AttachmentMaker]] = {
    Kind.MEETING_CONVENED: Invites.of,
    Kind.MEETING_CHANGED: Invites.of,
    Kind.MEETING_CANCELLED: Invites.of,
}

# Notifications that come with time (a meeting within the hour, a deadline).
REMINDERS: tuple[Reminder, ...] = (remind_deadlines, remind_soon)

# What each adds to every page of a logged-in user (the bell).
PAGE_HOOKS: tuple[PageHook, ...] = (bell_context,)

_KIND_LABELS = {kind.mime: kind.label for kind in KINDS}


def _kind_label(mime: str) -> str:
    return _KIND_LABELS.get(mime, mime)


def template_extras() -> dict[str, Any]:
    """The globals and filters the features' templates use."""
    return {
        "files_per_form": FILES_PER_FORM,
        "status_labels": {s.value: label for s, label in STATUS_LABELS.items()},
        "filters": {"kind_label": _kind_label},
    }


def make_templates(
    upload_max_bytes: int = DEFAULT_UPLOAD_MAX_BYTES, *, reload: bool = False
) -> Templates:
    """The app's templates, with every feature's extras; ``reload``: see :class:`Templates`."""
    return Templates(upload_max_bytes=upload_max_bytes, extras=template_extras(), reload=reload)
