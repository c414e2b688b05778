"""Meetings' data: the meeting, its zones and agenda, attendance, the floor,
votes and ballots, materials, delegates and the verbale with its revisions.

Domain code: no Starlette here. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from collab.models import Base, Comune, Theme, User, UTCDateTime, utcnow

__all__ = [
    "AgendaItem",
    "Attendance",
    "Ballot",
    "BodyKind",
    "BodyMember",
    "BodyZone",
    "Choice",
    "Counting",
    "FloorRequest",
    "Majority",
    "Meeting",
    "MeetingDelegate",
    "MeetingLog",
    "MeetingMaterial",
    "MeetingState",
    "MeetingZone",
    "SessionType",
    "Verbale",
    "VerbaleRevision",
    "Vote",
    "VoteMethod",
    "VotingBody",
]


class MeetingState(enum.StrEnum):
    CONVOCATA = "convocata"  # convened, not started
    IN_CORSO = "in_corso"  # opened by the chair
    CHIUSA = "chiusa"  # closed: the verbale can be drafted
    ANNULLATA = "annullata"  # cancelled before it was held


class Choice(enum.StrEnum):
    """A comune's ballot (see :mod:`collab.meetings.tally`)."""

    FAVOREVOLE = "favorevole"
    CONTRARIO = "contrario"
    ASTENUTO = "astenuto"
    NON_PARTECIPA = "non_partecipa"


class BodyKind(enum.StrEnum):
    """Who the members of a voting body are."""

    COMUNI = "comuni"  # one vote per comune of the body's zones (assemblea dei sindaci)
    PEOPLE = "people"  # named people, one vote each (a council, a commission, a tavolo)


class Counting(enum.StrEnum):
    """Whether abstainers are among the *votanti* (see :mod:`collab.meetings.tally`)."""

    ABSTAINERS_VOTE = "abstainers_vote"  # Votanti = Favorevoli + Contrari + Astenuti
    ABSTAINERS_APART = "abstainers_apart"  # Votanti = Favorevoli + Contrari


class Majority(enum.StrEnum):
    """What carries a vote."""

    SIMPLE = "simple"  # more in favour than half of the votanti
    ABSOLUTE = "absolute"  # more in favour than half of the members
    QUALIFIED = "qualified"  # at least num/den of the votanti (or of the members)
    DOUBLE = "double"  # a majority of comuni that is also a majority of the population


class SessionType(enum.StrEnum):
    ORDINARIA = "ordinaria"
    STRAORDINARIA = "straordinaria"


class VoteMethod(enum.StrEnum):
    """How a vote is taken, as the verbale states it."""

    ROLL_CALL = "appello_nominale"  # in modo palese, per appello nominale
    ELECTRONIC = "elettronico"  # mediante sistema elettronico
    SECRET = "segreto"  # noqa: S105 (a scrutinio segreto: counts only, never names)


def _str_enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, values_callable=lambda e: [m.value for m in e])


