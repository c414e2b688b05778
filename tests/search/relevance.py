"""The relevance set: Italian queries written by hand against realistic texts.

Each :class:`Case` says which documents may come first and which must not
appear at all. ``tests/search/test_relevance.py`` runs every case on the
database the suite runs on (SQLite, and PostgreSQL in ``.ci/run``'s second
pass): one set, two engines, the same answers. Issue 16 asks for at least
40 cases.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CASES", "THREADS", "Case"]

# key -> (zone number, theme slug, title, first post)
THREADS: dict[str, tuple[int, str, str, str]] = {
    "scuolabus": (
        5,
        "scuola",
        "Trasporto scolastico nel Pinerolese",
        "Dal prossimo settembre gli scuolabus dei comuni della val Chisone faranno "
        "un'unica linea verso le scuole medie di Pinerolo.",
    ),
    "treni": (
        5,
        "trasporti-mobilita",
        "Orari dei treni sulla Torino-Pinerolo",
        "I treni regionali del mattino arrivano in ritardo: chiediamo a RFI un incontro.",
    ),
    "rifiuti": (
        5,
        "ambiente-rifiuti",
        "Raccolta differenziata porta a porta",
        "Il nuovo calendario della raccolta dei rifiuti organici parte a marzo; i sacchi "
        "compostabili si ritirano in comune.",
    ),
    "ciclovia": (
        5,
        "trasporti-mobilita",
        "Piste ciclabili e mobilità dolce",
        "La ciclovia del Chisone collegherà Pinerolo a Perosa Argentina; cerchiamo fondi "
        "per la mobilità sostenibile.",
    ),
    "alluvioni": (
        5,
        "protezione-civile",
        "Protezione civile: piano alluvioni",
        "Aggiornare il piano comunale di emergenza per il rischio idrogeologico dopo "
        "l'alluvione del 2024.",
    ),
    "mense": (
        5,
        "scuola",
        "Mense scolastiche e prodotti locali",
        "Le mense delle scuole primarie useranno formaggi e verdure dei produttori della zona.",
    ),
    "valli": (
        5,
        "turismo",
        "Turismo nelle valli",
        "Promuovere i sentieri escursionistici e gli ecomusei delle valli valdesi.",
    ),
    "suap": (
        5,
        "digitalizzazione",
        "Sportello digitale per le imprese",
        "Il SUAP telematico riduce i tempi delle pratiche edilizie; avviata la raccolta "
        "delle firme digitali.",
    ),
    "eporediese": (
        9,
        "trasporti-mobilita",
        "Trasporto pubblico nell'Eporediese",
        "Le corse degli autobus verso Ivrea sono state ridotte.",
    ),
}
# Written by the test through the consultations' and meetings' actions.
CONSULTATION = (
    "Parere sul Piano territoriale generale metropolitano",
    "La zona esprima il parere obbligatorio sul PTGM: consumo di suolo, aree produttive "
    "e corridoi ecologici.",
)
CONTRIBUTION = (
    "Il Comune di Pinerolo chiede di tutelare le aree agricole di pianura e di limitare "
    "il consumo di suolo."
)
MEETING_TITLE = "Assemblea dei sindaci del Pinerolese"
MEETING_NOTES = "Approvato all'unanimità il parere sul trasporto scolastico."
# A thread of zone 5 whose first post carries a regulation as a PDF: what
# the regulation says is found only through the file's text.
REGULATION_THREAD = (
    "Nuovo regolamento approvato dal consiglio",
    "In allegato il testo approvato ieri sera: entra in vigore il mese prossimo.",
)
REGULATION_PDF = (
    "Regolamento comunale del verde urbano",
    [
        "Art. 1 - Il regolamento disciplina la manutenzione delle aree verdi pubbliche e private.",
        "Art. 2 - L'abbattimento di alberi ad alto fusto richiede l'autorizzazione del Comune.",
        "Art. 3 - Le potature sono vietate durante la nidificazione, da aprile a luglio.",
        "Art. 4 - Chi viola il regolamento paga una sanzione amministrativa da 100 a 500 euro.",
    ],
)


@dataclass(frozen=True)
class Case:
    """``query`` as ``viewer`` (a world user): a hit of one of ``first`` comes
    first; none of ``absent`` appears. ``typing``: the last word is a prefix."""

    query: str
    first: frozenset[str]
    absent: frozenset[str] = frozenset()
    viewer: str = "staff"
    typing: bool = False


def case(
    query: str, first: str, absent: str = "", viewer: str = "staff", typing: bool = False
) -> Case:
    return Case(query, frozenset(first.split()), frozenset(absent.split()), viewer, typing)


CASES = [
    case("trasporti scolastici", "scuolabus", "rifiuti treni"),
    case("scuole", "scuolabus mense", "valli suap"),
    case("mobilita", "ciclovia", "treni"),
    case("mobilità sostenibile", "ciclovia", "scuolabus"),
    case("ciclabile", "ciclovia"),
    case("rifiuto organico", "rifiuti", "mense"),
    case('"porta a porta"', "rifiuti", "scuolabus"),
    case("raccolta -porta -rifiuti", "suap", "rifiuti"),
    case("alluvione", "alluvioni", "ciclovia"),
    case("treno in ritardo", "treni", "scuolabus"),
    case('"consumo di suolo"', "consultation contribution", "scuolabus"),
    case("parere obbligatorio", "consultation", "rifiuti"),
    case("aree agricole", "contribution", "consultation"),
    case("unanimità", "meeting verbale"),
    case("ecomuseo", "valli"),
    case("pratica edilizia", "suap"),
    case("sentier", "valli", typing=True),
    case("autobus", "eporediese"),
    case("trasporto", "scuolabus", "eporediese", viewer="sindaco5"),
    case("Chisone", "scuolabus ciclovia", "valli"),
    case('"scuole medie"', "scuolabus", "mense"),
    case("scuole -medie", "mense", "scuolabus"),
    case("formaggio", "mense"),
    case("idrogeologico", "alluvioni", "rifiuti"),
    case('"corridoi ecologici"', "consultation", "meeting verbale"),
    case("firma digitale", "suap", "rifiuti"),
    case("valdese", "valli"),
    case("Perosa", "ciclovia"),
    case("PTGM", "consultation", "contribution"),
    case("calendario rifiuti", "rifiuti", "mense"),
    case("autobus", "eporediese", "scuolabus", viewer="sindaco9"),
    # Plurals and singulars meet on one stem; accents and capitals do not matter.
    case("sacco compostabile", "rifiuti", "mense suap"),
    case("emergenze", "alluvioni", "rifiuti"),
    case("treno regionale", "treni", "eporediese"),
    case("corsa autobus", "eporediese", "treni"),
    case("prodotto locale", "mense", "valli"),
    case("UNANIMITA", "meeting verbale", "consultation"),
    case("mobilita dolce", "ciclovia", "scuolabus treni"),
    # Phrases keep their order and neighbours; "-" leaves out.
    case('"raccolta differenziata"', "rifiuti", "suap"),
    case('"piano comunale"', "alluvioni", "consultation"),
    case("piano -alluvioni", "consultation", "alluvioni"),
    # A word being typed is the start of a word.
    case("telemat", "suap", typing=True),
    case("pratiche ediliz", "suap", "rifiuti", typing=True),
    # A title weighs more than a text with the same words.
    case("trasporto scolastico", "scuolabus", "mense eporediese"),
    # A comune's contribution is found by its text and by the comune's name.
    case("Pinerolo pianura", "contribution", "consultation treni"),
    case("tutela pianura", "contribution", "mense scuolabus"),
    # The verbale says what the meeting record holds: its convened zones.
    case("zone convocate", "verbale", "consultation"),
    case("parere", "consultation meeting verbale", "contribution"),
    # The regulation attached as a PDF: found by what the file says.
    case("abbattimento alberi", "regulation", "rifiuti valli"),
    case("potatura nidificazione", "regulation", "alluvioni"),
    case('"sanzione amministrativa"', "regulation", "suap consultation"),
    case("verde urbano", "regulation", "ciclovia"),
    case("alberi fusto", "regulation", viewer="sindaco5"),
]
