"""What a viewer sees of a meeting's room: its mode, and the partials' context.

One context for the three uses of each region partial (``meetings/_room_*.html``):
the page, the htmx response and the websocket frame. A viewer is sorted into a
**mode** (``chair``, ``notes``, ``voter``, ``member``, ``public``), the comune
they vote for (or None) and whether they may name the comune's delegate; the
live renderer renders once per such variant. What depends on the person
themselves (their raised hand, their guest registration) is rendered both ways
and chosen in the page by ``static/js/meeting.js`` from ``data-me`` (the page
and the htmx response, which know the person, choose on the server).

Domain side of the web: no Starlette here, so :mod:`collab.realtime` can use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from collab.i18n import translations
from collab.markup import render_markdown
from collab.meetings.models import Choice, MeetingState
from collab.meetings.room import Room, VoteView
from collab.meetings.rules import may_chair, may_preside, may_take_notes, voting_comune
from collab.meetings.tally import double_line, outcome_text, roll_call, thaw
from collab.models import User
from collab.permissions import Action, can

__all__ = [
    "CHOICES",
    "MODES",
    "REGIONS",
    "RoomView",
    "Variant",
    "region_context",
    "variant_of",
    "view_for",
]

MODES = ("chair", "notes", "voter", "member", "public")
# Every region of the room: its partial is meetings/_room_<name>.html and its
# element's id is room-<name>.
REGIONS = ("status", "controls", "agenda", "attendance", "floor", "notes", "vote", "verbale")
CHOICES = (Choice.FAVOREVOLE, Choice.CONTRARIO, Choice.ASTENUTO, Choice.NON_PARTECIPA)


@dataclass(frozen=True)
class Variant:
    """What the room's partials depend on, apart from the room and the locale."""

    mode: str
    comune_id: int | None = None  # the comune this viewer checks in and votes for
    names_delegate: bool = False  # the comune's sindaco: may name its delegate
    presides: bool = False  # opens and closes the meeting and votes, moves the agenda
    member_id: int | None = None  # their BodyMember in a body of people: checks in, votes


def variant_of(user: User | None, room: Room) -> Variant:
    """The variant of ``user`` in ``room``; None (a public follower) is ``public``."""
    if user is None:
        return Variant("public")
    zone_ids = room.zone_ids
    # In a body of people its members vote, not comuni.
    comune_id = None if room.by_people else voting_comune(user, zone_ids, room.delegates)
    member = room.member_of(user)
    presides = may_preside(user, room.meeting, zone_ids, room.chair_present)
    sindaco = (
        comune_id is not None
        and comune_id == user.comune_id
        and can(user, Action.VOTE, user.zone_id)
        and user.zone_id in zone_ids
    )
    if may_chair(user, room.meeting, zone_ids):
        mode = "chair"
    elif may_take_notes(user, room.meeting, zone_ids):
        mode = "notes"
    elif comune_id is not None or member is not None:
        mode = "voter"
    else:
        mode = "member"
    return Variant(mode, comune_id, sindaco, presides, member.id if member else None)


