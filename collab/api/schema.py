"""The OpenAPI 3.1 document of the API, built in code, and its walk for ``/api/docs``.

Summaries and descriptions are English msgids marked with ``N_``: the JSON
document stays English (the interchange format), the HTML page translates
them. ``tests/api/test_api.py`` checks that every route has a path here.
"""

from __future__ import annotations

from typing import Any

from collab.i18n import N_
from collab.search.documents import KINDS

__all__ = ["OPENAPI", "endpoints"]

JSON = dict[str, Any]
REF = "#/components/schemas/"


def _ref(name: str) -> JSON:
    return {"$ref": REF + name}


def _object(**properties: JSON) -> JSON:
    return {"type": "object", "properties": properties, "required": list(properties)}


def _array(items: JSON) -> JSON:
    return {"type": "array", "items": items}


INT: JSON = {"type": "integer"}
STR: JSON = {"type": "string"}
BOOL: JSON = {"type": "boolean"}
TIME: JSON = {"type": "string", "format": "date-time"}
MAYBE_TIME: JSON = {"type": ["string", "null"], "format": "date-time"}
MAYBE_STR: JSON = {"type": ["string", "null"]}

SUMMARY: dict[str, JSON] = {
    "id": INT, "title": STR, "deadline": TIME, "open": BOOL, "publish_names": BOOL,
    "edited_at": MAYBE_TIME,
    "zones": _array(_ref("Zone")), "themes": _array(_ref("Theme")),
    "contribution_count": INT, "url": STR,
}  # fmt: skip
LIBRARY_DOCUMENT: dict[str, JSON] = {
    "id": INT, "title": STR, "description": STR, "version": INT, "updated_at": TIME,
    "current": {"oneOf": [_ref("File"), {"type": "null"}]},
    "versions": _array(_ref("DocumentVersion")),
}  # fmt: skip

SCHEMAS: dict[str, JSON] = {
    "Error": _object(error=STR),
    "Zone": _object(id=INT, number=INT, name=STR, name_en=MAYBE_STR),
    "Theme": _object(id=INT, slug=STR, name=STR, name_en=MAYBE_STR),
    "Comune": _object(id=INT, istat_code=STR, name=STR),
    "File": _object(id=INT, name=STR, content_type=STR, size=INT, sha256=STR, url=STR),
    "ConsultationSummary": _object(**SUMMARY),
    "Consultation": _object(**SUMMARY, body_html=STR, documents=_array(_ref("File"))),
    "ConsultationPage": _object(
        consultations=_array(_ref("ConsultationSummary")), next={"type": ["string", "null"]}
    ),
    "Contribution": _object(
        id=INT,
        number=INT,
        receipt=STR,
        comune=_ref("Comune"),
        status={
            "type": "string",
            "enum": ["received", "under_review", "accepted", "partly_accepted", "not_accepted"],
        },
        version=INT,
        submitted_at=TIME,
        updated_at=TIME,
        answered_at=MAYBE_TIME,
        answer_html=STR,
        body_html=STR,
        documents=_array(_ref("File")),
    ),
    "ContributionList": _object(
        consultation_id=INT,
        contributions=_array(_ref("Contribution")),
        next={"type": ["string", "null"]},
    ),
    "DocumentVersion": _object(version=INT, note=STR, created_at=TIME, file=_ref("File")),
    "LibraryDocument": _object(**LIBRARY_DOCUMENT),
    "LibraryDocumentDetail": _object(**LIBRARY_DOCUMENT, theme=_ref("Theme")),
    "ThemeDocuments": _object(theme=_ref("Theme"), documents=_array(_ref("LibraryDocument"))),
    "SearchHit": _object(
        kind={"type": "string", "enum": list(KINDS)},
        id=INT,
        title=STR,
        context=STR,
        url=STR,
        created_at=TIME,
        zone={"oneOf": [_ref("Zone"), {"type": "null"}]},
        theme={"oneOf": [_ref("Theme"), {"type": "null"}]},
        comune={"oneOf": [_ref("Comune"), {"type": "null"}]},
        snippet_html=STR,
    ),
    "SearchPage": _object(
        query=STR,
        total=INT,
        more=BOOL,
        page=INT,
        pages=INT,
        per_page=INT,
        results=_array(_ref("SearchHit")),
        next={"type": ["string", "null"]},
    ),
}

