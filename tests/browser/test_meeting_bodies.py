"""Two voting bodies, from the admin's form to the published verbale, in a real browser.

An admin creates, on /admin/bodies, a council of six named people (titles,
abstainers counted among the votanti, simple majority) and an assembly of
the comuni of ZO 5 (abstainers apart, double majority: comuni and
population). CMTo staff convene a meeting of each through the convening form
(body, chair, vice chair, session number, type and call, the notice's date
and protocol) and act as secretary; the members check in from their own
browsers and the chair runs three votes: one where a member does not take
part, one where a present member casts no ballot (*presente non votante*),
one decided by the double majority (a majority of comuni, not of the
population). The meetings are closed and the verbali published, each after
its confirmation dialog; the verbale's page and its PDF are compared with
the lines expected, word for word, computed here from who voted what.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from collab.templating import ROME
from tests.browser.conftest import NO_RELOAD_MARKER, Session, login_session
from tests.browser.test_meeting import _click, _confirm

pytestmark = pytest.mark.slow

ADMIN = "admin@demo.collab.it"
STAFF = "staff@demo.collab.it"  # convenes, joins without a vote, takes the minutes
PORTAVOCE = "portavoce.pinerolese@demo.collab.it"  # chairs both; votes for Cumiana
SUSA = "sindaco.susa@demo.collab.it"
PINEROLO = "sindaco.pinerolo@demo.collab.it"
IVREA = "tecnico.ivrea@demo.collab.it"
LUSERNA = "sindaco.luserna@demo.collab.it"
TORRE = "sindaco.torrepellice@demo.collab.it"
ABSENT = "tecnico.luserna@demo.collab.it"  # a member of the council who never comes

# The demo's users' names (collab/demo.py) and the comuni of ZO 5 with their
# population (collab/data/comuni_demo.csv): what the verbale prints.
NAMES = {
    STAFF: "Segreteria CMTo",
    PORTAVOCE: "Portavoce ZO 5 (Cumiana)",
    SUSA: "Sindaca di Susa",
    PINEROLO: "Sindaco di Pinerolo",
    IVREA: "Tecnico di Ivrea",
    LUSERNA: "Sindaco di Luserna San Giovanni",
    TORRE: "Sindaca di Torre Pellice",
    ABSENT: "Tecnico di Luserna San Giovanni",
}
COMUNE_OF = {
    PORTAVOCE: "Cumiana",
    PINEROLO: "Pinerolo",
    LUSERNA: "Luserna San Giovanni",
    TORRE: "Torre Pellice",
}
POPULATION = {"Pinerolo": 35400, "Luserna San Giovanni": 7200, "Torre Pellice": 4500,
              "Cumiana": 7800}  # fmt: skip
ZONE = "ZO 5 Pinerolese"
CMTO = "Città metropolitana di Torino"  # staff's role, as the verbale names it

COUNCIL = "Consiglio ristretto della mobilità"
COUNCIL_MEMBERS = [  # in the verbale's order
    (PORTAVOCE, "Sindaco metropolitano"),
    (SUSA, "Consigliera delegata"),
    (PINEROLO, "Consigliere delegato"),
    (LUSERNA, "Consigliere delegato ai trasporti"),
    (IVREA, "Dirigente"),
    (ABSENT, "Funzionario"),
]
ASSEMBLY = "Assemblea dei sindaci del Pinerolese"
PLACE = "Sala consiliare, Pinerolo"
ROOM = re.compile(r"/meetings/(\d+)$")
MARKERS = re.compile(r"(?: (?:\d+\.|•))+$")  # a page's list markers ("1. 2.", "• •")

# Italian, as the catalogue has it: choice -> (singular, plural) of the roll call.
CHOICES = ("favorevole", "contrario", "astenuto")
WORDS = {"favorevole": ("favorevole", "favorevoli"), "contrario": ("contrario", "contrari"),
         "astenuto": ("astenuto", "astenuti")}  # fmt: skip


@dataclass(frozen=True)
class Expected:
    """A vote's lines in the verbale, computed from the ballots."""

    roll_call: str
    double: str
    majority: str
    outcome: str
    quorum: str


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _key(name: str) -> str:
    return name.casefold()


