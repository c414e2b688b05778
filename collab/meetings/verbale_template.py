"""A body's template of the verbale: Jinja2 in a sandbox, writing Markdown.

Admins edit a voting body's template (``VotingBody.verbale_template``; empty:
the default one, ``templates/meetings/verbale_draft.txt``). It runs in
Jinja2's immutable sandbox: no attribute starting with an underscore, no
method that changes a value, no import, no file, ranges bounded; an unknown
name is an error (``StrictUndefined``), not an empty string. What it sees:

- ``body``: ``name``, ``by_people`` (members are people, not comuni), ``show_theme``;
- ``meeting``: ``title``, ``zones`` (list), ``number`` (session number or
  none), ``type`` ("ordinaria" / "straordinaria"), ``call`` (1 or 2),
  ``date``, ``opened``, ``closed`` (times), ``place``, ``video_url``,
  ``notice_date``, ``notice_protocol``;
- ``chair``, ``vice_chair``, ``secretary``: ``name``, ``title``;
- ``members`` (how many), ``present`` (each ``name``, ``who`` checked a
  comune in, ``title``, ``left``: the time they left before the close),
  ``absent`` (names), ``guests`` (``name``, ``role``, ``zone``), ``quorum``
  (members required), ``opening_present`` (present at the opening);
- ``items``: ``number``, ``title``, ``theme``, ``notes``, ``speeches``
  (``speaker``, ``comune``, ``at``, ``length``) and ``votes`` (``motion``,
  ``point``, ``text`` the dispositivo, ``method``, ``method_text``,
  ``secret``, ``roll_call``, ``majority``, ``double``, ``voters`` (who cast
  each comune's ballot), ``result``,
  ``approved``, ``quorum``, ``present``, ``quorum_held``, ``without_quorum``,
  ``opened``, ``closed``, ``opened_by``, ``closed_by``);
- ``log``: the chair's actions (``time``, ``text``); ``movements``: who
  came and went while the session was open (``time``, ``text``); ``materials``;
- ``_``/``gettext`` and ``ngettext`` (plurals), in the meeting's language.

Every ``{{ value }}`` is printed as plain text: the characters Markdown
reads (``*``, ``_``, ``#``, ``[``...) are escaped, so a name cannot format
the verbale. Notes, dispositivi and the video link are Markdown already and
print as they are.

Domain code: no Starlette.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from collab.errors import ActionError
from collab.i18n import N_, translations
from collab.meetings.models import Choice, Counting, Majority, SessionType, VoteMethod
from collab.meetings.tally import Member, Rules, tally
from collab.meetings.verbale import (
    Attendee,
    Guest,
    ItemRecord,
    LogEntry,
    Markdown,
    Record,
    Speech,
    VoteRecord,
    context_of,
    md,
)
from collab.templating import TEMPLATE_DIR

__all__ = [
    "DEFAULT_TEMPLATE",
    "MAX_OUTPUT",
    "MAX_TEMPLATE",
    "TemplateProblem",
    "check",
    "render",
    "sample_record",
]

DEFAULT_PATH = TEMPLATE_DIR / "meetings" / "verbale_draft.txt"
DEFAULT_TEMPLATE = DEFAULT_PATH.read_text(encoding="utf-8")
MAX_TEMPLATE = 50_000  # characters of a body's template
MAX_OUTPUT = 200_000  # characters of the draft (collab.meetings.minutes.MAX_VERBALE)

TOO_LONG = N_("The template is too long: at most %(max)d characters.")
SYNTAX = N_("The template does not compile, line %(line)d: %(detail)s")
UNSAFE = N_("The template uses something that is not allowed: %(detail)s")
UNDEFINED = N_("The template uses a name that does not exist: %(detail)s")
FAILS = N_("The template cannot be applied to a meeting: %(detail)s")
EMPTY_OUTPUT = N_("The template writes nothing: the verbale would be empty.")
OUTPUT_TOO_LONG = N_("The verbale this template writes is too long.")
TOO_MUCH_WORK = N_(
    "The template does too much work: loops, calls or repetitions beyond %(max)d steps."
)


class TemplateProblem(ActionError):
    """A body's template that does not compile or does not render (422)."""


def _finalize(value: Any) -> str:
    if isinstance(value, Markdown):
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool | int):
        return str(value)
    return md(str(value))


