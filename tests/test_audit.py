"""The course lead's rater-agreement audit through the real app and database: ratings made by several
supervisors through the API, one of them systematically lenient; the agreement API (the same figures as
`dit agreement` on the exported ratings), its filters and refusals, the CSV tables, the audit page and
its pictures, calibration tapes, and the automatic second rater for blind double rating."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from rating.scale import load_scale
from server.cli import main as dit
from server.models import Assignment, Rating, Role, User
from server.services.agreement import TABLES
from server.services.assignments import chosen_for_double_rating
from tests.conftest import Client, bearer_token, open_case, upload
from tests.test_access import login_by_cookie

SCALE = load_scale()
LENIENT = "dev"
HONEST = ["supervisor", "other_supervisor", "cara"]
# (case owner, session number) of each recording: two initial, four middle, two ending.
SESSIONS = [("trainee", 2), ("trainee", 6), ("trainee", 9), ("trainee", 14),
            ("other_trainee", 3), ("other_trainee", 7), ("other_trainee", 10), ("other_trainee", 15)]
SCALE_PHASES = {n: "initial" if n <= 4 else "middle" if n <= 12 else "ending" for n in range(1, 17)}


async def add_supervisor(http, password_hash: str, username: str, name: str, *,
                         accredited_on: date | None = None, accredited: bool = True) -> Client:
    user = await User.create(username=username, name=name, role=Role.SUPERVISOR, password_hash=password_hash,
                             accredited=accredited, accredited_on=accredited_on or date.today() - timedelta(days=10))
    token = await bearer_token(user)
    return Client(http, user, token)


async def recordings(people, media_files, sessions=SESSIONS) -> list[int]:
    """Recordings of the short clip in each (trainee, session); the trainees are in two cohorts. They are
    left untranscribed: rating needs no transcript, and the audit reads only the ratings."""
    await User.filter(username="trainee").update(cohort="2026 spring")
    await User.filter(username="other_trainee").update(cohort="2026 autumn")
    cases = {}
    ids = []
    for owner, number in sessions:
        if owner not in cases:
            cases[owner] = await open_case(people[owner], f"AUD-{owner.upper()[:5]}-{len(cases)}")
        response = await upload(people[owner], cases[owner], number, media_files["short"])
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def scores_for(k: int, rater: str, phase: str) -> dict[str, int]:
    """Recording k's quality 1-3, plus -1, 0 or +1 on each item by a fixed pattern; the lenient rater
    adds two points."""
    quality = 1 + k % 3
    index = (HONEST + [LENIENT]).index(rater)
    lift = 2 if rater == LENIENT else 0
    return {item.id: min(6, max(0, quality + lift + (k * 7 + i * 3 + index * 5) % 3 - 1))
            for i, item in enumerate(SCALE.items_for(phase))}


async def rate(client: Client, recording_id: int, scores: dict) -> None:
    saved = await client.request("PUT", f"/api/recordings/{recording_id}/ratings/mine", json={"scores": scores})
    assert saved.status_code == 200, saved.text
    submitted = await client.post(f"/api/recordings/{recording_id}/ratings/mine/submit")
    assert submitted.status_code == 200, submitted.text


@pytest.fixture
async def raters(people, http, password_hash) -> dict[str, Client]:
    return {
        "supervisor": people["supervisor"],
        "other_supervisor": people["other_supervisor"],
        "cara": await add_supervisor(http, password_hash, "cara", "Cara Third"),
        LENIENT: await add_supervisor(http, password_hash, LENIENT, "Dev Fourth"),
    }


@pytest.fixture
async def rated(people, raters, media_files) -> list[int]:
    """Eight recordings: the first six rated by all four raters, the last two by 'cara' and
    'other_supervisor' only. The first two recordings' ratings were submitted 400 days ago."""
    ids = await recordings(people, media_files)
    for k, (recording_id, (_, number)) in enumerate(zip(ids, SESSIONS)):
        phase = SCALE_PHASES[number]
        who = [*HONEST, LENIENT] if k < 6 else ["cara", "other_supervisor"]
        for username in who:
            assigned = await people["lead"].post(f"/api/recordings/{recording_id}/assignments",
                                                 json={"supervisor": username})
            assert assigned.status_code == 201, assigned.text
            assert assigned.json()["second_rater"] is None  # double_rating_share=0 in these tests
        for username in who:
            await rate(raters[username], recording_id, scores_for(k, username, phase))
    long_ago = datetime.now(UTC) - timedelta(days=400)
    await Rating.filter(recording_id__in=ids[:2]).update(submitted_at=long_ago)
    return ids


