"""The agreement audit in a real browser, against the real service: a course lead opens the audit after
four supervisors (one of them lenient) have rated tapes through the API over four quarters, narrows it to
one phase, compares two raters in the Bland-Altman plot, and the page is photographed."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from tests.browser import ARTIFACTS, launch, log_in
from tests.conftest import CONSENT

PASSWORD = "a long enough password"
# username, full name, role
ACCOUNTS = [("sid", "Sid Second", "supervisor"), ("cara", "Cara Third", "supervisor"),
            ("dev", "Dev Fourth", "supervisor"), ("tom", "Tom Trainee", "trainee")]
RATERS = ["supervisor", "sid", "cara", "dev"]
# (trainee, session) of each recording, across the three phases.
SESSIONS = [("trainee", 2), ("trainee", 6), ("trainee", 9), ("trainee", 14), ("tom", 3), ("tom", 7),
            ("tom", 10), ("tom", 15), ("trainee", 11), ("tom", 12)]


def dit(data_dir, *args: str, stdin: str = "") -> None:
    env = {**os.environ, "DIT_DATA_DIR": str(data_dir)}
    env.pop("DIT_DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "server.cli", *args], env=env, input=stdin, text=True, check=True,
                   capture_output=True)


def short_clip(path) -> str:
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                    "-ar", "16000", str(path)], check=True)
    return str(path)


def phase_of(number: int) -> str:
    return "initial" if number <= 4 else "middle" if number <= 12 else "ending"


@pytest.mark.slow
@pytest.mark.browser
def test_a_course_lead_reads_the_agreement_audit_in_chromium(service, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, logins = service
    data_dir = tmp_path / "data"
    for username, name, role in ACCOUNTS:
        extra = (["--accredited", "--accredited-on", date.today().isoformat()] if role == "supervisor"
                 else ["--supervisor", "supervisor"])
        dit(data_dir, "users", "add", "--role", role, "--name", username, "--full-name", name, *extra,
            stdin=f"{PASSWORD}\n{PASSWORD}\n")
        logins[username] = PASSWORD
    with sqlite3.connect(data_dir / "dit.sqlite3") as db:  # cohorts have no command yet
        db.execute("UPDATE user SET cohort = '2026 spring' WHERE username = 'trainee'")
        db.execute("UPDATE user SET cohort = '2026 autumn' WHERE username = 'tom'")

    def api(username: str) -> httpx.Client:
        login = {"username": username, "password": logins[username]}
        token = httpx.post(f"{url}/api/token", json=login).json()["token"]
        return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    clients = {username: api(username) for username in ["lead", "trainee", "tom", *RATERS]}
    clip = short_clip(tmp_path / "short.wav")
    cases = {"trainee": clients["trainee"].get("/api/cases").json()["cases"][0]["id"],
             "tom": clients["tom"].post("/api/cases", json={"code": "TOM-001"}).json()["id"]}
    items = {phase: [i["id"] for i in clients["lead"].get(f"/api/scale?phase={phase}").json()["items"]]
             for phase in ("initial", "middle", "ending")}
    recordings = []
    for k, (owner, number) in enumerate(SESSIONS):
        with open(clip, "rb") as fh:
            response = clients[owner].post(f"/api/cases/{cases[owner]}/sessions/{number}/recording",
                                           data=CONSENT, files={"file": ("short.wav", fh)})
        assert response.status_code == 201, response.text
        recording_id = response.json()["id"]
        recordings.append(recording_id)
        who = RATERS if k % 3 != 2 else ["sid", "cara", "dev"]
        for username in who:
            assigned = clients["lead"].post(f"/api/recordings/{recording_id}/assignments",
                                            json={"supervisor": username})
            # The service may have added one of them already as the automatic second rater.
            assert assigned.status_code in (201, 409), assigned.text
        for r, username in enumerate(who):
            quality = 2 + k % 3
            lift = 2 if username == "dev" else 0
            scores = {item: min(6, max(0, quality + lift + (k * 7 + i * 3 + r * 5) % 3 - 1))
                      for i, item in enumerate(items[phase_of(number)])}
            rater = clients[username]
            assert rater.put(f"/api/recordings/{recording_id}/ratings/mine", json={"scores": scores}).status_code == 200
            assert rater.post(f"/api/recordings/{recording_id}/ratings/mine/submit").status_code == 200
    # Spread the ratings over four quarters, as an audit after a year would find them.
    with sqlite3.connect(data_dir / "dit.sqlite3") as db:
        for k, recording_id in enumerate(recordings):
            when = datetime.now(UTC) - timedelta(days=91 * (3 - k * 4 // len(recordings)))
            db.execute("UPDATE rating SET submitted_at = ? WHERE recording_id = ?", (str(when), recording_id))

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        script_errors = []
        context.on("weberror", lambda error: script_errors.append(str(error.error)))
        page = context.new_page()
        log_in(page, url, "lead", logins["lead"])
        page.goto(url + "/audit")
        expect(page.locator("h1")).to_have_text("Rater agreement audit")
        expect(page.locator("#heatmap-title")).to_have_text(re.compile("Heatmap of pairwise agreement"))
        lenient = page.locator('.rater-panel tr[data-rater="dev"]')
        expect(lenient).to_have_class(re.compile(r"\bflagged\b"))
        expect(lenient.locator(".direction")).to_have_text("lenient")
        all_recordings = page.locator(".tile").nth(2).locator(".tile-value").inner_text()
        assert all_recordings == str(len(SESSIONS))

        # Narrow to the middle phase: fewer recordings, one phase row.
        page.select_option("select[name=phase]", "middle")
        page.click(".audit-filters button:has-text('Apply')")
        page.wait_for_url(re.compile(r"phase=middle"))
        expect(page.locator(".agreement-table tr.row-phase")).to_have_count(1)
        assert int(page.locator(".tile").nth(2).locator(".tile-value").inner_text()) < len(SESSIONS)
        expect(page.locator("select[name=phase]")).to_have_value("middle")

        # Back to every phase, then compare the lenient rater with another in the Bland-Altman plot.
        page.select_option("select[name=phase]", "")
        page.click(".audit-filters button:has-text('Apply')")
        page.wait_for_load_state()
        page.select_option("#ba-a", "dev")
        page.select_option("#ba-b", "supervisor")
        page.click(".ba-form button:has-text('Compare')")
        page.wait_for_url(re.compile(r"a=dev&b=supervisor"))
        expect(page.locator("#ba-title")).to_have_text("Bland–Altman plot of Dev Fourth against Sam Supervisor")
        expect(page.locator(".ba-summary")).to_contain_text("Dev Fourth scores")
        assert page.locator("svg.bland-altman circle.point").count() >= 5

        # The charts' marks explain themselves on hover.
        page.locator("svg.bland-altman circle.point").first.hover()
        expect(page.locator(".chart-tip")).to_be_visible()
        expect(page.locator(".chart-tip")).to_contain_text("Recording")
        expect(page.locator("svg.drift .panel")).to_have_count(len(RATERS))
        page.mouse.move(0, 0)
        page.screenshot(path=str(ARTIFACTS / "audit-page.png"), full_page=True)

        # A heatmap cell opens that pair's Bland-Altman plot.
        page.locator("svg.heatmap a.cell-link").first.click()
        page.wait_for_url(re.compile(r"#bland-altman$"))
        expect(page.locator("#ba-title")).to_contain_text("Bland–Altman plot of")

        # A calibration tape with reference scores, from its own page.
        page.goto(f"{url}/recordings/{recordings[-1]}/calibration")
        page.fill("input[name=score-ipaf-focus]", "9")
        page.click("button:has-text('Mark as calibration tape')")
        expect(page.locator("#error-ipaf-focus")).to_contain_text("outside 0-6")
        page.fill("input[name=score-ipaf-focus]", "4")
        page.fill("input[name=score-alliance]", "5")
        page.click("button:has-text('Mark as calibration tape')")
        expect(page.locator(".notice")).to_contain_text("Marked as a calibration tape")
        expect(page.locator("input[name=score-alliance]")).to_have_value("5")
        page.screenshot(path=str(ARTIFACTS / "audit-calibration.png"), full_page=True)
        assert not script_errors, script_errors
        browser.close()