# The work one render may do: items of every range, characters of every
# repeated string, calls. A template loops over a meeting's items, people and
# votes; one that loops a million times is a mistake, or worse.
MAX_STEPS = 200_000
_steps: ContextVar[list[int]] = ContextVar("verbale_template_steps")
TOO_MUCH = "the template does too much work (loops, calls or repetitions)"


def _charge(steps: int) -> None:
    left = _steps.get()
    left[0] -= steps
    if left[0] < 0:
        raise SecurityError(TOO_MUCH)


def _range(*args: int) -> range:
    values = range(*args)
    _charge(len(values))
    return values


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with a budget on ranges, repetitions and calls."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("the power operator is not allowed")
        for sequence, times in ((left, right), (right, left)):
            if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                _charge(len(sequence) * max(times, 0))
        return super().call_binop(context, operator, left, right)

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _charge(1)
        return super().call(__context, __obj, *args, **kwargs)


@cache
def _environment(locale: str) -> ImmutableSandboxedEnvironment:
    env = _Sandbox(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
        finalize=_finalize,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["range"] = _range
    return env


@cache
def _compiled(source: str, locale: str) -> Template:
    return _environment(locale).from_string(source)


def _compile(source: str, locale: str) -> Template:
    if len(source) > MAX_TEMPLATE:
        raise TemplateProblem(TOO_LONG, field="template", max=MAX_TEMPLATE)
    try:
        return _compiled(source, locale)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(
            SYNTAX, field="template", line=exc.lineno or 0, detail=exc.message or str(exc)
        ) from exc


def render(source: str, record: Record, locale: str = "it") -> str:
    """The draft ``source`` writes for ``record`` (empty ``source``: the default template).

    Raises :class:`TemplateProblem` (Italian, for the form) when it does not
    compile or does not render.
    """
    template = _compile(source if source.strip() else DEFAULT_TEMPLATE, locale)
    token = _steps.set([MAX_STEPS])
    try:
        text = _generate(template, context_of(record, locale))
    except TemplateProblem:
        raise
    except SecurityError as exc:
        if str(exc) == TOO_MUCH:
            raise TemplateProblem(TOO_MUCH_WORK, field="template", max=MAX_STEPS) from exc
        raise TemplateProblem(UNSAFE, field="template", detail=str(exc)) from exc
    except UndefinedError as exc:
        raise TemplateProblem(UNDEFINED, field="template", detail=str(exc)) from exc
    except TemplateSyntaxError as exc:  # an {% include %} or the like, at render time
        raise TemplateProblem(
            SYNTAX, field="template", line=exc.lineno or 0, detail=exc.message or str(exc)
        ) from exc
    except Exception as exc:  # whatever an admin's template does wrong
        raise TemplateProblem(
            FAILS, field="template", detail=f"{type(exc).__name__}: {exc}"
        ) from exc
    finally:
        _steps.reset(token)
    text = _tidy(text)
    if not text.strip():
        raise TemplateProblem(EMPTY_OUTPUT, field="template")
    if len(text) > MAX_OUTPUT:
        raise TemplateProblem(OUTPUT_TOO_LONG, field="template")
    return text


def _generate(template: Template, context: dict[str, Any]) -> str:
    """The rendered text, stopped as soon as it is longer than a verbale may be."""
    parts: list[str] = []
    size = 0
    for part in template.generate(context):
        size += len(part)
        if size > MAX_OUTPUT:
            raise TemplateProblem(OUTPUT_TOO_LONG, field="template")
        parts.append(part)
    return "".join(parts)


def _tidy(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, one final newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip("\n") + "\n"


def check(source: str, by_people: bool = False, locale: str = "it") -> str:
    """The draft ``source`` writes for :func:`sample_record`: a preview, and the
    proof that it compiles and renders before it is saved."""
    return render(source, sample_record(by_people), locale)


def _at(hour: int, minute: int) -> datetime:
    return datetime(2026, 3, 12, hour - 1, minute, tzinfo=UTC)  # Turin: UTC+1 in March


def sample_record(by_people: bool = False) -> Record:
    """A meeting as a body's template is previewed on: every part of a verbale in it."""
    F, C, A, N = Choice.FAVOREVOLE, Choice.CONTRARIO, Choice.ASTENUTO, Choice.NON_PARTECIPA
    if by_people:
        names = ["Anna Bianchi", "Carlo Verdi", "Elena Neri", "Giulia Rossi", "Luca Gallo"]
        members = [Member(n) for n in names]
        present = [
            Attendee("Anna Bianchi", title="Sindaca metropolitana"),
            Attendee("Carlo Verdi", title="Consigliere delegato"),
            Attendee("Elena Neri", title="Consigliera", left_at=_at(11, 40)),
            Attendee("Giulia Rossi", title="Dirigente"),
        ]
        absent = ["Luca Gallo"]
        rules = Rules(Counting.ABSTAINERS_VOTE, Majority.SIMPLE)
        ballots = {"Anna Bianchi": F, "Carlo Verdi": F, "Elena Neri": A, "Giulia Rossi": C}
        cast_by: dict[str, str] = {}
        body, chair, chair_title = (
            "Consiglio metropolitano",
            "Anna Bianchi",
            "Sindaca metropolitana",
        )
    else:
        populations = {"Airasca": 3_800, "Cumiana": 7_900, "Frossasco": 2_800, "Pinerolo": 35_400,
                       "Vigone": 5_100}  # fmt: skip
        members = [Member(n, p) for n, p in populations.items()]
        present = [
            Attendee("Airasca", who="Mario Rossi"),
            Attendee("Cumiana", who="Paola Ferri"),
            Attendee("Frossasco", who="Delegata Sara Conti"),
            Attendee("Pinerolo", who="Luigi Bassi", left_at=_at(11, 40)),
        ]
        absent = ["Vigone"]
        rules = Rules(Counting.ABSTAINERS_APART, Majority.DOUBLE)
        ballots = {"Airasca": F, "Cumiana": F, "Pinerolo": F, "Frossasco": N}
        cast_by = {a.name: a.who for a in present}
        body, chair, chair_title = "Assemblea dei sindaci ZO 5", "Paola Ferri", "Portavoce"
    here = [a.name for a in present]
    leaver = present[3].who or present[3].name
    left = {"member": leaver} if by_people else {"comune": present[3].name, "user": leaver}
    outcome = tally(members, here, ballots, quorum=3, rules=rules, cast_by=cast_by)
    secret = tally(members, here, ballots, quorum=3, rules=rules, secret=True)
    vote = VoteRecord(
        "Parere sul Piano strategico metropolitano", outcome, text=Markdown(
            "Il Consiglio **esprime parere favorevole** sul Piano strategico metropolitano "
            "2026-2028, con le osservazioni allegate."
        ), method=VoteMethod.ROLL_CALL, opened_at=_at(10, 50), closed_at=_at(10, 58),
        opened_by=chair, closed_by=chair,
    )  # fmt: skip
    other = VoteRecord(
        "Nomina del rappresentante nel tavolo tecnico", secret, method=VoteMethod.SECRET,
        opened_at=_at(11, 20), closed_at=_at(11, 30), without_quorum=False,
        opened_by=chair, closed_by=chair,
    )  # fmt: skip
    return Record(
        title="Seduta di marzo",
        zones=["ZO 5 Pinerolese"],
        opened_at=_at(10, 0),
        closed_at=_at(12, 15),
        chair=chair,
        chair_title=chair_title,
        vice_chair="Carlo Verdi",
        vice_chair_title="Vicepresidente",
        secretary="Marta Colombo",
        secretary_title="Segretaria generale",
        place="Sala consiliare, Pinerolo",
        video_url="https://meet.example.it/seduta",
        present=present,
        absent=absent,
        guests=[Guest("Franco Riva", "Tecnico comunale", "ZO 5 Pinerolese")],
        quorum=3,
        items=[
            ItemRecord(
                "Piano strategico metropolitano",
                "Mobilità",
                notes="Il relatore illustra la proposta.",
                speeches=[
                    Speech("Mario Rossi", None if by_people else "Airasca", 200, _at(10, 20))
                ],
                votes=[vote],
            ),
            ItemRecord("Nomine", "Governance", votes=[other]),
        ],
        materials=["Proposta di Piano — https://www.cittametropolitana.torino.it/psm.pdf"],
        body=body,
        by_people=by_people,
        show_theme=False,
        session_number=3,
        session_type=SessionType.ORDINARIA,
        call=1,
        notice_date=date(2026, 3, 2),
        notice_protocol="12345/2026",
        opening_present=4,
        log=[
            LogEntry(_at(10, 0), chair, "opened"),
            LogEntry(_at(10, 50), chair, "vote_opened", {"motion": vote.motion}),
            LogEntry(_at(11, 40), leaver, "left", left),
            LogEntry(_at(12, 15), chair, "closed"),
        ],
    )