def assert_same_figures(ours, theirs, path="report"):
    """Every key of `dit agreement`'s report is in ours, with the same value (numbers to rounding)."""
    if isinstance(theirs, dict):
        for key, value in theirs.items():
            assert key in ours, f"{path}.{key} is missing"
            assert_same_figures(ours[key], value, f"{path}.{key}")
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same_figures(a, b, f"{path}[{i}]")
    elif isinstance(theirs, float):
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12), path
    else:
        assert ours == theirs, path


@pytest.mark.settings(double_rating_share=0.0, rater_bias_band=1.0)
async def test_agreement_is_dit_agreement_of_the_exported_ratings_and_flags_the_lenient_rater(
        people, rated, tmp_path, capsys):
    lead = people["lead"]
    response = await lead.get("/api/agreement?bootstrap=200")
    assert response.status_code == 200, response.text
    ours = response.json()

    # `dit agreement` on the export's individual ratings gives the same figures.
    exported = list(csv.DictReader(io.StringIO((await lead.get("/api/ratings/export?format=csv")).text)))
    ratings_csv = tmp_path / "ratings.csv"
    with ratings_csv.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(exported[0]))
        writer.writeheader()
        writer.writerows(row for row in exported if row["kind"] == "individual")
    capsys.readouterr()
    assert dit(["agreement", str(ratings_csv), "--bootstrap", "200"]) == 0
    theirs = json.loads(capsys.readouterr().out)
    assert_same_figures(ours, theirs)
    for form in ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"):
        assert ours[form]["value"] is not None and len(ours[form]["ci95"]) == 2
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert ours[f"alpha_{level}"]["value"] is not None
    assert (ours["n_recordings"], ours["n_raters"]) == (8, 4)
    assert set(ours["items"]) == {item.id for item in SCALE.items}
    assert ours["message"] is None
    assert ours["filters"] == {"cohort": None, "from": None, "to": None, "phase": None, "level": "interval"}

    # The rater panel: 'dev' is lenient by about two points and flagged; the others are within the band.
    panel = {row["rater"]: row for row in ours["raters"]}
    assert ours["rater_bias_band"] == 1.0
    assert panel[LENIENT]["direction"] == "lenient" and panel[LENIENT]["flagged"] is True
    assert panel[LENIENT]["mean_difference"] == pytest.approx(2.0, abs=0.5)
    assert "lenient" in panel[LENIENT]["flag"] and panel[LENIENT]["name"] == "Dev Fourth"
    for username in HONEST:
        assert panel[username]["flagged"] is False and panel[username]["direction"] != "lenient", panel[username]
    pairs = {(p["rater_a"], p["rater_b"]): p for p in ours["pairs"]}
    assert len(pairs) == 6 and pairs[("dev", "supervisor")]["n_recordings"] == 6
    assert pairs[("cara", "other_supervisor")]["n_recordings"] == 8

    # Filters: phase, period and cohort each change what is counted; they are echoed.
    async def n_recordings(query: str) -> int:
        answer = await lead.get(f"/api/agreement?bootstrap=0&{query}")
        assert answer.status_code == 200, answer.text
        return answer.json()["n_recordings"]

    assert await n_recordings("phase=middle") == 4
    assert await n_recordings("phase=ending") == 2
    recent = (date.today() - timedelta(days=30)).isoformat()
    assert await n_recordings(f"from={recent}") == 6
    assert await n_recordings(f"to={recent}") == 2
    assert await n_recordings("cohort=2026+spring") == 4
    query = f"bootstrap=0&cohort=2026+autumn&from={recent}&phase=middle&level=ordinal"
    echoed = (await lead.get(f"/api/agreement?{query}")).json()
    assert echoed["filters"] == {"cohort": "2026 autumn", "from": recent, "to": None, "phase": "middle",
                                 "level": "ordinal"}
    assert echoed["alpha"]["level"] == "ordinal" and echoed["n_recordings"] == 2

    # Only course leads and admins.
    assert (await people["admin"].get("/api/agreement?bootstrap=0")).status_code == 200
    for role in ("trainee", "other_trainee", "supervisor", "other_supervisor"):
        assert (await people[role].get("/api/agreement")).status_code == 403, role
    assert (await people["anonymous"].get("/api/agreement")).status_code == 401

    # Every table as CSV, with its header, for the same filters; the ratings table is the filtered ratings.
    for name, (_, columns) in TABLES.items():
        table = await lead.get(f"/api/agreement/tables/{name}.csv?bootstrap=50")
        assert table.status_code == 200, (name, table.text)
        assert table.headers["content-type"].startswith("text/csv")
        assert f'filename="dit-agreement-{name}.csv"' in table.headers["content-disposition"]
        assert table.text.splitlines()[0] == ",".join(columns), name
    middle = list(csv.DictReader(io.StringIO((await lead.get("/api/agreement/tables/ratings.csv?phase=middle")).text)))
    assert {row["phase"] for row in middle} == {"middle"} and len({row["recording"] for row in middle}) == 4
    assert len(middle) == 11 * (4 + 4 + 4 + 2)  # eleven middle items; 4, 4, 4 and 2 raters
    raters_csv = list(csv.DictReader(io.StringIO((await lead.get("/api/agreement/tables/raters.csv")).text)))
    assert {row["rater"]: row["flagged"] for row in raters_csv}[LENIENT] == "True"
    by_phase = (await lead.get("/api/agreement/tables/by-phase.csv?bootstrap=0")).text
    by_phase = list(csv.DictReader(io.StringIO(by_phase)))
    assert {row["phase"] for row in by_phase} == {"initial", "middle", "ending"}
    assert (await lead.get("/api/agreement/tables/secrets.csv")).status_code == 404
    assert (await people["supervisor"].get("/api/agreement/tables/ratings.csv")).status_code == 403


