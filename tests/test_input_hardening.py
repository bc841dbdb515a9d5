"""Hostile input never makes the service fail: every GET route, walked as a course lead and as a trainee with
hostile query strings and out-of-range path ids, answers below 500, and the API's refusals are JSON with a
message."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

import httpx
import pytest

from tests.conftest import ffmpeg, open_case, run_queued_jobs, upload
from tests.test_access import every_route, login_by_cookie

# Every query parameter a handler reads.
PARAMETERS = ["format", "download", "phase", "level", "cohort", "from", "to", "bootstrap", "a", "b", "speakers",
              "next", "submitted", "assigned"]
LONG = 100_000
# Each kind of hostile value, as the values a parameter is given: raw, already percent-encoded, so that
# broken encodings reach the service as a browser could send them.
HOSTILE = {
    "over-long text": ["x" * LONG],
    "over-long number": ["9" * LONG],
    "NUL bytes": ["1%00%00"],
    "invalid percent-encoding and UTF-8": ["%zz%ff%fe%c3%"],
    # Each parameter given 150 times (enough to show a parser that keeps the first, the last or all of them;
    # a 2 MB query string of 1,500 a parameter cost a minute of the suite and showed nothing more).
    "repeated": ["initial", "x" * 100, "1"] * 50,
    "negative": ["-1"],
    "2**63": [str(2**63)],
    "not a number": ["NaN"],
    "digits int() refuses": [quote("²")],
    "the last day": ["9999-12-31"],
    "beyond Latin-1": [quote("€\u2028ü")],
}
IDS = ["0", str(2**31), str(2**63 - 1), str(2**63), str(2**64), "9" * 40, "-1", "1.5"]


def query_string(parameters: list[str], values: list[str]) -> bytes:
    return "&".join(f"{parameter}={value}" for parameter in parameters for value in values).encode()


async def get(app, path: str, query: bytes = b"", headers: dict[str, str] | None = None) -> httpx.Response:
    """One GET through the app's ASGI interface, as uvicorn would pass it on: httpx itself refuses URLs over
    64 kB, and broken percent-encoding must arrive unrepaired."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": unquote(path), "raw_path": path.encode(), "query_string": query, "root_path": "",
        "headers": [(b"host", b"testserver"), *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items())],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    start, body, requested, done = {}, [], asyncio.Event(), asyncio.Event()

    async def receive():
        if not requested.is_set():
            requested.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client stays connected until the whole answer has come
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    try:
        await app(scope, receive, send)
    except Exception:  # the 500 already sent is what the test reports
        if not start:
            raise
    return httpx.Response(start["status"], headers=start["headers"], content=b"".join(body))


def problems_with(response: httpx.Response, path: str) -> str | None:
    if response.status_code >= 500:
        return f"{response.status_code}"
    if path.startswith("/api/") and response.status_code >= 400:
        try:
            error = response.json().get("error")
        except ValueError:
            return f"{response.status_code} without a JSON body: {response.text[:80]!r}"
        if not (isinstance(error, str) and error.strip()):
            return f"{response.status_code} without an error message: {response.text[:80]!r}"
    return None


@dataclass
class Walk:
    """Sends each request as a logged-in course lead and as a trainee, and collects what went wrong."""

    app: object
    routes: list[str]
    ids: dict[str, int | str]
    cookies: dict[str, str]
    failures: list[str] = field(default_factory=list)

    def path(self, template: str, **given) -> str:
        return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: str(given.get(m.group(1), self.ids[m.group(1)])), template)

    async def send(self, path: str, query: bytes = b"", what: str = "", headers=None, roles=None) -> dict[str, int]:
        statuses = {}
        for role, cookie in self.cookies.items():
            if roles is not None and role not in roles:
                continue
            response = await get(self.app, path, query, {**(headers or {}), "Cookie": cookie})
            statuses[role] = response.status_code
            if problem := problems_with(response, path):
                self.failures.append(f"{role} GET {path[:80]} {what}: {problem}")
        return statuses