def expect_vote(
    present: Sequence[str], ballots: Mapping[str, str],
    abstainers_vote: bool, required_present: int, population: Mapping[str, int] | None = None,
) -> Expected:  # fmt: skip
    """What the verbale says of a vote, by the rules in docs/meetings.md."""
    by = {c: sorted((n for n, b in ballots.items() if b == c), key=_key) for c in CHOICES}
    out = sorted((n for n, b in ballots.items() if b == "non_partecipa"), key=_key)
    counted = [n for n in present if n not in out]
    silent = sorted((n for n in counted if n not in ballots), key=_key)
    favour = len(by["favorevole"])
    voting = favour + len(by["contrario"]) + (len(by["astenuto"]) if abstainers_vote else 0)
    parts = [_plural(len(counted), "presente", "presenti"), _plural(voting, "votante", "votanti")]
    for choice in CHOICES:
        names = by[choice]
        text = _plural(len(names), *WORDS[choice])
        parts.append(f"{text} ({', '.join(names)})" if names else text)
    if silent:
        text = _plural(len(silent), "presente non votante", "presenti non votanti")
        parts.append(f"{text} ({', '.join(silent)})")
    if out:
        text = "non partecipa al voto" if len(out) == 1 else "non partecipano al voto"
        parts.append(f"{len(out)} {text} ({', '.join(out)})")
    needed = voting // 2 + 1
    carried = 2 * favour > voting
    double = ""
    if population is None:
        majority = f"maggioranza semplice dei votanti: {_needed(needed, 'voto', 'voti')}"
    else:
        majority = "maggioranza dei comuni votanti e della loro popolazione: " + _needed(
            needed, "comune", "comuni"
        )
        voters = [*by["favorevole"], *by["contrario"]]
        voters += by["astenuto"] if abstainers_vote else []
        people = sum(population[n] for n in by["favorevole"])
        total = sum(population[n] for n in voters)
        carried = carried and 2 * people > total
        share = format_percent(people / total, "#,##0.0%", locale="it")
        double = (
            f"{_plural(favour, 'comune', 'comuni')} su {voting}, {share} della popolazione: "
            f"{format_decimal(people, locale='it')} abitanti su "
            f"{format_decimal(total, locale='it')}"
        )
    assert len(counted) >= required_present, "the test's votes have their quorum"
    return Expected(
        roll_call=", ".join(parts),
        double=double,
        majority=majority,
        outcome="approvato" if carried else "non approvato",
        quorum=f"Numero legale: {_plural(required_present, 'presente', 'presenti')} "
        f"{'richiesto' if required_present == 1 else 'richiesti'}",
    )


def _needed(n: int, one: str, many: str) -> str:
    if n == 1:
        return f"necessario 1 {one} favorevole"
    return f"necessari {n} {many} favorevoli"


def vote_block(item: str, motion: str, text: str, e: Expected, voters: str = "") -> str:
    """An agenda item with its vote, as the default template writes them one
    after the other (templates/meetings/verbale_draft.txt)."""
    result = f"{e.roll_call}." + (f" {e.double}." if e.double else "")
    lines = [
        item,
        f"OGGETTO: {motion}",
        text,
        "Il presidente pone in votazione la proposta in modo palese, per appello nominale.",
        f"{e.quorum}; maggioranza: {e.majority}.",
        result,
        *([f"Hanno espresso il voto per i comuni: {voters}."] if voters else []),
        f"Esito: {e.outcome}.",
    ]
    return " ".join(lines)


# --- the browser's steps ---------------------------------------------------------------------


def _live(page: Page) -> None:
    """Wait until the page's socket is subscribed, then mark the page."""
    expect(page.locator("#live")).to_have_count(1)
    page.wait_for_timeout(300)  # the subscription goes out on wsOpen
    page.evaluate(NO_RELOAD_MARKER)


def _text(raw: str) -> str:
    return " ".join(raw.split())


def _create_body(page: Page, name: str, fill: Callable[[Page], None]) -> None:
    page.goto("/admin/bodies")
    with page.expect_navigation():
        page.locator('[data-testid="new-body"]').click()
    page.fill("#name", name)
    fill(page)
    with page.expect_navigation():
        page.locator('[data-testid="body-form"] button[type="submit"]').click()
    assert page.url.endswith("/admin/bodies"), page.inner_text("main")


def _tick(page: Page, field: str) -> None:
    """Check a box or a radio as a person does: on its label (Bootstrap Italia draws it)."""
    page.locator(f'label[for="{field}"]').click()
    expect(page.locator(f"#{field}")).to_be_checked()