@pytest.mark.settings(double_rating_share=0.0, rater_bias_band=1.0)
async def test_the_audit_page_shows_the_tables_and_three_pictures(app, people, rated):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
        await login_by_cookie(browser, "lead")
        page = await browser.get("/audit")
        assert page.status_code == 200, page.text
        html = page.text
        assert "<caption>Intraclass correlation" in html and "Krippendorff" in html
        assert re.search(r'<tr class="row-total">', html) and html.count('<tr class="row-phase">') == 3
        assert 'data-item="ipaf-focus"' in html and 'data-item="goodbye-letter"' in html
        assert re.search(r'<tr class="flagged" data-rater="dev">', html)
        assert 'class="direction direction-lenient"' in html
        titles = re.findall(r"<title id=\"(\w+)-title\">([^<]+)</title>", html)
        assert [key for key, _ in titles] == ["heatmap", "ba", "drift"]
        assert titles[0][1].startswith("Heatmap of pairwise agreement between raters")
        assert titles[1][1].startswith("Bland–Altman plot of")
        assert titles[2][1].startswith("Drift of each rater over time")
        assert html.count('class="cell-link"') == 12  # four raters, every pair in both halves
        for name in TABLES:
            assert f'href="/api/agreement/tables/{name}.csv"' in html

        # Two raters chosen for Bland-Altman: the lenient one scores higher on each of their 6 recordings.
        chosen = (await browser.get("/audit?a=dev&b=supervisor")).text
        assert "Bland–Altman plot of Dev Fourth against Supervisor" in chosen
        assert chosen.count('<circle class="point" cx=') >= 6
        assert re.search(r"On 6 shared recordings, Dev Fourth scores [\d.]+ points higher than Supervisor", chosen)

        # Filters narrow the page and are kept in the export links.
        middle = (await browser.get("/audit?phase=middle&cohort=2026+spring")).text
        # Two spring tapes of the middle phase are too few to show coefficients for: the page says what it needs.
        assert '<tr class="row-phase">' not in middle and 'data-item="goodbye-letter"' not in middle
        assert "it needs at least 5 tapes rated by two raters" in middle
        assert 'href="/api/agreement/tables/ratings.csv?cohort=2026+spring&amp;phase=middle"' in middle
        bad = await browser.get("/audit?from=yesterday")
        assert bad.status_code == 200 and "must be a date" in bad.text

    for role in ("trainee", "supervisor", "other_supervisor"):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as other:
            await login_by_cookie(other, role)
            assert (await other.get("/audit")).status_code == 403
    assert (await people["anonymous"].get("/audit")).status_code == 303