ERRORS = {
    "400": N_("Bad query parameters."),
    "401": N_("Not logged in."),
    "403": N_("The list may not be read by this user."),
    "404": N_("No such object, or the user may not read it."),
}


def _id(description: str) -> JSON:
    return {"name": "id", "in": "path", "required": True, "description": description,
            "schema": INT}  # fmt: skip


LIMIT_PARAMETER = {
    "name": "limit", "in": "query", "required": False,
    "schema": {**INT, "minimum": 1, "maximum": 200, "default": 50},
    "description": N_("How many items, from 1 to 200."),
}  # fmt: skip
PAGE_PARAMETERS = [
    LIMIT_PARAMETER,
    {"name": "before", "in": "query", "required": False, "schema": INT,
     "description": N_("Only consultations with a smaller id (the next page).")},
]  # fmt: skip
CONTRIBUTION_PAGE_PARAMETERS = [
    LIMIT_PARAMETER,
    {"name": "after", "in": "query", "required": False, "schema": INT,
     "description": N_("Only contributions with a higher number (the next page).")},
]  # fmt: skip


def _get(
    op: str, summary: str, description: str, body: str, errors: tuple[str, ...],
    parameters: list[JSON] | None = None, public: bool = False,
) -> JSON:  # fmt: skip
    responses: JSON = {
        "200": {"description": "OK", "content": {"application/json": {"schema": _ref(body)}}}
    }
    for status in errors:
        responses[status] = {"$ref": f"#/components/responses/E{status}"}
    operation: JSON = {"operationId": op, "summary": summary, "description": description,
                       "parameters": parameters or [], "responses": responses}  # fmt: skip
    if public:
        operation["security"] = []
    return {"get": operation}


def _query(name: str, description: str, schema: JSON = STR, required: bool = False) -> JSON:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}  # fmt: skip


SEARCH_PARAMETERS = [
    _query("q", N_("The words: all must be found; \"an exact phrase\"; -word to leave out "
                   "(at most 200 characters, 12 words)."), {**STR, "maxLength": 200}, True),
    _query("kind", N_("Only results of this kind."), {"type": "string", "enum": list(KINDS)}),
    _query("zone", N_("Only results of the zone with this number (1-11)."), INT),
    _query("theme", N_("Only results of the theme with this slug.")),
    _query("comune", N_("Only the contributions of the comune with this ISTAT code.")),
    _query("author", N_("Only what the person with this id wrote."), INT),
    _query("from", N_("From this day, year-month-day (Europe/Rome)."),
           {"type": "string", "format": "date"}),
    _query("to", N_("Up to this day included, year-month-day (Europe/Rome)."),
           {"type": "string", "format": "date"}),
    _query("sort", N_("relevance (the default) or newest."),
           {"type": "string", "enum": ["relevance", "newest"], "default": "relevance"}),
    _query("page", N_("The page of results, 20 a page (follow next)."),
           {**INT, "minimum": 1, "default": 1}),
]  # fmt: skip
SEARCH = _get(
    "search", N_("Search"),
    N_("Threads, messages, consultations, contributions, meetings, published verbali and "
       "library documents (with the text of their files) matching the words, within what "
       "the user may read, as on the /search page; "
       "without a login, public meetings and their verbali only. Ranked by relevance "
       "or newest first, with a highlighted snippet."),
    "SearchPage", ("400",), SEARCH_PARAMETERS)  # fmt: skip
# Login optional: the session if there is one, else public results only.
SEARCH["get"]["security"] = [{"session": []}, {}]