def _people(page: Page) -> None:
    _tick(page, "kind-people")
    page.fill("#members", "\n".join(f"{email}, {title}" for email, title in COUNCIL_MEMBERS))
    page.select_option("#counting", "abstainers_vote")
    page.select_option("#majority", "simple")


def _comuni(page: Page) -> None:
    _tick(page, "kind-comuni")
    page.locator('label[for^="zone-"]', has_text="5 · Pinerolese").click()
    expect(page.get_by_label("5 · Pinerolese", exact=True)).to_be_checked()
    page.select_option("#counting", "abstainers_apart")
    page.select_option("#majority", "double")


@dataclass(frozen=True)
class Sitting:
    """A convocation's values, as typed and as the verbale prints them."""

    title: str
    body: str
    number: int
    call: int
    protocol: str
    items: tuple[str, ...]
    zones: tuple[str, ...] = ()  # chosen on the form (a body of comuni adds its own)


def _convene(page: Page, s: Sitting, notice: str, vice: str) -> str:
    page.goto("/meetings/new")
    page.fill("#title", s.title)
    page.select_option("#body", label=s.body)
    for zone in s.zones:
        page.locator('label[for^="zone-"]', has_text=zone).click()
        expect(page.get_by_label(zone, exact=True)).to_be_checked()
    page.select_option("#session_type", "ordinaria")
    page.select_option("#call", str(s.call))
    page.fill("#chair", PORTAVOCE)
    page.fill("#vice_chair", vice)
    page.fill("#session_number", str(s.number))
    page.fill("#notice_date", notice)
    page.fill("#notice_protocol", s.protocol)
    starts = (datetime.now(ROME) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#starts_at", starts)
    page.fill("#place", PLACE)
    page.fill("#secretary", STAFF)
    for n, title in enumerate(s.items):
        if n:
            page.locator("#add-item").click()
        page.fill(f"#item-{n}-title", title)
    with page.expect_navigation():
        page.locator('[data-testid="convene-form"] button.btn-primary[type="submit"]').click()
    assert ROOM.search(page.url), page.inner_text("main")
    return page.url


def _open_vote(chair: Page, motion: str, text: str) -> None:
    # A live frame replaces the whole vote region, the form with what was typed
    # in it too (static/js/live.js keeps typed forms only on a full refresh):
    # the echo of the chair's own last step could empty the motion between
    # typing and sending. So the chair types on the room as it stands.
    chair.reload()
    _live(chair)
    chair.fill("#vote-motion", motion)
    chair.fill("#vote-text", text)
    chair.select_option("#vote-method", "appello_nominale")
    _click(chair, "open-vote-form")
    expect(chair.locator('[data-testid="open-vote"] [data-testid="motion"]')).to_have_text(motion)


def _cast(voters: Mapping[str, Session], ballots: Mapping[str, str]) -> None:
    for email, choice in ballots.items():
        page = voters[email].page
        _click(page, f"ballot-{choice}")
        expect(page.locator('[data-testid="own-ballot"]')).to_be_visible()


def _close_vote(chair: Page, motion: str, e: Expected) -> None:
    _confirm(chair, "close-vote")
    held = chair.locator('[data-testid="closed-votes"] li', has_text=motion)
    expect(held.locator('[data-testid="roll-call"]')).to_have_text(e.roll_call)
    expect(held.locator('[data-testid="vote-result"]')).to_have_text(e.outcome.capitalize())
    if e.double:
        expect(held.locator('[data-testid="double-majority"]')).to_have_text(e.double)


def _publish(secretary: Session, room: str, heading: str) -> tuple[str, str]:
    """Publish the verbale: the text of its page and of its PDF, whitespace made
    single. The PDF's pages are joined as one text, without what each page
    adds: "Pagina N di M", the heading as a running head from the second page
    on, the list markers laid out as artifacts at the page's end. The heading
    is printed once, on the page and in the PDF."""
    page = secretary.page
    page.goto(f"{room}/verbale")
    with page.expect_navigation():
        _confirm(page, "verbale-publish")
    expect(page.locator('[data-testid="verbale-status"]')).to_contain_text("Pubblicato")
    shown = _text(page.locator("#verbale").inner_text())
    pdf = secretary.context.request.get(f"{room}/verbale.pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    pages = [_text(p.extract_text() or "") for p in PdfReader(io.BytesIO(pdf.body())).pages]
    body = []
    for n, text in enumerate(pages, start=1):
        footer = f"Pagina {n} di {len(pages)}"
        assert text.endswith(footer), text
        text = text.removesuffix(footer).rstrip()
        if n > 1:
            assert text.endswith(heading), text
            text = text.removesuffix(heading).rstrip()
        body.append(MARKERS.sub("", text))
    printed = " ".join(body)
    assert shown.count(heading) == 1, shown
    assert printed.count(heading) == 1, printed
    return shown, printed


def _check(blocks: Sequence[str], shown: str, printed: str) -> None:
    """Each block of lines, word for word and nothing between, on the page and in the PDF."""
    for block in blocks:
        assert block in shown, f"not on the page: {block!r}\n{shown}"
        assert block in printed, f"not in the PDF: {block!r}\n{printed}"


def _heading(s: Sitting, notice_day: str, today: str, shown: str) -> str:
    """The heading, from the title to the attendance's; the times come from the
    page (the PDF must say the same)."""
    span = re.search(r"Il giorno (.+?), dalle ore (\d\d:\d\d) alle ore (\d\d:\d\d)", shown)
    assert span is not None, shown
    assert span.group(1) == today
    assert span.group(2) <= span.group(3)
    call = "in prima convocazione" if s.call == 1 else "in seconda convocazione"
    lines = [
        _title(s),
        s.title,
        f"Seduta ordinaria, {call} — {', '.join(s.zones or (ZONE,))}",
        f"{span.group(0)}, presso {PLACE}.",
        f"Convocata con avviso del {notice_day}, protocollo n. {s.protocol}.",
        "Ordine del giorno",
        *s.items,  # the agenda's numbers are its list's markers, not its text
        "Presenze",
    ]
    return " ".join(lines)


def _title(s: Sitting) -> str:
    return f"Verbale della seduta n. {s.number} — {s.body}"


def _chair_actions(chair: str, actions: Sequence[str], shown: str, printed: str) -> None:
    """The chair's actions, each with its time, in order, then the signatures."""
    lines = " ".join(rf"\d\d:\d\d — {re.escape(f'{chair} {action}')}\." for action in actions)
    pattern = re.compile(f"Atti della presidenza {lines} Letto, confermato e sottoscritto\\.")
    assert pattern.search(shown), shown
    assert pattern.search(printed), printed


def _signatures(chair_title: str, shown: str, printed: str) -> None:
    """The verbale ends with the signature table, cell by cell, row by row."""
    table = (
        "Letto, confermato e sottoscritto. "
        f"Il Presidente Il Segretario {NAMES[PORTAVOCE]} {NAMES[STAFF]} {chair_title} {CMTO}"
    )
    assert shown.endswith(table), shown
    assert printed.endswith(table), printed


def test_two_bodies_vote_by_their_rules_and_the_verbali_say_so(
    open_session: Callable[..., Session],
) -> None:
    today = datetime.now(ROME).date()
    notice = today - timedelta(days=6)
    notice_day = format_date(notice, "d MMMM y", locale="it")
    day = format_date(today, "EEEE d MMMM y", locale="it")

    # The admin creates both bodies; the list says what they are.
    admin = login_session(open_session, ADMIN)
    _create_body(admin.page, COUNCIL, _people)
    _create_body(admin.page, ASSEMBLY, _comuni)
    rows = admin.page.locator('[data-testid="bodies"] tbody tr')
    council_row = rows.filter(has_text=COUNCIL)
    expect(council_row.locator("td").nth(1)).to_have_text(f"{len(COUNCIL_MEMBERS)} persone")
    expect(council_row.locator("td").nth(2)).to_have_text("Maggioranza semplice dei votanti")
    assembly_row = rows.filter(has_text=ASSEMBLY)
    expect(assembly_row.locator("td").nth(1)).to_have_text("Comuni delle zone 5")
    expect(assembly_row.locator("td").nth(2)).to_have_text(
        "Doppia maggioranza: comuni e popolazione"
    )
    admin.watcher.assert_clean()

    # Staff convene the council (ZO 5's members follow it) and the assembly
    # (its zone is convened with it); the portavoce chairs both.
    staff = login_session(open_session, STAFF)
    council = Sitting(
        title="Seduta del consiglio sul trasporto pubblico", body=COUNCIL, number=12, call=1,
        protocol="4821/2026",
        items=("Orari delle linee extraurbane", "Abbonamenti per gli studenti"),
        zones=(ZONE,),  # its members from ZO 6 and ZO 9 follow it all the same
    )  # fmt: skip
    assembly = Sitting(
        title="Assemblea sul nodo di interscambio", body=ASSEMBLY, number=4, call=2,
        protocol="4822/2026", items=("Parere sul nodo di interscambio di Pinerolo",),
    )  # fmt: skip
    council_room = _convene(staff.page, council, notice.isoformat(), vice=SUSA)
    assembly_room = _convene(staff.page, assembly, notice.isoformat(), vice=TORRE)
    staff.watcher.assert_clean()

    # --- the council: five of six members check in, staff join without a vote.
    people = {
        e: login_session(open_session, e) for e in (PORTAVOCE, SUSA, PINEROLO, LUSERNA, IVREA)
    }
    for session in [staff, *people.values()]:
        session.page.goto(council_room)
        _live(session.page)
    for session in people.values():
        _click(session.page, "checkin")
        expect(session.page.locator('[data-testid="checkout"]')).to_be_visible()
    _click(staff.page, "guest")
    expect(staff.page.locator('[data-testid="guest-leave"]')).to_be_visible()
    chair = people[PORTAVOCE].page
    present = [NAMES[e] for e, _ in COUNCIL_MEMBERS if e in people]
    expect(chair.locator('[data-testid="present"] li')).to_have_count(len(present))
    _click(chair, "open-meeting")
    expect(chair.locator('[data-testid="room-state"]')).to_have_text(re.compile("In corso"))

    members = len(COUNCIL_MEMBERS)
    quorum = members // 2 + 1  # the body's default: more than half
    voters = {NAMES[e]: s for e, s in people.items()}

    # Vote 1: Luserna's councillor does not take part; abstainers count among
    # the votanti, so 2 in favour of 4 votanti do not carry.
    motion1 = "Nuovi orari delle linee extraurbane dal 1° febbraio"
    text1 = "Il Consiglio approva gli orari allegati, in vigore dal 1° febbraio 2027."
    ballots1 = {NAMES[PORTAVOCE]: "favorevole", NAMES[SUSA]: "favorevole",
                NAMES[PINEROLO]: "contrario", NAMES[IVREA]: "astenuto",
                NAMES[LUSERNA]: "non_partecipa"}  # fmt: skip
    e1 = expect_vote(present, ballots1, True, quorum)
    assert e1.outcome == "non approvato"
    _open_vote(chair, motion1, text1)
    _cast(voters, ballots1)
    _close_vote(chair, motion1, e1)

    # Vote 2, on the next item: Luserna's councillor is present and casts no ballot.
    _click(chair, "next-item")
    expect(chair.locator('#room-agenda li[aria-current="step"]')).to_contain_text("Abbonamenti")
    motion2 = "Abbonamento annuale agevolato per gli studenti"
    text2 = "Il Consiglio istituisce l'abbonamento annuale a 150 euro per gli studenti."
    ballots2 = {NAMES[PORTAVOCE]: "favorevole", NAMES[SUSA]: "favorevole",
                NAMES[PINEROLO]: "favorevole", NAMES[IVREA]: "contrario"}  # fmt: skip
    e2 = expect_vote(present, ballots2, True, quorum)
    assert e2.outcome == "approvato"
    _open_vote(chair, motion2, text2)
    _cast(voters, ballots2)
    _close_vote(chair, motion2, e2)

    _confirm(chair, "close-meeting")
    expect(chair.locator('[data-testid="room-state"]')).to_have_text(re.compile("Chius"))
    shown, printed = _publish(staff, council_room, _title(council))
    titles = dict(COUNCIL_MEMBERS)
    attendance = " ".join([
        f"Presiede: {NAMES[PORTAVOCE]}, {titles[PORTAVOCE]}.",
        f"Vicepresidente: {NAMES[SUSA]}, {titles[SUSA]}.",
        f"Segretario verbalizzante: {NAMES[STAFF]}, {CMTO}.",
        f"Presenti ({len(present)} su {members}): "
        + "; ".join(f"{NAMES[e]}, {t}" for e, t in COUNCIL_MEMBERS if e in people)
        + ".",
        f"Assente (1): {NAMES[ABSENT]}.",
        f"Presenti senza diritto di voto: {NAMES[STAFF]} ({CMTO}).",
        f"Accertato il numero legale ({len(present)} presenti, minimo richiesto {quorum}), "
        "il presidente dichiara aperta la seduta.",
        f"1. {council.items[0]}",
    ])  # fmt: skip
    _check(
        [
            _heading(council, notice_day, day, shown) + " " + attendance,
            vote_block(f"1. {council.items[0]}", motion1, text1, e1),
            vote_block(f"2. {council.items[1]}", motion2, text2, e2),
        ],
        shown,
        printed,
    )
    _signatures(titles[PORTAVOCE], shown, printed)
    assert "Hanno espresso il voto per i comuni" not in shown + printed  # people vote by name
    _chair_actions(NAMES[PORTAVOCE], [
        "dichiara aperta la seduta",
        f"apre la votazione su: {motion1}", f"chiude la votazione su: {motion1}",
        f"passa alla trattazione del punto: {council.items[1]}",
        f"apre la votazione su: {motion2}", f"chiude la votazione su: {motion2}",
        "dichiara chiusa la seduta",
    ], shown, printed)  # fmt: skip

    # --- the assembly: the four comuni of ZO 5 check in, by their mayors.
    mayors = {e: people[e] for e in (PORTAVOCE, PINEROLO, LUSERNA)}
    mayors[TORRE] = login_session(open_session, TORRE)
    for session in [staff, *mayors.values()]:
        session.page.goto(assembly_room)
        _live(session.page)
    for session in mayors.values():
        _click(session.page, "checkin")
        expect(session.page.locator('[data-testid="checkout"]')).to_be_visible()
    chair = mayors[PORTAVOCE].page
    comuni = sorted(POPULATION, key=_key)
    expect(chair.locator('[data-testid="present"] li')).to_have_count(len(comuni))
    _click(chair, "open-meeting")
    expect(chair.locator('[data-testid="room-state"]')).to_have_text(re.compile("In corso"))

    # Vote 3, by double majority: two comuni of three votanti are in favour
    # (abstainers apart), but they hold under a third of the votanti's people.
    motion3 = "Parere sul nodo di interscambio di Pinerolo"
    text3 = "L'Assemblea esprime parere favorevole al progetto del nodo di interscambio."
    by_comune = {COMUNE_OF[LUSERNA]: "favorevole", COMUNE_OF[PORTAVOCE]: "favorevole",
                 COMUNE_OF[PINEROLO]: "contrario", COMUNE_OF[TORRE]: "astenuto"}  # fmt: skip
    assembly_quorum = -(-len(comuni) // 3)  # second call: the body's default, a third
    e3 = expect_vote(comuni, by_comune, False, assembly_quorum, POPULATION)
    assert e3.outcome == "non approvato" and 2 * 2 > 3  # a majority of comuni, not of people
    _open_vote(chair, motion3, text3)
    _cast({COMUNE_OF[e]: s for e, s in mayors.items()}, by_comune)
    _close_vote(chair, motion3, e3)
    _confirm(chair, "close-meeting")
    expect(chair.locator('[data-testid="room-state"]')).to_have_text(re.compile("Chius"))

    shown, printed = _publish(staff, assembly_room, _title(assembly))
    who = {COMUNE_OF[e]: NAMES[e] for e in COMUNE_OF}
    cast_by = "; ".join(f"{c} ({who[c]})" for c in comuni)
    chair_title = "Portavoce di zona, sindaco di Cumiana"
    attendance = " ".join([
        f"Presiede: {NAMES[PORTAVOCE]}, {chair_title}.",
        f"Vicepresidente: {NAMES[TORRE]}, Sindaco di Torre Pellice.",
        f"Segretario verbalizzante: {NAMES[STAFF]}, {CMTO}.",
        f"Presenti ({len(comuni)} su {len(comuni)}): {cast_by}.",
        "Assenti (0): nessuno.",
        f"Accertato il numero legale ({len(comuni)} presenti, minimo richiesto "
        f"{assembly_quorum}), il presidente dichiara aperta la seduta.",
        f"1. {assembly.items[0]}",
    ])  # fmt: skip
    _check(
        [
            _heading(assembly, notice_day, day, shown) + " " + attendance,
            vote_block(f"1. {assembly.items[0]}", motion3, text3, e3, cast_by),
        ],
        shown,
        printed,
    )
    _signatures(chair_title, shown, printed)
    _chair_actions(NAMES[PORTAVOCE], [
        "dichiara aperta la seduta", f"apre la votazione su: {motion3}",
        f"chiude la votazione su: {motion3}", "dichiara chiusa la seduta",
    ], shown, printed)  # fmt: skip
    for session in [admin, staff, *people.values(), mayors[TORRE]]:
        session.watcher.assert_clean()
