"""Every page type of the site, with the roles that see it: one list for the
phone-layout, axe and keyboard tests.

Each entry names the route it renders (as written in the route table, so
``tests/browser/test_page_list.py`` can check that every GET route is either
here or in ``NOT_PAGES`` with the reason) and a URL made from the scene
(``tests/browser/scene.py``). A route with several states (a meeting convened,
in progress, closed) has one entry per state.

To add a page: add its route to a ``routes.py``, an entry here with the roles
that may open it (and, when it needs data, a field in ``Scene`` built in
``scene.py``). The page tests then load it as each of those roles, in Italian
and English, on a desktop and a phone.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.browser.scene import ROLES, Scene

__all__ = ["ANYONE", "MEMBERS", "NOT_PAGES", "PAGES", "PageSpec"]

ANYONE = tuple(ROLES)
MEMBERS = tuple(role for role, email in ROLES.items() if email)
CHAIRS = ("portavoce", "staff")


@dataclass(frozen=True)
class PageSpec:
    """One page type: ``url`` is formatted with the scene's values."""

    name: str
    route: str
    url: str
    roles: tuple[str, ...]
    status: int = 200

    def address(self, scene: Scene) -> str:
        return self.url.format(**scene.values())


def _page(name: str, route: str, url: str | None = None, roles: tuple[str, ...] = MEMBERS,
          status: int = 200) -> PageSpec:  # fmt: skip
    return PageSpec(name, route, url or route, roles, status)


