"""Every route, walked by every role: who may see and do what."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Mount, Route

from server.models import AuditEvent, AuditOutcome, Role, User
from tests.conftest import CONSENT, PASSWORD, open_case, run_queued_jobs, upload

ROLES = ["anonymous", "trainee", "other_trainee", "supervisor", "other_supervisor", "lead", "admin"]


def expect(anonymous, trainee, other_trainee, supervisor, other_supervisor, lead, admin):
    return dict(zip(ROLES, [anonymous, trainee, other_trainee, supervisor, other_supervisor, lead, admin]))


READ = expect(401, 200, 404, 200, 404, 200, 200)
# API: (method, path template, body kind, expected status by role)
API = [
    ("GET", "/api/me", None, expect(401, 200, 200, 200, 200, 200, 200)),
    ("GET", "/api/cases", None, expect(401, 200, 200, 200, 200, 200, 200)),
    # The body names 'trainee': another trainee may not open a case for them.
    ("POST", "/api/cases", "case", expect(401, 201, 403, 403, 403, 201, 201)),
    ("GET", "/api/cases/{case}", None, READ),
    ("GET", "/api/cases/{case}/export", None, expect(401, 403, 404, 403, 404, 200, 200)),
    ("POST", "/api/cases/{case}/sessions/{number}/recording", "file", expect(401, 201, 404, 403, 404, 403, 403)),
    ("GET", "/api/recordings/{recording}", None, READ),
    ("GET", "/api/recordings/{recording}/transcript", None, READ),
    ("GET", "/api/recordings/{recording}/media", None, READ),
    ("POST", "/api/recordings/{recording}/retry", None, expect(401, 409, 404, 403, 404, 409, 409)),
    # Nothing is deleted here: the tape has a draft rating, so its trainee may not, and a lead must give a reason.
    ("DELETE", "/api/recordings/{recording}", "json", expect(401, 403, 404, 403, 404, 400, 400)),
    ("POST", "/api/recordings/{recording}/consent-withdrawn", "json", expect(401, 400, 404, 403, 404, 400, 400)),
    ("GET", "/api/openapi.json", None, expect(200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/api/scale", None, expect(401, 200, 200, 200, 200, 200, 200)),
    ("GET", "/api/queue", None, expect(401, 200, 200, 200, 200, 200, 200)),
    ("GET", "/api/worklist", None, expect(401, 403, 403, 403, 403, 200, 200)),
    ("GET", "/api/classifier", None, expect(401, 403, 403, 403, 403, 200, 200)),
    ("GET", "/api/notifications", None, expect(401, 200, 200, 200, 200, 200, 200)),
    ("POST", "/api/notifications/read", None, expect(401, 200, 200, 200, 200, 200, 200)),
    ("POST", "/api/notifications/{notification}/read", None, expect(401, 404, 404, 404, 404, 404, 404)),
    ("PUT", "/api/me/email", "json", expect(401, 200, 200, 200, 200, 200, 200)),
    # 'supervisor' is assigned to rate the recording; the body names nobody, so leads get 400.
    ("POST", "/api/recordings/{recording}/assignments", "assign", expect(401, 403, 404, 403, 404, 400, 400)),
    ("POST", "/api/recordings/{recording}/submit-for-assessment", None, expect(401, 200, 404, 403, 404, 403, 403)),
    ("GET", "/api/recordings/{recording}/ratings", None, READ),
    ("GET", "/api/recordings/{recording}/ratings/mine", None, expect(401, 403, 404, 200, 404, 403, 403)),
    ("PUT", "/api/recordings/{recording}/ratings/mine", "json", expect(401, 403, 404, 200, 404, 403, 403)),
    ("POST", "/api/recordings/{recording}/ratings/mine/submit", None, expect(401, 403, 404, 422, 404, 403, 403)),
    ("GET", "/api/recordings/{recording}/ratings/consensus", None, expect(401, 403, 404, 403, 404, 409, 409)),
    ("PUT", "/api/recordings/{recording}/ratings/consensus", "json", expect(401, 403, 404, 403, 404, 409, 409)),
    ("POST", "/api/recordings/{recording}/ratings/consensus/submit", None, expect(401, 403, 404, 403, 404, 409, 409)),
    ("POST", "/api/recordings/{recording}/adjudicator", "assign", expect(401, 403, 404, 403, 404, 400, 400)),
    ("DELETE", "/api/recordings/{recording}/assignments/{username}", None, expect(401, 403, 404, 403, 404, 404, 404)),
    ("POST", "/api/recordings/{recording}/release", None, expect(401, 403, 404, 403, 404, 409, 409)),
    ("POST", "/api/ratings/{rating}/reopen", "json", expect(401, 403, 403, 403, 403, 400, 400)),
    ("GET", "/api/ratings/export", None, expect(401, 403, 403, 403, 403, 200, 200)),
    # The agreement audit is for course leads and admins only.
    ("GET", "/api/agreement", None, expect(401, 403, 403, 403, 403, 200, 200)),
    ("GET", "/api/agreement/tables/{table}.csv", None, expect(401, 403, 403, 403, 403, 200, 200)),
    # An empty body marks the tape for calibration and assigns every current supervisor not yet assigned.
    ("POST", "/api/recordings/{recording}/calibration", "json", expect(401, 403, 404, 403, 404, 200, 200)),
    ("GET", "/api/trainees/{trainee}/progress", None, READ),
    ("GET", "/api/cases/{case}/ipaf", None, READ),
    # The recording is a tone: no segments to swap (409) for those who may correct speakers.
    ("POST", "/api/recordings/{recording}/speakers/swap", None, expect(401, 409, 404, 409, 404, 409, 409)),
    ("POST", "/api/recordings/{recording}/speakers", "json", expect(401, 400, 404, 400, 404, 400, 400)),
    ("GET", "/api/recordings/{recording}/transcript/edits", None, READ),
    ("POST", "/api/recordings/{recording}/transcript/edits", "json", expect(401, 400, 404, 400, 404, 400, 400)),
    ("POST", "/api/cases/{case}/ipaf", "json", expect(401, 400, 404, 400, 404, 400, 400)),
    # No IPAF is recorded, so those who may see the suggestion are told so (409).
    ("GET", "/api/recordings/{recording}/suggestion", None, expect(401, 403, 404, 409, 404, 409, 409)),
    ("POST", "/api/recordings/{recording}/suggestion/judgements", "json", expect(401, 403, 404, 400, 404, 400, 400)),
    # An empty body: those allowed to log supervision are told what is missing.
    ("POST", "/api/trainees/{trainee}/supervision", "json", expect(401, 400, 404, 400, 404, 400, 400)),
    ("PUT", "/api/trainees/{trainee}/training-record", "json", expect(401, 403, 404, 403, 404, 200, 200)),
    # The entry is no one's: those who may confirm the trainee's hours are told so.
    ("POST", "/api/trainees/{trainee}/supervision/{entry}/confirm", None, expect(401, 403, 404, 404, 404, 404, 404)),
    # One's own account: sessions and tokens (the ids are no one's), password (an empty body is refused).
    ("GET", "/api/me/sessions", None, expect(401, 200, 200, 200, 200, 200, 200)),
    ("DELETE", "/api/me/sessions/{session}", None, expect(401, 404, 404, 404, 404, 404, 404)),
    ("DELETE", "/api/me/tokens/{token}", None, expect(401, 404, 404, 404, 404, 404, 404)),
    ("POST", "/api/me/password", "json", expect(401, 400, 400, 400, 400, 400, 400)),
    # Accounts: course leads read them and change accreditation and supervision (an empty change); admins
    # everything ('user' is a trainee kept for this; an empty body names no role, so admins get 400).
    ("GET", "/api/users", None, expect(401, 403, 403, 403, 403, 200, 200)),
    ("POST", "/api/users", "json", expect(401, 403, 403, 403, 403, 403, 400)),
    ("GET", "/api/users/{user}", None, expect(401, 403, 403, 403, 403, 200, 200)),
    ("PATCH", "/api/users/{user}", "json", expect(401, 403, 403, 403, 403, 200, 200)),
    ("POST", "/api/users/{user}/password-link", None, expect(401, 403, 403, 403, 403, 403, 201)),
    ("POST", "/api/users/{user}/mfa-reset", None, expect(401, 403, 403, 403, 403, 403, 200)),
    ("POST", "/api/users/{user}/deactivate", None, expect(401, 403, 403, 403, 403, 403, 200)),
    ("POST", "/api/users/{user}/reactivate", None, expect(401, 403, 403, 403, 403, 403, 200)),
    # The audit trail: all of it for admins; one recording's rows for its trainee and course leads.
    ("GET", "/api/audit-events", None, expect(401, 403, 403, 403, 403, 403, 200)),
    ("GET", "/api/audit-events?recording={recording}", None, expect(401, 200, 404, 403, 404, 200, 200)),
    # Last: it ends the token the calls above used.
    ("POST", "/api/logout", None, expect(401, 204, 204, 204, 204, 204, 204)),
]
# Pages, logged in by cookie; anonymous GETs are sent to the log-in page.
PAGES = [
    ("GET", "/", None, expect(303, 303, 303, 303, 303, 303, 303)),
    ("GET", "/login", None, expect(200, 303, 303, 303, 303, 303, 303)),
    # Probes and the metrics scraper are not users: the same answer whoever asks (the test client is on loopback,
    # the one peer /metrics answers without DIT_METRICS_TOKEN; tests/test_health.py asks from elsewhere).
    ("GET", "/healthz", None, expect(200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/readyz", None, expect(200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/metrics", None, expect(200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/cases", None, expect(303, 200, 200, 200, 200, 200, 200)),
    ("GET", "/worklist", None, expect(303, 403, 403, 403, 403, 200, 200)),
    ("GET", "/classifier", None, expect(303, 403, 403, 403, 403, 200, 200)),
    ("GET", "/notifications", None, expect(303, 200, 200, 200, 200, 200, 200)),
    ("POST", "/recordings/{recording}/assignments/{username}/delete", "form", expect(401, 403, 404, 403, 404, 404, 404)),
    ("POST", "/notifications/read", "form", expect(401, 303, 303, 303, 303, 303, 303)),
    ("GET", "/notifications/{notification}", None, expect(303, 404, 404, 404, 404, 404, 404)),
    ("POST", "/account/email", "form", expect(401, 303, 303, 303, 303, 303, 303)),
    ("POST", "/cases", "case", expect(401, 303, 403, 403, 403, 303, 303)),
    ("GET", "/cases/{case}", None, expect(303, 200, 404, 200, 404, 200, 200)),
    ("POST", "/cases/{case}/ipaf", "form", expect(401, 400, 404, 400, 404, 400, 400)),
    ("POST", "/cases/{case}/sessions/{number}/recording", "file", expect(401, 303, 404, 403, 404, 403, 403)),
    ("GET", "/recordings/{recording}", None, expect(303, 200, 404, 200, 404, 200, 200)),
    ("POST", "/recordings/{recording}/retry", "form", expect(401, 409, 404, 403, 404, 409, 409)),
    ("POST", "/recordings/{recording}/delete", "form", expect(401, 403, 404, 403, 404, 400, 400)),
    ("POST", "/recordings/{recording}/consent-withdrawn", "form", expect(401, 400, 404, 403, 404, 400, 400)),
    ("POST", "/recordings/{recording}/assignments", "form", expect(401, 403, 404, 403, 404, 400, 400)),
    ("POST", "/recordings/{recording}/speakers/swap", "form", expect(401, 409, 404, 409, 404, 409, 409)),
    ("POST", "/recordings/{recording}/speakers", "form", expect(401, 400, 404, 400, 404, 400, 400)),
    ("POST", "/recordings/{recording}/adjudicator", "form", expect(401, 403, 404, 403, 404, 400, 400)),
    ("POST", "/recordings/{recording}/submit-for-assessment", "form", expect(401, 303, 404, 403, 404, 403, 403)),
    ("GET", "/queue", None, expect(303, 200, 200, 200, 200, 200, 200)),
    # The rating pages answer as the API they are built on: /ratings/mine, /ratings, /ratings/consensus.
    ("GET", "/recordings/{recording}/rate", None, expect(303, 403, 404, 200, 404, 403, 403)),
    ("GET", "/recordings/{recording}/ratings", None, expect(303, 200, 404, 200, 404, 200, 200)),
    ("GET", "/recordings/{recording}/adjudicate", None, expect(303, 403, 404, 403, 404, 409, 409)),
    ("GET", "/audit", None, expect(303, 403, 403, 403, 403, 200, 200)),
    ("GET", "/audit-log", None, expect(303, 403, 403, 403, 403, 403, 200)),
    ("GET", "/audit-log?recording={recording}", None, expect(303, 200, 404, 403, 404, 200, 200)),
    ("GET", "/audit-log.csv", None, expect(303, 403, 403, 403, 403, 403, 200)),
    ("GET", "/recordings/{recording}/calibration", None, expect(303, 403, 404, 403, 404, 200, 200)),
    ("POST", "/recordings/{recording}/calibration", "form", expect(401, 403, 404, 403, 404, 303, 303)),
    ("GET", "/trainees/{trainee}/progress", None, expect(303, 200, 404, 200, 404, 200, 200)),
    ("POST", "/trainees/{trainee}/supervision", "form", expect(401, 400, 404, 400, 404, 400, 400)),
    ("POST", "/trainees/{trainee}/training-record", "form", expect(401, 403, 404, 403, 404, 303, 303)),
    ("POST", "/trainees/{trainee}/supervision/{entry}/confirm", "form", expect(401, 403, 404, 404, 404, 404, 404)),
    ("GET", "/account", None, expect(303, 200, 200, 200, 200, 200, 200)),
    ("POST", "/account/password", "form", expect(401, 422, 422, 422, 422, 422, 422)),
    ("POST", "/account/sessions/{session}/revoke", "form", expect(401, 404, 404, 404, 404, 404, 404)),
    ("POST", "/account/tokens/{token}/revoke", "form", expect(401, 404, 404, 404, 404, 404, 404)),
    ("GET", "/account/mfa", None, expect(303, 200, 200, 200, 200, 200, 200)),
    ("POST", "/account/mfa", "form", expect(401, 422, 422, 422, 422, 422, 422)),
    ("POST", "/account/mfa/off", "form", expect(401, 303, 303, 303, 303, 303, 303)),
    ("GET", "/users", None, expect(303, 403, 403, 403, 403, 200, 200)),
    ("POST", "/users", "form", expect(401, 403, 403, 403, 403, 403, 400)),
    ("GET", "/users/{user}", None, expect(303, 403, 403, 403, 403, 200, 200)),
    # A lead saves accreditation and supervision; the admin's form also sends an empty name.
    ("POST", "/users/{user}", "form", expect(401, 403, 403, 403, 403, 303, 400)),
    ("POST", "/users/{user}/password-link", "form", expect(401, 403, 403, 403, 403, 403, 200)),
    ("POST", "/users/{user}/mfa-reset", "form", expect(401, 403, 403, 403, 403, 403, 303)),
    ("POST", "/users/{user}/deactivate", "form", expect(401, 403, 403, 403, 403, 403, 303)),
    ("POST", "/users/{user}/reactivate", "form", expect(401, 403, 403, 403, 403, 403, 303)),
]
# What the audit trail leaves out: nothing of a patient's or a person's is read or changed there.
UNAUDITED = {"/", "/login", "/healthz", "/readyz", "/metrics", "/api/openapi.json", "/api/scale"}


def outcome_of(status: int) -> AuditOutcome:
    if status in (401, 403, 404):
        return AuditOutcome.REFUSED
    return AuditOutcome.INVALID if status >= 400 else AuditOutcome.ALLOWED


async def audit_rows_after(event_id: int) -> list[AuditEvent]:
    return await AuditEvent.filter(id__gt=event_id).order_by("id")


async def last_event_id() -> int:
    last = await AuditEvent.all().order_by("-id").first()
    return last.id if last else 0


# Routes that need no row in the tables above, and why.
UNLISTED = {"/api/token": "the log-in itself", "/login": "listed as GET; POST is the log-in form",
            "/login/code": "the log-in's second step", "/logout": "only ends the caller's own session",
            "/password/{secret}": "reached with a one-time secret, not a role"}


def every_route(routes, prefix=""):
    """(method, full path) of every route, inside mounts too; static files are not routes of ours."""
    for route in routes:
        if isinstance(route, Mount):
            if route.name != "static":
                yield from every_route(route.routes, prefix + route.path)
            continue
        assert isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}:
            yield method, prefix + route.path


def test_every_route_is_in_the_matrix():
    from server.config import Settings
    from server.web.app import create_app

    app = create_app(Settings.from_env({"DIT_DATA_DIR": "/tmp/dit-route-listing"}))
    listed = {(m, re.sub(r"\{\w+\}", "{}", p)) for m, p, _, _ in API + PAGES}
    routes = list(every_route(app.routes))
    assert len(routes) > 50, "the walk must reach the routes inside mounts"
    for method, full_path in routes:
        path = re.sub(r"\{\w+(:\w+)?\}", "{}", full_path)
        assert (method, path) in listed or full_path in UNLISTED, f"{method} {full_path} is not in the matrix"


async def login_by_cookie(http, username: str) -> str:
    """Log in through the page; returns the CSRF token for forms."""
    page = await http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = await http.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.text
    account = await http.get("/account")  # open to every signed-in user, even one still to set up MFA
    return re.search(r'name="csrf-token" content="([^"]+)"', account.text).group(1)


@pytest.mark.slow
async def test_every_role_gets_the_right_answer_from_every_route(people, settings, app, media_files):
    import httpx

    owner = people["trainee"]
    case_id = await open_case(owner, "DIT-100")
    recording_id = (await upload(owner, case_id, 1, media_files["short"])).json()["id"]
    await run_queued_jobs(settings)
    assigned = await people["lead"].post(f"/api/recordings/{recording_id}/assignments", json={"supervisor": "supervisor"})
    assert assigned.status_code == 201
    draft = await people["supervisor"].request("PUT", f"/api/recordings/{recording_id}/ratings/mine", json={})
    leaver = await User.create(username="leaver", name="Lee Ver", role=Role.TRAINEE, password_hash="x")
    values = {"case": case_id, "recording": recording_id, "number": 2, "rating": draft.json()["id"],
              "trainee": owner.user.id, "table": "ratings", "user": leaver.id, "session": 999_999, "token": 999_999,
              "entry": 999_999, "notification": 999_999,
              "username": "nobody"}
    codes = iter(range(200, 400))

    async def call(client_request, method, template, body, headers=None, csrf=None):
        path = template.format(**values)
        kwargs = {"headers": headers or {}}
        if body == "case":
            code = f"DIT-{next(codes)}"
            kwargs["json" if csrf is None else "data"] = (
                {"code": code, "trainee": "trainee"} if csrf is None else {"code": code, "trainee": "trainee", "csrf_token": csrf}
            )
        elif body == "file":
            kwargs["files"] = {"file": ("s.wav", media_files["short"].read_bytes())}
            kwargs["data"] = CONSENT if csrf is None else {**CONSENT, "csrf_token": csrf}
        elif body == "json":
            kwargs["json"] = {}
        elif body == "assign":
            kwargs["json"] = {"supervisor": "nobody"}
        elif body == "form":
            kwargs["data"] = {"csrf_token": csrf or ""}
        return await client_request(method, path, **kwargs)

    failures = []

    async def check(kind, role, client_request, method, template, body, expected, csrf=None):
        before = await last_event_id()
        response = await call(client_request, method, template, body, csrf=csrf)
        where = f"{kind} {role} {method} {template}"
        if response.status_code != expected[role]:
            failures.append(f"{where}: {response.status_code} != {expected[role]}")
        # Every request that reads or changes a record leaves exactly one row on the audit trail, with
        # the right outcome, attributed to the caller; refusals included.
        rows = await audit_rows_after(before)
        if template in UNAUDITED:
            if rows:
                failures.append(f"{where}: audited, though nothing clinical is read")
        elif len(rows) != 1:
            failures.append(f"{where}: {len(rows)} audit rows, not 1")
        elif rows[0].outcome != outcome_of(401 if response.status_code == 303 and role == "anonymous"
                                           else response.status_code):
            failures.append(f"{where}: audited as {rows[0].outcome.value} after {response.status_code}")
        elif rows[0].username != ("" if role == "anonymous" else role):
            failures.append(f"{where}: audited as done by {rows[0].username!r}")

    for role in ROLES:
        client = people[role]
        for method, template, body, expected in API:
            await check("API", role, client.request, method, template, body, expected)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
            csrf = await login_by_cookie(browser, role) if role != "anonymous" else None
            for method, template, body, expected in PAGES:
                await check("page", role, browser.request, method, template, body, expected, csrf=csrf)
    assert not failures, "\n".join(failures)


async def test_lists_show_only_what_each_role_may_see(people):
    mine = await open_case(people["trainee"], "DIT-1")
    theirs = await open_case(people["other_trainee"], "DIT-2")
    seen = {}
    for role in ROLES[1:]:
        seen[role] = {c["id"] for c in (await people[role].get("/api/cases")).json()["cases"]}
    assert seen == {
        "trainee": {mine}, "other_trainee": {theirs}, "supervisor": {mine}, "other_supervisor": {theirs},
        "lead": {mine, theirs}, "admin": {mine, theirs},
    }


async def test_cookie_writes_need_the_csrf_token(people, app):
    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
        csrf = await login_by_cookie(browser, "trainee")
        no_token = await browser.post("/cases", data={"code": "DIT-5"})
        assert no_token.status_code == 403 and "expired" in no_token.text
        api_no_header = await browser.post("/api/cases", json={"code": "DIT-5"})
        assert api_no_header.status_code == 403 and "X-CSRF-Token" in api_no_header.json()["error"]
        api_with_header = await browser.post("/api/cases", json={"code": "DIT-5"}, headers={"X-CSRF-Token": csrf})
        assert api_with_header.status_code == 201
        logout_without = await browser.post("/logout")
        assert logout_without.status_code == 403


# Access that comes only from being assigned to rate the tape ('rater': other_supervisor, who does not
# supervise the trainee) or from being named to adjudicate it ('adjudicator': a senior supervisor who
# neither supervises nor rates): the recording and what rating or adjudicating it needs, never the case.
BY_ASSIGNMENT = [
    ("GET", "/api/recordings/{recording}", None, 200, 200),
    ("GET", "/api/recordings/{recording}/transcript", None, 200, 200),
    ("GET", "/api/recordings/{recording}/media", None, 200, 200),
    ("GET", "/api/recordings/{recording}/ratings", None, 200, 200),
    ("GET", "/api/recordings/{recording}/ratings/mine", None, 200, 404),
    ("PUT", "/api/recordings/{recording}/ratings/mine", "json", 200, 404),
    ("GET", "/api/recordings/{recording}/ratings/consensus", None, 403, 409),
    ("GET", "/api/recordings/{recording}/suggestion", None, 409, 403),
    ("POST", "/api/recordings/{recording}/speakers/swap", None, 409, 409),
    ("POST", "/api/recordings/{recording}/speakers", "json", 400, 400),
    ("GET", "/api/recordings/{recording}/transcript/edits", None, 200, 200),
    ("POST", "/api/recordings/{recording}/transcript/edits", "json", 400, 400),
    ("GET", "/api/cases/{case}", None, 404, 404),
    ("GET", "/api/trainees/{trainee}/progress", None, 404, 404),
    ("GET", "/recordings/{recording}", "page", 200, 200),
    ("GET", "/recordings/{recording}/rate", "page", 200, 404),
    ("GET", "/recordings/{recording}/ratings", "page", 200, 200),
    ("GET", "/recordings/{recording}/adjudicate", "page", 403, 409),
    ("GET", "/cases/{case}", "page", 404, 404),
]


@pytest.mark.slow
@pytest.mark.settings(double_rating_share=0.0)
async def test_access_that_comes_from_an_assignment_or_adjudication_alone(people, settings, app, http, media_files,
                                                                          password_hash):
    import httpx

    from tests.conftest import Client, bearer_token

    owner = people["trainee"]
    case_id = await open_case(owner, "DIT-300")
    recording_id = (await upload(owner, case_id, 1, media_files["short"])).json()["id"]
    await run_queued_jobs(settings)
    senior = await User.create(username="senior", name="Senior Supervisor", role=Role.SUPERVISOR,
                               password_hash=password_hash, accredited=True,
                               accredited_on=people["supervisor"].user.accredited_on)
    token = await bearer_token(senior)
    clients = {"rater": people["other_supervisor"], "adjudicator": Client(http, senior, token)}
    values = {"case": case_id, "recording": recording_id, "trainee": owner.user.id}

    for client in clients.values():  # before the lead gives them the tape, they cannot see it
        assert (await client.get(f"/api/recordings/{recording_id}")).status_code == 404
    lead = people["lead"]
    assert (await lead.post(f"/api/recordings/{recording_id}/assignments",
                            json={"supervisor": "other_supervisor"})).status_code == 201
    assert (await lead.post(f"/api/recordings/{recording_id}/adjudicator",
                            json={"supervisor": "senior"})).status_code == 200

    failures = []
    for who, client in clients.items():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
            await login_by_cookie(browser, client.user.username)
            for method, template, body, as_rater, as_adjudicator in BY_ASSIGNMENT:
                expected = as_rater if who == "rater" else as_adjudicator
                path = template.format(**values)
                kwargs = {"json": {}} if body == "json" else {}
                send = browser.request if body == "page" else client.request
                response = await send(method, path, **kwargs)
                if response.status_code != expected:
                    failures.append(f"{who} {method} {template}: {response.status_code} != {expected}")
    assert not failures, "\n".join(failures)