async def test_too_few_ratings_and_bad_filters_get_clear_answers(app, people, raters, media_files):
    lead = people["lead"]
    empty = await lead.get("/api/agreement")
    assert empty.status_code == 200, empty.text
    body = empty.json()
    assert body["ICC1"]["value"] is None and body["alpha"]["value"] is None and body["n_recordings"] == 0
    assert "No submitted ratings" in body["message"] and body["raters"] == [] and body["items"] == {}
    for name, (_, columns) in TABLES.items():
        table = await lead.get(f"/api/agreement/tables/{name}.csv")
        assert table.status_code == 200 and table.text == ",".join(columns) + "\n", name

    # One recording rated twice: still too few for agreement, said plainly, and no 500.
    [recording_id] = await recordings(people, media_files, [("trainee", 6)])
    for username in ("supervisor", "cara"):
        await lead.post(f"/api/recordings/{recording_id}/assignments", json={"supervisor": username})
        await rate(raters[username], recording_id, scores_for(0, username, "middle"))
    one = (await lead.get("/api/agreement")).json()
    assert one["n_recordings"] == 1 and one["ICC1"]["value"] is None
    assert one["message"].startswith("Too few ratings to measure agreement: it needs at least 5 tapes rated by two "
                                      "raters or more, and 1 of the 1 tape matching these filters is.")
    # Neither rater is flagged on one shared tape.
    assert not any(r["flagged"] for r in one["raters"]) and {r["direction"] for r in one["raters"]} <= {
        "within band", "too few tapes"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
        await login_by_cookie(browser, "admin")
        page = await browser.get("/audit")
        assert page.status_code == 200 and "Too few ratings to measure agreement" in page.text
        assert "DIT_" not in page.text and "0.00 to 0.00" not in page.text

    for query, words in [("from=2026-13-01", "'from' must be a date"), ("to=soon", "'to' must be a date"),
                         ("phase=late", "'phase' is one of initial, middle, ending"),
                         ("level=loud", "'level' is one of nominal"), ("from=2026-02-01&to=2026-01-01", "is after"),
                         ("bootstrap=many", "'bootstrap'")]:
        answer = await lead.get(f"/api/agreement?{query}")
        assert answer.status_code == 400 and words in answer.json()["error"], (query, answer.text)
        assert (await lead.get(f"/api/agreement/tables/pairs.csv?{query}")).status_code == 400


@pytest.mark.settings(double_rating_share=0.0)
async def test_calibration_assigns_every_current_supervisor_and_checks_reference_scores(
        app, people, http, password_hash, media_files):
    lead = people["lead"]
    cara = await add_supervisor(http, password_hash, "cara", "Cara Third")
    await add_supervisor(http, password_hash, "old", "Olive Lapsed",
                         accredited_on=date.today() - timedelta(days=4 * 366))
    await add_supervisor(http, password_hash, "never", "Nev Unaccredited", accredited=False)
    [recording_id, ordinary] = await recordings(people, media_files, [("trainee", 6), ("trainee", 7)])
    await lead.post(f"/api/recordings/{recording_id}/assignments", json={"supervisor": "supervisor"})
    middle = [item.id for item in SCALE.items_for("middle")]

    bad = await lead.post(f"/api/recordings/{recording_id}/calibration",
                          json={"reference_scores": {middle[0]: 9, "goodbye-letter": 3, "charm": 1, middle[1]: "4"}})
    assert bad.status_code == 422, bad.text
    errors = bad.json()["errors"]
    assert errors[middle[0]] == f"Score 9 for '{middle[0]}' is outside 0-6."
    assert "ending phase" in errors["goodbye-letter"] and "not an item" in errors["charm"]
    assert "whole number" in errors[middle[1]]
    assert not await Assignment.filter(recording_id=recording_id, supervisor__username="cara").exists()

    for role, status in [("anonymous", 401), ("trainee", 403), ("other_trainee", 404), ("supervisor", 403),
                         ("other_supervisor", 404)]:
        assert (await people[role].post(f"/api/recordings/{recording_id}/calibration", json={})).status_code == status

    reference = {item: 4 for item in middle}
    marked = await lead.post(f"/api/recordings/{recording_id}/calibration", json={"reference_scores": reference})
    assert marked.status_code == 200, marked.text
    assert marked.json()["assigned"] == ["cara", "other_supervisor"]  # not the lapsed, the unaccredited, nor twice
    assert marked.json()["raters"] == ["supervisor", "cara", "other_supervisor"]
    assert marked.json()["reference_scores"] == reference and marked.json()["is_calibration"] is True
    again = await people["admin"].post(f"/api/recordings/{recording_id}/calibration", json={})
    assert again.json()["assigned"] == [] and again.json()["reference_scores"] == reference  # kept when not sent

    # Blind until every rater is in; then the audit compares each rater with the reference.
    await rate(cara, recording_id, {item: 5 for item in middle})
    cara_view = (await cara.get(f"/api/recordings/{recording_id}/ratings")).json()
    assert [r["rater"] for r in cara_view["ratings"]] == ["Rater 1"]
    sid_view = (await people["other_supervisor"].get(f"/api/recordings/{recording_id}/ratings")).json()
    assert sid_view["ratings"] == [] and sid_view["all_submitted"] is False
    await rate(people["supervisor"], recording_id, {item: 4 for item in middle})
    await rate(people["other_supervisor"], recording_id, {item: 3 for item in middle})
    panel = {row["rater"]: row for row in (await lead.get("/api/agreement?bootstrap=0")).json()["raters"]}
    assert panel["cara"]["n_reference_recordings"] == 1 and panel["cara"]["reference_mean_difference"] == 1.0
    assert panel["supervisor"]["reference_mean_difference"] == 0.0
    assert panel["cara"]["flagged"] and "lenient against the reference" in panel["cara"]["flag"]

    # The page: a lead marks the other recording with reference scores typed per item; errors beside the item.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
        csrf = await login_by_cookie(browser, "lead")
        page = await browser.get(f"/recordings/{ordinary}/calibration")
        assert page.status_code == 200 and 'name="score-ipaf-focus"' in page.text
        assert 'name="score-goodbye-letter"' not in page.text
        wrong = await browser.post(f"/recordings/{ordinary}/calibration",
                                   data={"csrf_token": csrf, "score-ipaf-focus": "8", "score-alliance": "x"})
        assert wrong.status_code == 422
        assert "Score 8 for &#39;ipaf-focus&#39; is outside 0-6." in wrong.text and 'aria-invalid="true"' in wrong.text
        no_token = await browser.post(f"/recordings/{ordinary}/calibration", data={"score-ipaf-focus": "3"})
        assert no_token.status_code == 403
        done = await browser.post(f"/recordings/{ordinary}/calibration",
                                  data={"csrf_token": csrf, "score-ipaf-focus": "3", "score-alliance": ""})
        assert done.status_code == 303 and done.headers["location"] == f"/recordings/{ordinary}/calibration?assigned=3"
        shown = await browser.get(done.headers["location"])
        assert "3 supervisors newly assigned" in shown.text and 'value="3"' in shown.text
    raters = await Assignment.filter(recording_id=ordinary).values_list("supervisor__username", flat=True)
    assert sorted(raters) == ["cara", "other_supervisor", "supervisor"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
        await login_by_cookie(browser, "supervisor")
        assert (await browser.get(f"/recordings/{ordinary}/calibration")).status_code == 403


def test_the_share_of_double_rated_tapes_is_reproducible():
    ids = range(1, 201)
    assert all(chosen_for_double_rating(i, 1.0) for i in ids)
    assert not any(chosen_for_double_rating(i, 0.0) for i in ids)
    chosen = [i for i in ids if chosen_for_double_rating(i, 0.2)]
    assert 0.14 <= len(chosen) / 200 <= 0.26
    assert chosen == [i for i in ids if chosen_for_double_rating(i, 0.2)]  # the same every time
    assert set(chosen) <= {i for i in ids if chosen_for_double_rating(i, 0.5)}  # a larger share adds tapes


@pytest.mark.settings(double_rating_share=1.0)
async def test_a_first_assignment_adds_a_second_rater_with_the_fewest_open_assignments(
        app, people, http, password_hash, media_files):
    lead = people["lead"]
    await add_supervisor(http, password_hash, "cara", "Cara Third")
    first, second, third, calibration = await recordings(
        people, media_files, [("trainee", 5), ("trainee", 6), ("trainee", 7), ("trainee", 8)])

    # Both candidates have no open assignment: the tie goes to the first username.
    response = await lead.post(f"/api/recordings/{first}/assignments", json={"supervisor": "supervisor"})
    assert response.status_code == 201 and response.json()["second_rater"] == "cara"
    # A second assignment by hand adds nobody more.
    more = await lead.post(f"/api/recordings/{first}/assignments", json={"supervisor": "other_supervisor"})
    assert more.json()["second_rater"] is None
    assert await Assignment.filter(recording_id=first).count() == 3

    # Cara now has an open assignment and other_supervisor one too: the next goes by username again...
    response = await lead.post(f"/api/recordings/{second}/assignments", json={"supervisor": "supervisor"})
    assert response.json()["second_rater"] == "cara"
    # ...and now other_supervisor has the fewest open assignments.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
        csrf = await login_by_cookie(browser, "lead")
        page = await browser.post(f"/recordings/{third}/assignments", data={"csrf_token": csrf, "supervisor": "cara"})
        assert page.status_code == 303
    assert sorted(await Assignment.filter(recording_id=third).values_list("supervisor__username", flat=True)) == [
        "cara", "other_supervisor"]

    # A calibration tape gets every supervisor instead, never an automatic second rater.
    await lead.post(f"/api/recordings/{calibration}/calibration", json={})
    assert await Assignment.filter(recording_id=calibration).count() == 3


@pytest.mark.settings(double_rating_share=0.0)
async def test_no_second_rater_when_the_share_is_zero(people, media_files):
    [recording_id] = await recordings(people, media_files, [("trainee", 5)])
    response = await people["lead"].post(f"/api/recordings/{recording_id}/assignments",
                                         json={"supervisor": "supervisor"})
    assert response.status_code == 201 and response.json() | {"warning": None} == {
        "recording": recording_id, "supervisor": "supervisor", "second_rater": None, "warning": None}
    assert await Assignment.filter(recording_id=recording_id).count() == 1