@pytest.fixture
async def walk(people, settings, app, tmp_path) -> Walk:
    """Something for every GET route to find: a transcribed tape of a case, assigned for rating."""
    tone = tmp_path / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-ar", "16000", str(tone))
    case_id = await open_case(people["trainee"], "DIT-700")
    recording_id = (await upload(people["trainee"], case_id, 1, tone)).json()["id"]
    await run_queued_jobs(settings)
    assigned = await people["lead"].post(f"/api/recordings/{recording_id}/assignments",
                                         json={"supervisor": "supervisor"})
    assert assigned.status_code == 201, assigned.text
    cookies = {}
    for role in ("lead", "trainee"):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
            await login_by_cookie(browser, role)
            cookies[role] = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    routes = sorted(path for method, path in every_route(app.routes) if method == "GET")
    assert len(routes) > 25, "the walk must reach the routes inside mounts"
    ids = {"case_id": case_id, "recording_id": recording_id, "trainee_id": people["trainee"].user.id, "table": "raters",
           "user_id": people["trainee"].user.id, "secret": "not-a-link", "notification_id": 1, "username": "nobody"}
    return Walk(app, routes, ids, cookies)


@pytest.mark.slow
async def test_hostile_query_strings_never_give_a_server_error(walk):
    for template in walk.routes:
        path = walk.path(template)
        await walk.send(path, b"format&phase&&&=&==&=x", "names without values, values without names")
        for what, values in HOSTILE.items():
            statuses = await walk.send(path, query_string(PARAMETERS, values), f"every parameter {what}")
            # A refusal of the input may have come before a later parameter was read: each on its own, then,
            # for the roles refused so (a role refused the route itself reads no parameter of it).
            refused = [role for role, status in statuses.items() if status in (400, 413, 414, 422)]
            if refused:
                for parameter in PARAMETERS:
                    await walk.send(path, query_string([parameter], values), f"{parameter} {what}", roles=refused)
    assert not walk.failures, "\n".join(walk.failures)


@pytest.mark.slow
async def test_out_of_range_path_ids_never_give_a_server_error(walk):
    for template in walk.routes:
        for parameter in set(re.findall(r"\{(\w+)", template)):
            for bad in [*IDS, "x" * LONG, "%00", "%zz", "%ff", ".."]:
                await walk.send(walk.path(template, **{parameter: bad}), what=f"{parameter}={bad[:20]}")
    assert not walk.failures, "\n".join(walk.failures)


@pytest.mark.slow
async def test_hostile_byte_ranges_never_give_a_server_error(walk):
    """The media route answers ranges as HTTP does, to the browser's player: 200, 206, or 400 or 416 in plain text."""
    media = walk.path("/api/recordings/{recording_id:int}/media")
    answers = {}
    for byte_range in ["bytes=abc", "bytes=5-1", f"bytes={2**64}-", "bytes=-0", "bytes=" + "0-0," * 2000,
                       "pages=0-1", "bytes=" + "9" * 5000 + "-", "bytes=0-1"]:
        response = await get(walk.app, media, headers={"Cookie": walk.cookies["lead"], "Range": byte_range})
        answers[byte_range[:30]] = response.status_code
    assert all(status in (200, 206, 400, 416) for status in answers.values()), str(answers)
    assert answers["bytes=0-1"] == 206


@pytest.mark.slow
async def test_out_of_range_ids_in_api_changes_are_refused_with_a_message(walk, people):
    """POST, PATCH and DELETE routes of the API, sent ids no database column holds, answer 4xx with a message."""
    changes = sorted((method, path) for method, path in every_route(walk.app.routes)
                     if method in ("POST", "PATCH", "DELETE") and path.startswith("/api/") and "{" in path)
    assert len(changes) > 10
    failures = []
    for method, template in changes:
        for bad in (str(2**63), "9" * 40):
            path = re.sub(r"\{(\w+)(:\w+)?\}", bad, template)
            response = await people["lead"].request(method, path, json={})
            if problem := problems_with(response, path):
                failures.append(f"{method} {template}: {problem}")
    assert not failures, "\n".join(failures)


async def test_text_with_a_nul_character_is_refused_on_every_database(walk, people, http):
    """PostgreSQL stores no NUL in text: refused with 400 and a message, in query strings, JSON and forms."""
    query = await people["lead"].get("/api/agreement", params={"cohort": "a\x00b"})
    assert query.status_code == 400 and "NUL" in query.json()["error"]
    token = await http.post("/api/token", json={"username": "lead\x00", "password": "x"})
    assert token.status_code == 400 and "NUL" in token.json()["error"]
    renamed = await people["admin"].request("PATCH", f"/api/users/{people['trainee'].user.id}", json={"name": "A\x00B"})
    assert renamed.status_code == 400 and "NUL" in renamed.json()["error"]
    login = await http.post("/login", data={"username": "lead\x00", "password": "x"})
    assert login.status_code < 500
