"""The verbale's draft: the default template on a record, and a body's own in the sandbox.

No database: records are built by hand (the DB-backed record is in
test_verbale_record.py). The expected result lines come from the counting
module's own wording (roll_call, outcome_text), so this file checks where
they go, not how they count.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from bs4 import BeautifulSoup

from collab.i18n import translations
from collab.markup import render_markdown
from collab.meetings.models import Choice, Counting, Majority, SessionType, VoteMethod
from collab.meetings.tally import Member, Rules, outcome_text, roll_call, tally
from collab.meetings.verbale import (
    Attendee,
    Guest,
    ItemRecord,
    LogEntry,
    Record,
    Speech,
    VoteRecord,
    draft,
    duration,
)
from collab.meetings.verbale_template import (
    DEFAULT_TEMPLATE,
    MAX_STEPS,
    MAX_TEMPLATE,
    TemplateProblem,
    check,
    render,
    sample_record,
)
from tests.helpers import italian

UNSAFE = "The template uses something that is not allowed: %(detail)s"
TOO_MUCH = "The template does too much work: loops, calls or repetitions beyond %(max)d steps."

F, C, A, N = Choice.FAVOREVOLE, Choice.CONTRARIO, Choice.ASTENUTO, Choice.NON_PARTECIPA
POPULATION = {"Airasca": 3_800, "Cumiana": 7_900, "Frossasco": 2_800, "Pinerolo": 35_400,
              "Vigone": 5_100}  # fmt: skip
MEMBERS = [Member(name, people) for name, people in POPULATION.items()]
HERE = ["Airasca", "Cumiana", "Frossasco", "Pinerolo"]
IT = translations("it")


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 24, hour - 1, minute, tzinfo=UTC)  # Turin: UTC+1 in November


def _outcome(**changes: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "quorum": 3,
        "rules": Rules(Counting.ABSTAINERS_APART, Majority.DOUBLE),
        "cast_by": {"Airasca": "Mario Rossi", "Frossasco": "Sara Conti"},
    }
    values.update(changes)
    ballots = {"Airasca": F, "Cumiana": F, "Pinerolo": C, "Frossasco": N}
    return tally(MEMBERS, HERE, ballots, **values)  # type: ignore[arg-type]


def _record(**changes: object) -> Record:
    vote = VoteRecord(
        "Parere sul Piano strategico", _outcome(), text="Si **esprime parere favorevole**.",
        method=VoteMethod.ROLL_CALL, opened_at=at(10, 40), closed_at=at(10, 50),
        opened_by="Paola Ferri", closed_by="Paola Ferri", without_quorum=True,
    )  # fmt: skip
    base = Record(
        title="Giornata di sintesi",
        zones=["ZO 5 Pinerolese"],
        opened_at=at(10, 0),
        closed_at=at(12, 15),
        chair="Paola Ferri",
        chair_title="Sindaca di Cumiana",
        vice_chair="Mario Rossi",
        vice_chair_title="Sindaco di Airasca",
        secretary="Marta Colombo",
        secretary_title="Città metropolitana di Torino",
        place="Sala consiliare, Pinerolo",
        video_url="https://meet.example.it/zo5",
        present=[
            Attendee("Airasca", who="Mario Rossi"),
            Attendee("Cumiana", who="Paola Ferri"),
            Attendee("Frossasco", who="Sara Conti"),
            Attendee("Pinerolo", who="Luigi Bassi", left_at=at(11, 40)),
        ],
        absent=["Vigone"],
        guests=[Guest("Franco Riva", "Funzionario del Comune di Pinerolo", "ZO 5 Pinerolese")],
        quorum=3,
        opening_present=4,
        items=[
            ItemRecord(
                "Parere sul Piano strategico",
                "Più mobile, accessibile e collegata",
                notes="Il portavoce illustra la proposta.\n\n- primo punto\n- secondo punto",
                speeches=[
                    Speech("Mario Rossi", "Airasca", 200, at(10, 12)),
                    Speech("Anna Bianchi", None, 60, at(10, 20)),
                ],
                votes=[vote],
            ),
            ItemRecord("Varie ed eventuali", "Turismo"),
        ],
        materials=["Bozza del Piano strategico (PDF)"],
        body="Assemblea dei sindaci ZO 5",
        session_number=7,
        session_type=SessionType.STRAORDINARIA,
        call=2,
        notice_date=date(2026, 11, 10),
        notice_protocol="4567/2026",
        log=[
            LogEntry(at(10, 0), "Paola Ferri", "opened", {"present": 4, "required": 3}),
            LogEntry(
                at(10, 5), "Sara Conti", "check_in", {"comune": "Frossasco", "user": "Sara Conti"}
            ),
            LogEntry(
                at(10, 40),
                "Paola Ferri",
                "vote_opened",
                {"motion": "Parere sul Piano strategico", "without_quorum": True},
            ),
            LogEntry(at(10, 41), "Paola Ferri", "unknown_action"),
            LogEntry(
                at(11, 40), "Luigi Bassi", "left", {"comune": "Pinerolo", "user": "Luigi Bassi"}
            ),
            LogEntry(at(12, 15), "Paola Ferri", "closed"),
            LogEntry(
                at(12, 15), "Paola Ferri", "left", {"comune": "Cumiana", "user": "Paola Ferri"}
            ),
        ],
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_default_draft_follows_council_practice() -> None:
    text = draft(_record())
    lines = text.splitlines()
    assert lines[0] == "# Verbale della seduta n. 7 — Assemblea dei sindaci ZO 5"
    assert text.count("\n# ") == 0  # one heading of the first level: the PDF prints it once
    assert "**Seduta straordinaria, in seconda convocazione** — ZO 5 Pinerolese" in lines
    assert (
        "Il giorno martedì 24 novembre 2026, dalle ore 10:00 alle ore 12:15, "
        "presso Sala consiliare, Pinerolo."
    ) in lines
    assert "Collegamento in videoconferenza: <https://meet.example.it/zo5>" in lines
    assert "Convocata con avviso del 10 novembre 2026, protocollo n. 4567/2026." in lines
    agenda = lines[
        lines.index("## Ordine del giorno") + 2 : lines.index("## Ordine del giorno") + 4
    ]
    assert agenda == ["1. Parere sul Piano strategico", "2. Varie ed eventuali"]
    assert "**Presiede**: Paola Ferri, Sindaca di Cumiana." in lines
    assert "**Vicepresidente**: Mario Rossi, Sindaco di Airasca." in lines
    assert "**Segretario verbalizzante**: Marta Colombo, Città metropolitana di Torino." in lines
    assert (
        "**Presenti (4 su 5)**: Airasca (Mario Rossi); Cumiana (Paola Ferri); "
        "Frossasco (Sara Conti); Pinerolo (Luigi Bassi), fino alle 11:40."
    ) in lines
    assert "**Assente (1)**: Vigone." in lines
    assert (
        "**Presenti senza diritto di voto**: Franco Riva "
        "(Funzionario del Comune di Pinerolo, ZO 5 Pinerolese)."
    ) in lines
    assert (
        "Accertato il numero legale (4 presenti, minimo richiesto 3), "
        "il presidente dichiara aperta la seduta."
    ) in lines
    assert "## 1. Parere sul Piano strategico" in lines
    assert "- primo punto" in lines  # the secretary's notes, as typed
    assert (
        "**Interventi**: Mario Rossi (Airasca), alle 10:12, 3 min 20 s; "
        "Anna Bianchi, alle 10:20, 1 min."
    ) in lines


def test_each_vote_states_subject_dispositivo_method_quorum_result_and_outcome() -> None:
    lines = draft(_record()).splitlines()
    outcome = _outcome()
    start = lines.index("**OGGETTO**: Parere sul Piano strategico")
    vote = [line for line in lines[start:] if line][:8]
    assert vote[1] == "Si **esprime parere favorevole**."  # the dispositivo is Markdown
    assert vote[2] == (
        "Il presidente pone in votazione la proposta in modo palese, per appello nominale. "
        "La votazione è stata aperta in mancanza del numero legale, previa conferma del presidente."
    )
    assert vote[3].startswith("Numero legale: 3 presenti richiesti; maggioranza: ")
    assert vote[4].startswith(roll_call(outcome, IT.gettext, IT.ngettext) + ".")
    assert "della popolazione" in vote[4]  # the double majority's line
    # Comuni by name with who voted for them (only where someone did).
    assert vote[5] == (
        "Hanno espresso il voto per i comuni: Airasca (Mario Rossi); Frossasco (Sara Conti)."
    )
    assert vote[6] == f"**Esito**: {outcome_text(outcome, IT.gettext)}."


def test_chair_actions_and_signatures_close_the_draft() -> None:
    lines = draft(_record()).splitlines()
    moves = lines[lines.index("## Entrate e uscite") + 2 : lines.index("## Atti della presidenza")]
    # Who came and went while the session was open (not the close's check-out).
    assert moves == ["- 10:05 — Frossasco (Sara Conti) entra.",
                     "- 11:40 — Pinerolo (Luigi Bassi) esce.", ""]  # fmt: skip
    actions = lines[lines.index("## Atti della presidenza") + 2 :]
    assert actions[:4] == [
        "- 10:00 — Paola Ferri dichiara aperta la seduta.",
        "- 10:40 — Paola Ferri apre la votazione su: Parere sul Piano strategico, "
        "in mancanza del numero legale, previa conferma.",
        "- 12:15 — Paola Ferri dichiara chiusa la seduta.",
        "",  # an action the verbale does not state is left out
    ]
    assert lines[-6:] == [
        "Letto, confermato e sottoscritto.",
        "",
        "| Il Presidente | Il Segretario |",
        "| --- | --- |",
        "| Paola Ferri | Marta Colombo |",
        "| Sindaca di Cumiana | Città metropolitana di Torino |",
    ]
    html = BeautifulSoup(render_markdown("\n".join(lines)), "html.parser")
    assert [th.get_text() for th in html.select("table th")] == ["Il Presidente", "Il Segretario"]


def test_no_theme_line_unless_the_body_wants_it() -> None:
    theme = "*Tema: Più mobile, accessibile e collegata*"
    assert theme not in draft(_record())
    assert "Più mobile" not in draft(_record())
    assert theme in draft(_record(show_theme=True)).splitlines()


def test_plurals_follow_the_numbers_in_both_languages() -> None:
    one = _record(present=[Attendee("Airasca", who="Mario Rossi")], absent=["Cumiana", "Vigone"],
                  opening_present=1, quorum=2)  # fmt: skip
    text = draft(one)
    assert "**Presente (1 su 3)**: Airasca (Mario Rossi)." in text
    assert "**Assenti (2)**: Cumiana, Vigone." in text
    assert "Il numero legale non è raggiunto: 1 presente, minimo richiesto 2." in text
    english = draft(one, "en")
    assert "**Present (1 of 3)**: Airasca (Mario Rossi)." in english
    assert "**Absent (2)**: Cumiana, Vigone." in english
    assert "The quorum is not reached: 1 member present, 2 required." in english
    assert "Having ascertained the quorum (4 members present, 3 required)" in draft(_record(), "en")


def test_a_secret_vote_names_nobody() -> None:
    secret = _outcome(secret=True)
    vote = VoteRecord("Nomina", secret, method=VoteMethod.SECRET)
    text = draft(_record(items=[ItemRecord("Nomine", "Governance", votes=[vote])]))
    assert "Il presidente pone in votazione la proposta a scrutinio segreto." in text
    assert roll_call(secret, IT.gettext, IT.ngettext) + "." in text
    for name in ("Mario Rossi", "Sara Conti"):
        assert name not in text.split("## 1. Nomine")[1].split("## Entrate")[0]
    assert "Hanno espresso il voto" not in text


def test_a_body_of_people_lists_names_with_titles() -> None:
    text = draft(sample_record(by_people=True))
    assert (
        "**Presenti (4 su 5)**: Anna Bianchi, Sindaca metropolitana; Carlo Verdi, "
        "Consigliere delegato; Elena Neri, Consigliera, fino alle 11:40; Giulia Rossi, Dirigente."
    ) in text
    assert "**Assente (1)**: Luca Gallo." in text
    assert "Il presidente pone in votazione la proposta a scrutinio segreto." in text


def test_a_person_whose_name_ends_in_a_bracket_is_no_comune() -> None:
    # A person's ballot is their own: no "cast for the comuni by" line, even
    # when a name looks like "Comune (who)" (the demo has "Portavoce ZO 5 (Cumiana)").
    names = ["Portavoce ZO 5 (Cumiana)", "Sindaca di Susa"]
    outcome = tally([Member(n) for n in names], names, {n: F for n in names}, quorum=2,
                    cast_by={n: n for n in names})  # fmt: skip
    people = replace(sample_record(by_people=True), items=[
        ItemRecord("Orari", "Trasporti", votes=[VoteRecord("Nuovi orari", outcome)]),
    ])  # fmt: skip
    text = draft(people)
    assert "2 favorevoli (Portavoce ZO 5 (Cumiana), Sindaca di Susa), 0 contrari" in text
    assert "Hanno espresso il voto" not in text


def test_names_cannot_format_the_draft() -> None:
    text = draft(_record(title="*Urgente* [link](http://x)", chair="_Rossi_", body="# Organo |"))
    html = BeautifulSoup(render_markdown(text), "html.parser")
    assert html.select("em, a[href='http://x']") == [] or all(
        "Rossi" not in em.get_text() and "Urgente" not in em.get_text() for em in html.select("em")
    )
    assert html.select("a[href='http://x']") == []
    assert "*Urgente* [link](http://x)" in html.get_text()
    assert "_Rossi_" in html.get_text()
    assert len(html.select("h1")) == 1 and "# Organo |" in html.select_one("h1").get_text()


def test_a_body_s_template_writes_the_draft() -> None:
    source = (
        "# {{ body.name }}, seduta n. {{ meeting.number }}\n\n"
        "{% for item in items %}{% for vote in item.votes %}"
        "{{ vote.motion }}: {{ vote.result }} "
        "({{ ngettext('%(num)d presente', '%(num)d presenti', vote.present) }})\n"
        "{% endfor %}{% endfor %}"
    )
    text = draft(_record(), template=source)
    assert text == (
        "# Assemblea dei sindaci ZO 5, seduta n. 7\n\n"
        f"Parere sul Piano strategico: {outcome_text(_outcome(), IT.gettext)} (3 presenti)\n"
    )


@pytest.mark.parametrize(
    ("source", "message", "params"),
    [
        ("{% for x in %}", "The template does not compile, line %(line)d: %(detail)s", {"line": 1}),
        ("riga\n{{ meeting.title }\n", "The template does not compile, line %(line)d: %(detail)s",
         {"line": 2}),
        ("{{ ''.__class__.__mro__ }}", UNSAFE,
         {}),
        ("{{ items.append(1) }}", UNSAFE, {}),
        ("{{ nessuno }}", "The template uses a name that does not exist: %(detail)s", {}),
        ("{{ 1 / 0 }}", "The template cannot be applied to a meeting: %(detail)s", {}),
        ("{# nulla #}", "The template writes nothing: the verbale would be empty.", {}),
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
         TOO_MUCH, {"max": MAX_STEPS}),
        ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
         "{{ f(40) }}", TOO_MUCH, {"max": MAX_STEPS}),
        ("{{ 'x' * 1000000000 }}", TOO_MUCH, {"max": MAX_STEPS}),
        ("{{ 2 ** 1000 }}", UNSAFE, {}),
        ("{% for i in range(99999) %}{{ 'abcdefghij' }}{% endfor %}",
         "The verbale this template writes is too long.", {}),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
         "The template cannot be applied to a meeting: %(detail)s", {}),
        ("x" * (MAX_TEMPLATE + 1), "The template is too long: at most %(max)d characters.",
         {"max": MAX_TEMPLATE}),
    ],
)  # fmt: skip
def test_a_broken_template_is_refused_in_italian(
    source: str, message: str, params: dict[str, int]
) -> None:
    with pytest.raises(TemplateProblem) as caught:
        check(source)
    problem = caught.value
    assert problem.message == message and problem.field == "template"
    assert params.items() <= problem.params.items()
    italian(message)  # translated


def test_a_template_failing_at_close_gives_way_to_the_default() -> None:
    # It rendered the sample when saved, yet this meeting has no vote to divide by.
    source = "{{ (100 / (items|map(attribute='votes')|map('length')|sum - 1)) }}"
    assert draft(_record(), template=source) == draft(_record())


def test_the_default_template_is_the_shipped_file() -> None:
    assert "Letto, confermato e sottoscritto" not in DEFAULT_TEMPLATE  # translated, not literal
    assert render("", _record()) == render(DEFAULT_TEMPLATE, _record()) == draft(_record())


def test_durations_read_naturally() -> None:
    _ = IT.gettext
    assert [duration(s, _) for s in (0, 45, 60, 200)] == ["0 s", "45 s", "1 min", "3 min 20 s"]