CONSULTATION_ID = _id(N_("The consultation's id."))
PATHS: dict[str, JSON] = {
    "/api/v1/consultations": _get(
        "listConsultations", N_("Consultations"),
        N_("The consultations the user may read, newest first."),
        "ConsultationPage", ("400", "401"), PAGE_PARAMETERS),
    "/api/v1/consultations/{id}": _get(
        "getConsultation", N_("A consultation"),
        N_("One consultation, with its text and its draft documents."),
        "Consultation", ("401", "404"), [CONSULTATION_ID]),
    "/api/v1/consultations/{id}/contributions": _get(
        "listContributions", N_("Contributions"),
        N_("The comuni's contributions to a consultation, current version, no personal data, "
           "by receipt number, a page at a time (follow next)."),
        "ContributionList", ("400", "401", "404"),
        [CONSULTATION_ID, *CONTRIBUTION_PAGE_PARAMETERS]),
    "/api/v1/themes/{id}/documents": _get(
        "listThemeDocuments", N_("Forms library of a theme"),
        N_("The documents of a theme's forms library, with every version."),
        "ThemeDocuments", ("401", "403", "404"), [_id(N_("The theme's id."))]),
    "/api/v1/documents/{id}": _get(
        "getDocument", N_("A library document"),
        N_("One document of the forms library, with every version."),
        "LibraryDocumentDetail", ("401", "404"), [_id(N_("The document's id."))]),
    "/api/v1/search": SEARCH,
    "/api/v1/openapi.json": {"get": {
        "operationId": "openapi", "summary": N_("This document"),
        "description": N_("The OpenAPI 3.1 description of the API; no login needed."),
        "security": [], "parameters": [],
        "responses": {"200": {"description": "OK", "content": {"application/json": {}}}}}},
    "/api/docs": {"get": {
        "operationId": "docs", "summary": N_("API documentation"),
        "description": N_("This description as an HTML page; no login needed."),
        "security": [], "parameters": [],
        "responses": {"200": {"description": "OK", "content": {"text/html": {}}}}}},
}  # fmt: skip

OPENAPI: JSON = {
    "openapi": "3.1.0",
    "info": {
        "title": "collab API",
        "version": "1.0.0",
        "description": "Read-only JSON API of collab, the workspace of the zone omogenee "
        "of the Città metropolitana di Torino. Same login and permissions as the pages; "
        "no personal data.",
    },
    "servers": [{"url": "/"}],
    "security": [{"session": []}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "responses": {
            f"E{status}": {
                "description": text,
                "content": {"application/json": {"schema": _ref("Error")}},
            }
            for status, text in ERRORS.items()
        },
        "securitySchemes": {
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": "collab_session",
                "description": "The session cookie set by logging in at /login.",
            }
        },
    },
}


def _type(schema: JSON) -> str:
    """A short human name of a schema's type: ``integer``, ``Zone``, ``array of File``."""
    if "$ref" in schema:
        return str(schema["$ref"]).removeprefix(REF)
    if "oneOf" in schema:
        return " | ".join(_type(s) for s in schema["oneOf"])
    kind = schema.get("type", "object")
    if kind == "array":
        return "array of " + _type(schema["items"])
    name = " | ".join(kind) if isinstance(kind, list) else str(kind)
    return f"{name} ({schema['format']})" if "format" in schema else name


def _fields(schema: JSON, prefix: str = "") -> list[tuple[str, str]]:
    """Every field of a response, nested ones as ``zones[].number``."""
    if "$ref" in schema:
        return _fields(SCHEMAS[str(schema["$ref"]).removeprefix(REF)], prefix)
    if schema.get("type") == "array":
        return _fields(schema["items"], prefix + "[]")
    found: list[tuple[str, str]] = []
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        found.append((path, _type(sub)))
        if "oneOf" in sub:  # X or null: the fields of X
            sub = sub["oneOf"][0]
        inner = sub["items"] if sub.get("type") == "array" else sub
        if "$ref" in inner or "properties" in inner:
            found.extend(_fields(sub, path))
    return found


def endpoints() -> list[JSON]:
    """The paths of :data:`OPENAPI` flattened for the docs template."""
    listed: list[JSON] = []
    for path, methods in PATHS.items():
        for method, op in methods.items():
            ok = op["responses"]["200"]["content"]
            body = ok.get("application/json", {}).get("schema")
            errors = [(status, ERRORS[status]) for status in op["responses"] if status in ERRORS]
            listed.append({
                "method": method.upper(), "path": path, "id": op["operationId"],
                "summary": op["summary"], "description": op["description"],
                "public": op.get("security") == [] or {} in op.get("security", ()),
                "parameters": [{"name": p["name"], "in": p["in"], "required": p["required"],
                                "type": _type(p["schema"]), "description": p["description"]}
                               for p in op["parameters"]],
                "errors": errors,
                "fields": _fields(body) if body else [],
            })  # fmt: skip
    return listed
