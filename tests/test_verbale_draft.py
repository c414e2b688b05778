"""The verbale's first draft, written from the record of a closed meeting."""

from __future__ import annotations

from datetime import UTC, datetime

from bs4 import BeautifulSoup

from collab.i18n import translations
from collab.markup import render_markdown
from collab.meetings.models import Choice
from collab.meetings.tally import Member, tally
from collab.meetings.verbale import ItemRecord, Record, Speech, VoteRecord, draft, duration

F, C, A, N = Choice.FAVOREVOLE, Choice.CONTRARIO, Choice.ASTENUTO, Choice.NON_PARTECIPA
PRESENT = ["Pinerolo", "Airasca", "Cumiana", "Bricherasio", "Luserna San Giovanni", "Frossasco"]


def _record(**changes: object) -> Record:
    outcome = tally(
        [Member(name) for name in [*PRESENT, "Villar Perosa", "Vigone"]],
        PRESENT,
        {"Pinerolo": F, "Airasca": F, "Cumiana": C, "Bricherasio": A, "Frossasco": N},
        quorum=4,
    )
    base = Record(
        title="Giornata di sintesi ZO 5 e ZO 6",
        zones=["ZO 5 Pinerolese", "ZO 6 Valli Susa e Sangone"],
        opened_at=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),  # 10:00 in Turin
        closed_at=datetime(2026, 11, 24, 11, 15, tzinfo=UTC),
        chair="Portavoce ZO 5 (Cumiana)",
        secretary="Segreteria CMTo",
        place="Sala consiliare, Pinerolo",
        video_url="https://meet.example.it/zo5",
        present=[(c, f"Sindaco di {c}") for c in PRESENT],
        absent=["Villar Perosa", "Vigone"],
        guests=["Segreteria CMTo"],
        quorum=5,
        items=[
            ItemRecord(
                title="Parere sul Piano strategico",
                theme="Più mobile, accessibile e collegata",
                notes="Il portavoce illustra la proposta.\n\n- primo punto\n- secondo punto",
                speeches=[Speech("Mario Rossi", "Airasca", 200), Speech("Anna Bianchi", None, 60)],
                votes=[VoteRecord("Parere favorevole sul Piano strategico", outcome)],
            ),
            ItemRecord(title="Varie ed eventuali", theme="Turismo"),
        ],
        materials=["Bozza del Piano strategico (PDF)"],
    )
    return Record(**{**base.__dict__, **changes})


def test_the_draft_has_everything_a_verbale_records() -> None:
    text = draft(_record())
    assert text.startswith("# Verbale: Giornata di sintesi ZO 5 e ZO 6\n")
    assert "martedì 24 novembre 2026, dalle 10:00 alle 12:15" in text
    assert "**Luogo**: Sala consiliare, Pinerolo" in text
    assert "<https://meet.example.it/zo5>" in text
    assert "**Zone convocate**: ZO 5 Pinerolese, ZO 6 Valli Susa e Sangone" in text
    assert "**Presiede**: Portavoce ZO 5 (Cumiana) — **Segretario**: Segreteria CMTo" in text
    assert "**Comuni presenti** (6/8): Pinerolo (Sindaco di Pinerolo);" in text
    assert "**Comuni assenti** (2): Villar Perosa, Vigone" in text
    assert "**Presenti senza diritto di voto**: Segreteria CMTo" in text
    assert "Numero legale 5: raggiunto" in text
    assert "### 1. Parere sul Piano strategico" in text
    assert "- primo punto" in text  # the secretary's notes, as typed
    assert "**Interventi**: Mario Rossi (Airasca), 3 min 20 s; Anna Bianchi, 1 min." in text
    assert (
        "5 presenti, 3 votanti, 2 favorevoli (Airasca, Pinerolo), 1 contrario (Cumiana), "
        "1 astenuto (Bricherasio), 1 presente non votante (Luserna San Giovanni), "
        "1 non partecipa al voto (Frossasco)."
    ) in text
    assert "**Esito**: approvato." in text
    assert "### 2. Varie ed eventuali" in text
    assert "- Bozza del Piano strategico (PDF)" in text


def test_the_draft_renders_as_the_page_will_show_it() -> None:
    html = BeautifulSoup(render_markdown(draft(_record())), "html.parser")
    assert html.select_one("h1") is not None
    assert [h.get_text() for h in html.select("h3")] == [
        "1. Parere sul Piano strategico",
        "2. Varie ed eventuali",
    ]
    assert "2 favorevoli (Airasca, Pinerolo)" in html.get_text()


def test_names_cannot_format_the_draft() -> None:
    text = draft(_record(title="*Urgente* [link](http://x)", chair="_Rossi_"))
    html = BeautifulSoup(render_markdown(text), "html.parser")
    assert html.select("h1 em, a[href='http://x']") == []
    assert all("Rossi" not in em.get_text() for em in html.select("em"))
    assert "*Urgente* [link](http://x)" in html.get_text()
    assert "_Rossi_" in html.get_text()


def test_a_vote_without_quorum_is_not_valid() -> None:
    outcome = tally([Member("A"), Member("B")], ["A", "B"], {"A": F, "B": F}, quorum=3, secret=True)
    record = _record(
        items=[ItemRecord("Punto", "Turismo", votes=[VoteRecord("Mozione", outcome, "punto 1")])]
    )
    text = draft(record)
    assert "**Votazione** (voto segreto): Mozione — punto 1" in text
    assert "2 presenti, 2 votanti, 2 favorevoli, 0 contrari, 0 astenuti." in text
    assert "**Esito**: non valida: manca il numero legale." in text


def test_durations_read_naturally() -> None:
    _ = translations("it").gettext
    assert [duration(s, _) for s in (0, 45, 60, 200)] == ["0 s", "45 s", "1 min", "3 min 20 s"]