PAGES: list[PageSpec] = [
    # Accounts
    _page("login", "/login", roles=("anonymous",)),
    _page("password", "/account/password"),
    _page("calendar", "/account/calendar"),
    _page("email", "/account/email"),
    _page("sessions", "/account/sessions"),
    _page(
        "email-confirm",
        "/account/email/confirm/{token}",
        "/account/email/confirm/{email_token}",
        roles=ANYONE,
    ),
    _page("notifications", "/notifications"),
    _page("notification-settings", "/account/notifications"),
    _page(
        "unsubscribe", "/unsubscribe/{token:str}", "/unsubscribe/{unsubscribe_token}", roles=ANYONE
    ),
    _page("forgot-password", "/password/forgot", roles=("anonymous",)),
    _page(
        "reset-password",
        "/password/reset/{token}",
        "/password/reset/{reset_token}",
        roles=("anonymous",),
    ),
    _page(
        "reset-password-expired",
        "/password/reset/{token}",
        "/password/reset/scaduto",
        roles=("anonymous",),
        status=404,
    ),
    # Boards and threads
    _page("home", "/", roles=ANYONE),
    _page("metro", "/metro"),
    _page("metro-board", "/metro/{theme:str}", "/metro/{metro_theme}"),
    _page("metro-new-thread", "/metro/{theme:str}/new", "/metro/{metro_theme}/new"),
    _page("zone", "/zones/{number:id}", "/zones/{zone}"),
    _page("board", "/zones/{number:id}/{theme:str}", "/zones/{zone}/{theme}"),
    _page("new-thread", "/zones/{number:id}/{theme:str}/new", "/zones/{zone}/{theme}/new"),
    _page("thread", "/threads/{id:id}", "/threads/{thread}"),
    _page("post-edit", "/posts/{id:id}/edit", "/posts/{own_post}/edit", roles=("sindaco",)),
    _page("post-history", "/posts/{id:id}/history", "/posts/{edited_post}/history"),
    _page("person", "/people/{id:id}", "/people/{user}"),
    # Meetings
    _page("meetings", "/meetings"),
    _page("convene", "/meetings/new", roles=CHAIRS),
    _page("room-convened", "/meetings/{id:id}", "/meetings/{meeting_convened}"),
    _page(
        "meeting-edit", "/meetings/{id:id}/edit", "/meetings/{meeting_convened}/edit", roles=CHAIRS
    ),
    _page("room-live", "/meetings/{id:id}", "/meetings/{meeting_live}"),
    _page("room-closed", "/meetings/{id:id}", "/meetings/{meeting_published}"),
    _page(
        "verbale-draft",
        "/meetings/{id:id}/verbale",
        "/meetings/{meeting_draft}/verbale",
        roles=CHAIRS,
    ),
    _page("verbale", "/meetings/{id:id}/verbale", "/meetings/{meeting_published}/verbale"),
    # The confirmations of the irreversible steps (collab/meetings/confirm.py); closing
    # the live meeting is refused while its vote is open, and the page says so.
    _page(
        "confirm-cancel",
        "/meetings/{id:id}/cancel",
        "/meetings/{meeting_convened}/cancel",
        roles=CHAIRS,
    ),
    _page(
        "confirm-close",
        "/meetings/{id:id}/close",
        "/meetings/{meeting_live}/close",
        roles=CHAIRS,
        status=409,
    ),
    _page(
        "confirm-close-vote",
        "/meetings/{id:id}/votes/{vote_id:id}/close",
        "/meetings/{meeting_live}/votes/{live_vote}/close",
        roles=CHAIRS,
    ),
    _page(
        "confirm-publish",
        "/meetings/{id:id}/verbale/publish",
        "/meetings/{meeting_draft}/verbale/publish",
        roles=CHAIRS,
    ),
    _page("public-room", "/m/{token}", "/m/{live_token}", roles=ANYONE),
    _page("public-meetings", "/public/meetings", roles=ANYONE),
    _page("public-verbale", "/m/{token}/verbale", "/m/{published_token}/verbale", roles=ANYONE),
    # Consultations and contributions
    _page("consultations", "/consultations"),
    _page("consultation-new", "/consultations/new", roles=("staff",)),
    _page("consultation", "/consultations/{id:id}", "/consultations/{consultation}"),
    _page(
        "consultation-filtered",
        "/consultations/{id:id}",
        "/consultations/{consultation}?status=under_review",
    ),
    _page("consultation-to-answer", "/consultations/{id:id}", "/consultations/{consultation_open}"),
    _page(
        "consultation-edit",
        "/consultations/{id:id}/edit",
        "/consultations/{consultation}/edit",
        roles=("staff",),
    ),
    _page("contribution", "/contributions/{id:id}", "/contributions/{contribution}"),
    _page("receipt", "/contributions/{id:id}/receipt", "/contributions/{contribution}/receipt"),
    _page(
        "changes",
        "/contributions/{id:id}/changes",
        "/contributions/{contribution}/changes?version=2",
    ),
    # Forms library
    _page("library", "/library"),
    _page("library-search", "/library", "/library?q=richiesta"),
    _page("library-theme", "/library/{theme:str}", "/library/{library_theme}"),
    _page("document", "/documents/{id:id}", "/documents/{document}"),
    # Search (everyone: anonymous visitors find public meetings and verbali)
    _page("search", "/search", roles=ANYONE),
    _page("search-results", "/search", "/search?q=riunione&sort=newest", roles=ANYONE),
    # API documentation
    _page("api-docs", "/api/docs", roles=ANYONE),
    # Pages for everyone: the legal pages and a zone's public meetings and verbali
    _page("accessibility", "/legal/{kind:str}", "/legal/accessibility", roles=ANYONE),
    _page("privacy", "/legal/{kind:str}", "/legal/privacy", roles=ANYONE),
    _page("cookies", "/legal/{kind:str}", "/legal/cookies", roles=ANYONE),
    _page("public-zone", "/public/zones/{number:id}", "/public/zones/{zone}", roles=ANYONE),
    # Administration
    _page("admin-users", "/admin/users", roles=("admin",)),
    _page("admin-user-new", "/admin/users/new", roles=("admin",)),
    _page("admin-user", "/admin/users/{id:id}", "/admin/users/{user}", roles=("admin",)),
    _page("admin-audit", "/admin/audit", roles=("admin",)),
    _page("admin-logins", "/admin/logins", roles=("admin",)),
    _page("admin-mail", "/admin/mail", roles=("admin",)),
    _page("admin-mail-failed", "/admin/mail", "/admin/mail?status=failed", roles=("admin",)),
    _page("admin-mail-message", "/admin/mail/{id:id}", "/admin/mail/{mail}", roles=("admin",)),
    _page("admin-themes", "/admin/themes", roles=("admin",)),
    _page("admin-theme", "/admin/themes/{id:id}", "/admin/themes/{theme_id}", roles=("admin",)),
    _page("admin-comuni", "/admin/comuni", "/admin/comuni?zone={zone}", roles=("admin",)),
    _page("admin-comuni-import", "/admin/comuni/import", roles=("admin",)),
    _page("admin-comune", "/admin/comuni/{id:id}", "/admin/comuni/{comune}", roles=("admin",)),
    _page("admin-zones", "/admin/zones", roles=("admin",)),
    _page("admin-bodies", "/admin/bodies", roles=("admin",)),
    _page("admin-body-new", "/admin/bodies/new", roles=("admin",)),
    _page("admin-body", "/admin/bodies/{id:id}", "/admin/bodies/{body}", roles=("admin",)),
    _page(
        "admin-body-template",
        "/admin/bodies/{id:id}/verbale",
        "/admin/bodies/{body}/verbale",
        roles=("admin",),
    ),
    _page("admin-legal", "/admin/legal", roles=("admin",)),
    _page(
        "admin-legal-edit",
        "/admin/legal/{kind:str}",
        "/admin/legal/accessibility",
        roles=("admin",),
    ),
    _page(
        "admin-legal-history",
        "/admin/legal/{kind:str}/history",
        "/admin/legal/privacy/history",
        roles=("admin",),
    ),
    _page(
        "admin-legal-version",
        "/admin/legal/{kind:str}/versions/{version:id}",
        "/admin/legal/cookies/versions/1",
        roles=("admin",),
    ),
    # Error pages: each error status the site shows as a page.
    _page("forbidden", "/admin/users", roles=("sindaco", "staff"), status=403),
    _page("not-found", "/threads/{id:id}", "/threads/999999", status=404),
    _page("not-found-public", "/m/{token}", "/m/no-such-meeting", roles=("anonymous",), status=404),
]