@dataclass(frozen=True)
class RoomView:
    """A room as one variant sees it. ``me`` is the person's id when known (page, htmx)."""

    room: Room
    variant: Variant
    me: int | None = None
    token: str | None = None  # the public page's token (links stay under /m/<token>)

    @property
    def mode(self) -> str:
        return self.variant.mode

    @property
    def public(self) -> bool:
        return self.variant.mode == "public"

    @property
    def chair(self) -> bool:
        """Manages the meeting: edits, cancels it, its public link (may_chair)."""
        return self.variant.mode == "chair"

    @property
    def presides(self) -> bool:
        """Presides: opens and closes it, moves the agenda, opens and closes votes."""
        return self.variant.presides

    @property
    def member_id(self) -> int | None:
        return self.variant.member_id

    @property
    def member_present(self) -> bool:
        return self.member_id is not None and self.member_id in self.room.present_member_ids

    @property
    def notes(self) -> bool:
        return self.variant.mode in ("chair", "notes")

    @property
    def member(self) -> bool:
        return self.variant.mode != "public"

    @property
    def comune_id(self) -> int | None:
        return self.variant.comune_id

    @property
    def in_corso(self) -> bool:
        return self.room.meeting.state == MeetingState.IN_CORSO

    @property
    def registering(self) -> bool:
        """Attendance can change: convocata or in corso."""
        return self.room.meeting.state in (MeetingState.CONVOCATA, MeetingState.IN_CORSO)

    @property
    def comune_present(self) -> bool:
        return self.comune_id is not None and self.comune_id in self.room.present_ids

    @property
    def comune_name(self) -> str:
        return next((c.name for c in self.room.comuni if c.id == self.comune_id), "")

    def own_ballot(self, vote: VoteView) -> Choice | None:
        """What this viewer's comune (or they, as a member) voted (only its own
        voters see it)."""
        key = self.member_id if self.member_id is not None else self.comune_id
        if key is None:
            return None
        return vote.ballots.get(key)

    def queued(self) -> bool | None:
        """Has ``me`` asked for the floor? None when the person is not known here."""
        if self.me is None:
            return None
        return any(r.user_id == self.me for r in self.room.queue)

    def speaking(self) -> bool | None:
        if self.me is None:
            return None
        speaker = self.room.speaker
        return speaker is not None and speaker.user_id == self.me

    def guest(self) -> bool | None:
        """Is ``me`` present without a vote?"""
        if self.me is None:
            return None
        return any(a.user_id == self.me for a in self.room.guests)

    def verbale_url(self) -> str | None:
        verbale = self.room.verbale
        if verbale is None:
            return None
        if self.public:
            return f"/m/{self.token}/verbale" if verbale.published_at and self.token else None
        if verbale.published_at is None and not self.notes:
            return None
        return f"/meetings/{self.room.meeting.id}/verbale"


def view_for(user: User | None, room: Room, token: str | None = None) -> RoomView:
    """The view of a person (page or htmx response): their variant and their id."""
    variant = Variant("public") if token is not None else variant_of(user, room)
    return RoomView(room, variant, me=None if token else (user.id if user else None), token=token)


def _names(view: VoteView, choice: Choice, comuni: dict[int, str]) -> list[str]:
    return sorted(comuni.get(c, "") for c, chosen in view.ballots.items() if chosen == choice)


def region_context(view: RoomView, locale: str) -> dict[str, Any]:
    """The context every room partial takes (plus ``csrf_token`` and ``error``)."""
    room = view.room
    tr = translations(locale)
    current = room.current_item
    comuni = room.member_names  # comune id (or body member id) -> name
    open_vote = room.open_vote
    tally: dict[str, Any] = {}
    if open_vote is not None:
        tally = {
            "cast": len(open_vote.ballots),
            "counts": {str(c): open_vote.count(c) for c in CHOICES},
            # Names per choice for an open vote only: a secret vote shows the
            # number of ballots while it is open (counts per choice changing one
            # ballot at a time would tell who voted what) and counts at close.
            "names": {}
            if open_vote.vote.secret
            else {str(c): _names(open_vote, c, comuni) for c in CHOICES},
        }
    # (view, roll call, outcome, its wording, the double majority's line or "")
    closed = []
    for past in room.closed_votes:
        if past.vote.result is not None:
            outcome = thaw(past.vote.result)
            line = roll_call(outcome, tr.gettext, tr.ngettext)
            double = double_line(outcome, tr.gettext, tr.ngettext, locale)
            closed.append((past, line, outcome, outcome_text(outcome, tr.gettext), double))
    return {
        "v": view,
        "room": room,
        "meeting": room.meeting,
        "current": current,
        "notes_html": Markup(render_markdown(current.notes)) if current and current.notes else "",  # noqa: S704 - sanitized by render_markdown
        "open_vote": open_vote,
        "tally": tally,
        "closed_votes": closed,
        "choices": [str(c) for c in CHOICES],
        "comuni_names": comuni,
        "oob": False,
    }