class VotingBody(Base):
    """A body that meets and votes, with its members and its rules.

    Members are the comuni of the body's zones (:class:`BodyZone`) for
    :attr:`BodyKind.COMUNI`, or named people (:class:`BodyMember`) for
    :attr:`BodyKind.PEOPLE`. The structural quorum is a fraction of the
    members: with ``quorum_above`` "more than" that fraction (metà più uno),
    otherwise "at least" it (un terzo); first and second call each have one.
    ``verbale_template`` is the admins' template of the verbale draft; empty,
    the default one is used.
    """

    __tablename__ = "voting_body"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[BodyKind] = mapped_column(_str_enum(BodyKind, "body_kind"))
    counting: Mapped[Counting] = mapped_column(
        _str_enum(Counting, "body_counting"), default=Counting.ABSTAINERS_APART
    )
    majority: Mapped[Majority] = mapped_column(
        _str_enum(Majority, "body_majority"), default=Majority.SIMPLE
    )
    # QUALIFIED: the fraction; QUALIFIED and DOUBLE: of the members, not of the votanti.
    majority_num: Mapped[int] = mapped_column(Integer, default=2)
    majority_den: Mapped[int] = mapped_column(Integer, default=3)
    majority_of_members: Mapped[bool] = mapped_column(Boolean, default=False)
    quorum_num: Mapped[int] = mapped_column(Integer, default=1)
    quorum_den: Mapped[int] = mapped_column(Integer, default=2)
    quorum_above: Mapped[bool] = mapped_column(Boolean, default=True)
    second_call_quorum_num: Mapped[int] = mapped_column(Integer, default=1)
    second_call_quorum_den: Mapped[int] = mapped_column(Integer, default=3)
    second_call_quorum_above: Mapped[bool] = mapped_column(Boolean, default=False)
    show_theme: Mapped[bool] = mapped_column(Boolean, default=False)
    verbale_template: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BodyZone(Base):
    """A zone whose comuni are members of a :attr:`BodyKind.COMUNI` body."""

    __tablename__ = "body_zone"

    body_id: Mapped[int] = mapped_column(ForeignKey("voting_body.id"), primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"), primary_key=True)


class BodyMember(Base):
    """A named member of a :attr:`BodyKind.PEOPLE` body, with their title."""

    __tablename__ = "body_member"
    __table_args__ = (UniqueConstraint("body_id", "user_id", name="uq_body_member_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("voting_body.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    title: Mapped[str] = mapped_column(String(120), default="")  # "Consigliere delegato"
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    user: Mapped[User] = relationship(lazy="joined")


class Meeting(Base):
    """A meeting of one or more zones, on an agenda of items, each on a theme."""

    __tablename__ = "meeting"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str] = mapped_column(String(200), default="")
    video_url: Mapped[str] = mapped_column(String(500), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    state: Mapped[MeetingState] = mapped_column(
        _str_enum(MeetingState, "meeting_state"), default=MeetingState.CONVOCATA
    )
    convened_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    secretary_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Comuni present for the meeting to deliberate; None: a majority of the
    # comuni of the convened zones (counted when the meeting opens).
    quorum: Mapped[int | None] = mapped_column(Integer)
    # The body that meets (None: the comuni of the convened zones, default rules).
    body_id: Mapped[int | None] = mapped_column(ForeignKey("voting_body.id"), index=True)
    vice_chair_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    session_number: Mapped[int | None] = mapped_column(Integer)
    session_type: Mapped[SessionType] = mapped_column(
        _str_enum(SessionType, "session_type"), default=SessionType.ORDINARIA,
        server_default=SessionType.ORDINARIA.value,
    )  # fmt: skip
    call: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # 1st or 2nd call
    notice_date: Mapped[date | None] = mapped_column(Date)
    notice_protocol: Mapped[str] = mapped_column(String(60), default="", server_default="")
    # At the opening: members, present, required and whether the quorum held.
    opening: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Followed without an account through /m/<public_token> when set.
    public_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bumped first by every write to the meeting (collab.meetings.actions):
    # the row lock serializes two chairs acting at once; also the SEQUENCE of
    # the meeting's iCalendar event.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    convened_by: Mapped[User] = relationship(foreign_keys=[convened_by_id], lazy="joined")
    chair: Mapped[User | None] = relationship(foreign_keys=[chair_id], lazy="joined")
    secretary: Mapped[User | None] = relationship(foreign_keys=[secretary_id], lazy="joined")


class MeetingZone(Base):
    """A zone convened to a meeting: its comuni attend and vote."""

    __tablename__ = "meeting_zone"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"), primary_key=True)


class AgendaItem(Base):
    """A point of the agenda, on a theme, with its expected length and live notes."""

    __tablename__ = "agenda_item"
    __table_args__ = (UniqueConstraint("meeting_id", "position", name="uq_agenda_item_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"))
    minutes: Mapped[int] = mapped_column(Integer, default=15)
    notes: Mapped[str] = mapped_column(Text, default="")  # the secretary's, typed live
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    theme: Mapped[Theme] = relationship(lazy="joined")


class Attendance(Base):
    """Someone present at a meeting: for a comune (which may vote), or without a vote.

    One row per comune per meeting (whoever checked it in) and one per person;
    ``left_at`` set when they leave, cleared if they come back.
    """

    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("meeting_id", "comune_id", name="uq_attendance_comune"),
        UniqueConstraint("meeting_id", "user_id", name="uq_attendance_user"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"))
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comune.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    voting: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    comune: Mapped[Comune | None] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined")


class FloorRequest(Base):
    """A raised hand: queued, then given the floor, then done (or withdrawn)."""

    __tablename__ = "floor_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comune.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    granted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(lazy="joined")
    comune: Mapped[Comune | None] = relationship(lazy="joined")


class Vote(Base):
    """A vote on a parere (or on one point of it); its result is frozen at close."""

    __tablename__ = "vote"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id"))
    motion: Mapped[str] = mapped_column(String(300))
    point: Mapped[str] = mapped_column(String(200), default="")  # "votazione per punti"
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    quorum: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The frozen outcome (names per choice, quorum), set at close.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    approved: Mapped[bool | None] = mapped_column(Boolean)
    # The proposal put to the vote (dispositivo) and how the vote is taken.
    text: Mapped[str] = mapped_column(Text, default="", server_default="")
    method: Mapped[VoteMethod] = mapped_column(
        _str_enum(VoteMethod, "vote_method"), default=VoteMethod.ROLL_CALL,
        server_default=VoteMethod.ROLL_CALL.value,
    )  # fmt: skip
    # Opened without the quorum, after the chair confirmed it.
    without_quorum: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class Ballot(Base):
    """One member's ballot in a vote, cast once.

    For a body of comuni the member is the comune (cast by its sindaco or
    delegate); for a body of people, the :class:`BodyMember`. Exactly one of
    ``comune_id`` and ``member_id`` is set.
    """

    __tablename__ = "ballot"
    __table_args__ = (
        UniqueConstraint("vote_id", "comune_id", name="uq_ballot_comune"),
        UniqueConstraint("vote_id", "member_id", name="uq_ballot_member"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id"))
    comune_id: Mapped[int | None] = mapped_column(ForeignKey("comune.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("body_member.id"))
    cast_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    choice: Mapped[Choice] = mapped_column(_str_enum(Choice, "ballot_choice"))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Verbale(Base):
    """A meeting's minutes: drafted from the record at close, edited, then published."""

    __tablename__ = "verbale"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), unique=True)
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # The signed copy (PAdES PDF or .p7m), uploaded after publication: the official file.
    signed_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id"))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class MeetingMaterial(Base):
    """A document of a meeting (a link), for the whole meeting or one agenda item."""

    __tablename__ = "meeting_material"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id"))
    title: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))
    added_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MeetingDelegate(Base):
    """The person a comune's sindaco names to check in and vote for it at one meeting."""

    __tablename__ = "meeting_delegate"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), primary_key=True)
    comune_id: Mapped[int] = mapped_column(ForeignKey("comune.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    named_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class VerbaleRevision(Base):
    """A previous text of a verbale, kept on every edit."""

    __tablename__ = "verbale_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verbale_id: Mapped[int] = mapped_column(ForeignKey("verbale.id"), index=True)
    source: Mapped[str] = mapped_column(Text)
    edited_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MeetingLog(Base):
    """The meeting's own record of what happened when, and who did it.

    Chair actions (opening, moving the agenda, opening a vote, with or without
    the quorum, closing it, closing the meeting) and attendance (checking in,
    leaving, coming back): the verbale states them from here.
    """

    __tablename__ = "meeting_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
