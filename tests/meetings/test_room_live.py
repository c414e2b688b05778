"""A meeting's topic over the websocket, in process: frames per region, secret
votes without names, the anonymous public socket, replay after a reconnect."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from starlette.websockets import WebSocketDisconnect

from collab.demo import ASSEMBLY
from tests.realtime.test_ws import Browser, _token, browser, frames, head, subscribe

__all__ = ["browser"]  # the fixture, shared with the websocket tests

STAFF = "staff@demo.collab.it"
ADMIN = "admin@demo.collab.it"
MAYOR = "sindaco.pinerolo@demo.collab.it"  # Pinerolo, ZO 5
SUSA = "sindaco.susa@demo.collab.it"  # ZO 6
IVREA = "tecnico.ivrea@demo.collab.it"  # ZO 9: not convened
ROOM = "/meetings/1"  # the demo's joint meeting of ZO 5 and ZO 6
TOPIC = "meeting:1"


def _targets(frame: BeautifulSoup) -> list[str]:
    return [str(op["data-target"]) for op in frame.select("template[data-op]")]


def _region(frame: BeautifulSoup, target: str) -> BeautifulSoup:
    op = frame.select_one(f'template[data-target="{target}"]')
    assert op is not None, _targets(frame)
    return BeautifulSoup(op.decode_contents(), "html.parser")


def _public_url(browser: Browser) -> str:
    browser.login(STAFF)
    page = BeautifulSoup(browser.client.get(ROOM).text, "html.parser")
    link = page.select_one('[data-testid="public-url"]')
    assert link is not None
    return str(link["href"])


def test_a_follower_gets_each_region_as_it_changes(browser: Browser) -> None:
    browser.login(SUSA)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {TOPIC: None})
        browser.login(STAFF)
        assert browser.post(f"{ROOM}/open", {}).status_code == 303
        browser.login(MAYOR)
        page = BeautifulSoup(browser.client.get(ROOM).text, "html.parser")
        checkin = page.select_one('[data-testid="checkin"] input[name="comune_id"]')
        assert checkin is not None
        assert (
            browser.post(f"{ROOM}/checkin", {"comune_id": str(checkin["value"])}).status_code == 303
        )
        assert browser.post(f"{ROOM}/hand", {}).status_code == 303
        opened, attended, hand = frames(ws, 3)
    assert head(opened) == (TOPIC, 1) and "#room-status" in _targets(opened)
    present = _region(attended, "#room-attendance").select_one('[data-testid="present"]')
    assert present is not None and "Pinerolo" in present.get_text()
    assert _targets(hand) == ["#room-floor"]
    queue = _region(hand, "#room-floor").select_one('[data-testid="queue"]')
    assert queue is not None and "Sindaco di Pinerolo" in queue.get_text()


def _by_simple_majority(browser: Browser) -> None:
    """The admin sets the demo assembly's rule to a simple majority, through
    its form: a vote by double majority is never secret."""
    browser.login(ADMIN)
    bodies = BeautifulSoup(browser.client.get("/admin/bodies").text, "html.parser")
    row = next(tr for tr in bodies.select("tr") if ASSEMBLY in tr.get_text())
    link = row.select_one('a[href^="/admin/bodies/"]')
    assert link is not None
    url = str(link["href"])
    form = BeautifulSoup(browser.client.get(url).text, "html.parser").select_one(
        'form[data-testid="body-form"]'
    )
    assert form is not None
    fields: dict[str, str] = {}
    for field in form.select("input[name], select[name], textarea[name]"):
        name = str(field["name"])
        if field.name == "select":
            chosen = field.select_one("option[selected]") or field.select_one("option")
            assert chosen is not None
            fields[name] = str(chosen["value"])
        elif field.name == "textarea":
            fields[name] = field.get_text()
        elif field.get("type") not in ("checkbox", "radio") or field.has_attr("checked"):
            fields[name] = str(field.get("value", ""))
    zones = [str(box["value"]) for box in form.select("input[name=zones][checked]")]
    fields.pop("csrf_token", None)
    fields["majority"] = "simple"
    token = _token(browser.client.get("/").text)
    data: dict[str, str | list[str]] = {"csrf_token": token, **fields, "zones": zones}
    response = browser.client.post(url, data=data, follow_redirects=False)
    assert response.status_code == 303, response.text


def test_a_secret_vote_goes_out_without_names(browser: Browser) -> None:
    _by_simple_majority(browser)
    _open_and_check_in(browser)
    browser.login(STAFF)
    # One comune of eight is present: the chair confirms opening without the quorum.
    browser.post(
        f"{ROOM}/votes",
        {"motion": "Parere sul PSM", "point": "", "secret": "1", "without_quorum": "1"},
    )
    browser.login(SUSA)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {TOPIC: None})
        browser.login(MAYOR)
        room = BeautifulSoup(browser.client.get(ROOM).text, "html.parser")
        form = room.select_one('[data-testid="ballot-favorevole"]')
        assert form is not None
        assert browser.post(str(form["action"]), {"choice": "favorevole"}).status_code == 303
        (frame,) = frames(ws, 1)
    vote = _region(frame, "#room-vote")
    cast = vote.select_one('[data-testid="ballots-cast"]')
    assert cast is not None and "1" in cast.get_text()
    # Neither the choices nor the comuni behind them while the vote is secret.
    assert vote.select_one('[data-testid="tally"]') is None
    assert "Pinerolo" not in vote.get_text()


def test_the_public_socket_follows_only_its_meeting(browser: Browser) -> None:
    url = _public_url(browser)
    token = url.rsplit("/", 1)[1]
    browser.client.cookies.clear()
    with browser.client.websocket_connect(f"/ws?public={token}") as ws:
        subscribe(ws, {TOPIC: None})
        browser.login(STAFF)
        browser.post(f"{ROOM}/open", {})
        (frame,) = frames(ws, 1)
    assert head(frame) == (TOPIC, 1)
    assert _region(frame, "#room-status").select_one("form") is None  # read-only
    browser.client.cookies.clear()
    for query, topics in ((f"?public={token}", {"meeting:2": None}), ("", {TOPIC: None})):
        with browser.client.websocket_connect(f"/ws{query}") as ws:
            subscribe(ws, topics)
            with pytest.raises(WebSocketDisconnect) as refused:
                ws.receive_text()
        assert refused.value.code in (4401, 4403)


def test_another_zone_cannot_subscribe_and_a_reconnect_replays(browser: Browser) -> None:
    browser.login(IVREA)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {TOPIC: None})
        with pytest.raises(WebSocketDisconnect) as refused:
            ws.receive_text()
    assert refused.value.code == 4403
    browser.login(STAFF)
    browser.post(f"{ROOM}/open", {})
    browser.post(f"{ROOM}/hand", {})
    browser.login(SUSA)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {TOPIC: 0})
        got = frames(ws, 2)
    assert [head(f) for f in got] == [(TOPIC, 1), (TOPIC, 2)]


def _open_and_check_in(browser: Browser) -> None:
    browser.login(STAFF)
    browser.post(f"{ROOM}/open", {})
    browser.login(MAYOR)
    page = BeautifulSoup(browser.client.get(ROOM).text, "html.parser")
    checkin = page.select_one('[data-testid="checkin"] input[name="comune_id"]')
    assert checkin is not None
    browser.post(f"{ROOM}/checkin", {"comune_id": str(checkin["value"])})


def test_item_change_and_an_open_votes_tally_reach_followers(browser: Browser) -> None:
    _open_and_check_in(browser)
    browser.login(STAFF)
    page = BeautifulSoup(browser.client.get(ROOM).text, "html.parser")
    next_item = page.select_one('[data-testid="next-item"] input[name="item_id"]')
    assert next_item is not None
    browser.login(SUSA)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {TOPIC: None})
        browser.login(STAFF)
        browser.post(f"{ROOM}/item", {"item_id": str(next_item["value"])})
        browser.post(
            f"{ROOM}/votes",
            {"motion": "Parere sul PTGM", "point": "Art. 3", "without_quorum": "1"},
        )
        browser.login(MAYOR)
        room = BeautifulSoup(browser.client.get(ROOM).text, "html.parser")
        form = room.select_one('[data-testid="ballot-contrario"]')
        assert form is not None
        browser.post(str(form["action"]), {"choice": "contrario"})
        moved, opened, ballot = frames(ws, 3)
    current = _region(moved, "#room-agenda").select_one('[aria-current="step"]')
    assert current is not None and current["id"] == f"agenda-item-{next_item['value']}"
    envelope = moved.select_one("template[data-topic]")
    assert envelope is not None and str(envelope["data-announce"]).startswith("Ora in discussione")
    envelope = opened.select_one("template[data-topic]")
    assert envelope is not None
    assert envelope["data-announce"] == "Votazione aperta: Parere sul PTGM"
    vote = _region(ballot, "#room-vote")
    count = vote.select_one('[data-testid="count-contrario"]')
    names = vote.select_one('[data-testid="names-contrario"]')
    assert count is not None and count.get_text() == "1"
    assert names is not None and names.get_text() == "Pinerolo"
    # Susa's mayor follows: no ballot of Pinerolo shown as theirs, and their form.
    assert vote.select_one('[data-testid="own-ballot"]') is None


def test_the_floor_is_announced_with_a_running_timer(browser: Browser) -> None:
    browser.login(STAFF)
    browser.post(f"{ROOM}/open", {})
    browser.login(MAYOR)
    browser.post(f"{ROOM}/hand", {})
    browser.login(STAFF)
    page = BeautifulSoup(browser.client.get(ROOM).text, "html.parser")
    grant = page.select_one('[data-testid="grant"]')
    assert grant is not None
    browser.login(SUSA)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {TOPIC: None})
        browser.login(STAFF)
        browser.post(str(grant["action"]), {})
        (frame,) = frames(ws, 1)
    envelope = frame.select_one("template[data-topic]")
    assert envelope is not None and envelope["data-announce"] == "La parola a Sindaco di Pinerolo"
    floor = _region(frame, "#room-floor")
    timer = floor.select_one('[data-testid="timer"]')
    assert timer is not None and str(timer["data-since"]).endswith("+00:00")


def test_a_public_socket_closes_when_the_meeting_goes_private(browser: Browser) -> None:
    token = _public_url(browser).rsplit("/", 1)[1]
    browser.client.cookies.clear()
    with browser.client.websocket_connect(f"/ws?public={token}") as ws:
        subscribe(ws, {TOPIC: None})
        browser.login(STAFF)
        browser.post(f"{ROOM}/public", {"value": "0"})
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_text()  # the frame of the change, heartbeats, then the close
    assert closed.value.code == 4403


def test_a_reconnect_replays_each_missed_event_exactly_once(browser: Browser) -> None:
    browser.login(STAFF)
    browser.post(f"{ROOM}/open", {})
    browser.post(f"{ROOM}/hand", {})
    browser.login(SUSA)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {TOPIC: 1})  # the page showed the opening only
        browser.login(STAFF)
        browser.post(f"{ROOM}/hand/withdraw", {})
        got = frames(ws, 2)
    assert [head(f) for f in got] == [(TOPIC, 2), (TOPIC, 3)]
    browser.post(f"{ROOM}/hand", {})  # missed while disconnected
    browser.login(SUSA)
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {TOPIC: 3})
        browser.login(STAFF)
        browser.post(f"{ROOM}/hand/withdraw", {})
        got = frames(ws, 2)
    assert [head(f) for f in got] == [(TOPIC, 4), (TOPIC, 5)]


def _option(page: BeautifulSoup, select: str, text: str) -> str:
    for option in page.select(f"{select} option"):
        if option.get_text(strip=True).startswith(text):
            return str(option["value"])
    raise AssertionError(f"no option {text!r} in {select}")


def test_a_body_s_member_from_another_zone_follows_live(browser: Browser) -> None:
    # The demo's commission (a body of people) meets, convened for ZO 5 only:
    # its member from Ivrea (ZO 9) follows the room live, as on its page; a
    # mayor of ZO 6 who is no member is refused, as by the page (404).
    browser.login(STAFF)
    form = BeautifulSoup(browser.client.get("/meetings/new").text, "html.parser")
    zone5 = form.select_one('label:-soup-contains("ZO 5 ")')
    assert zone5 is not None
    answer = browser.post("/meetings/new", {
        "title": "Commissione sugli orari", "zones": str(zone5["for"]).removeprefix("zone-"),
        "starts_at": "2030-05-06T10:00", "place": "Sala consiliare, Pinerolo",
        "body": _option(form, "#body", "Commissione consiliare"),
        "item-0-title": "Orari", "item-0-theme": _option(form, "#item-0-theme", ""),
        "item-0-minutes": "15",
    })  # fmt: skip
    assert answer.status_code == 303, answer.text
    room = answer.headers["location"]
    topic = f"meeting:{room.rsplit('/', 1)[1]}"
    browser.login("sindaco.avigliana@demo.collab.it")  # ZO 6, no member
    assert browser.client.get(room).status_code == 404
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {topic: None})
        with pytest.raises(WebSocketDisconnect) as refused:
            ws.receive_text()
    assert refused.value.code == 4403
    browser.login(IVREA)
    assert browser.client.get(room).status_code == 200
    with browser.client.websocket_connect("/ws") as ws:
        subscribe(ws, {topic: None})
        browser.login(STAFF)
        assert browser.post(f"{room}/open", {}).status_code == 303
        (frame,) = frames(ws, 1)
    assert head(frame) == (topic, 1) and "#room-status" in _targets(frame)