# GET routes that are not pages, and why.
NOT_PAGES: dict[str, str] = {
    "/healthz": "health check, plain text",
    "/readyz": "readiness check, plain text",
    "/posts/{id:id}": "a post alone for htmx; a plain GET redirects to the thread",
    "/threads/{id:id}/mentions": "mention autocomplete: a listbox fragment for mentions.js",
    "/zones/{number:id}/{theme:str}/mentions": "mention autocomplete of a new thread: a fragment",
    "/metro/{theme:str}/mentions": "mention autocomplete of a new thread: a fragment",
    "/meetings/{id:id}/calendar.ics": "iCalendar file",
    "/zones/{number:id}/meetings.ics": "iCalendar file",
    "/calendar/{token}.ics": "iCalendar file (a personal feed)",
    "/notifications/{id:id}": "marks a notification read and redirects to where it points",
    "/threads/{id:id}/unread": "redirects to the page of a thread's first unread post",
    "/public/zones/{number:id}/meetings.ics": "iCalendar file (a zone's public meetings)",
    "/meetings/{id:id}/verbale.pdf": "PDF file",
    "/m/{token}/verbale.pdf": "PDF file (a public meeting's published verbale)",
    "/m/{token}/verbale/signed": "file download (the signed verbale, PAdES PDF or .p7m)",
    "/meetings/{id:id}/verbale/signed": "file download (the signed verbale, PAdES PDF or .p7m)",
    "/consultations/{id:id}/export.csv": "open data, CSV",
    "/consultations/{id:id}/export.json": "open data, JSON",
    "/files/{id:id}/{name:str}": "file download",
    "/api/v1/consultations": "JSON API",
    "/api/v1/consultations/{id:id}": "JSON API",
    "/api/v1/consultations/{id:id}/contributions": "JSON API",
    "/api/v1/themes/{id:id}/documents": "JSON API",
    "/api/v1/documents/{id:id}": "JSON API",
    "/api/v1/openapi.json": "JSON API",
    "/api/v1/search": "JSON API",
}
