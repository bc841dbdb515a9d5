"""The Content-Security-Policy in a real browser, against the real service: every page keeps to it (no
violation reported, no console error) and its scripts still run under it."""

from __future__ import annotations

import re

import pytest

from tests.browser import accept_confirmations, launch, log_in
from tests.test_player_browser import PLAYER, api, upload_and_transcribe, watch
from tests.test_rating_browser import add_second_supervisor

# Reports each violation to the test as it happens, before any script of the page runs (the browser runs
# this script whatever the policy says).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => window.cspViolation(
  `${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber}) ${e.sample}`));
"""
POLICY_WORDS = ("Content Security Policy", "Permissions-Policy", "Permissions policy")


def guarded(browser, problems: list[str], **options):
    """A browser context whose pages report CSP violations, policy warnings, console errors and uncaught
    exceptions into `problems`."""
    context = browser.new_context(**options)
    context.expose_binding("cspViolation", lambda source, text: problems.append(f"{source['page'].url}: {text}"))
    context.add_init_script(REPORT_VIOLATIONS)

    def on_page(page) -> None:
        watch(page, problems)
        page.on("console", lambda message: problems.append(f"{page.url}: {message.text}")
                if message.type == "warning" and any(word in message.text for word in POLICY_WORDS) else None)

    context.on("page", on_page)
    return context


@pytest.mark.slow
@pytest.mark.browser
# The page shows the on-model suggestion: the classifier is trained in the background from the start.
@pytest.mark.service_env(DIT_WARM_CLASSIFIER="1")
def test_every_page_keeps_to_the_content_security_policy_and_its_scripts_run(service, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, logins = service
    logins["sid"] = "a long enough password"
    add_second_supervisor(tmp_path / "data", logins["sid"])
    trainee, lead = api(url, "trainee", logins["trainee"]), api(url, "lead", logins["lead"])
    recording_id = upload_and_transcribe(trainee, 6)
    case_id = trainee.get("/api/cases").json()["cases"][0]["id"]
    trainee_id = trainee.get("/api/me").json()["id"]
    items = [item["id"] for item in trainee.get("/api/scale?phase=middle").json()["items"]]
    for username in ("supervisor", "sid"):
        assigned = lead.post(f"/api/recordings/{recording_id}/assignments", json={"supervisor": username})
        assert assigned.status_code == 201, assigned.text
    sid = api(url, "sid", logins["sid"])
    saved = sid.put(f"/api/recordings/{recording_id}/ratings/mine",
                    json={"scores": {item: 4 for item in items} | {items[1]: 5}, "evidence": {items[1]: [1]}})
    assert saved.status_code == 200, saved.text
    assert sid.post(f"/api/recordings/{recording_id}/ratings/mine/submit").status_code == 200

    problems: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)

        page = guarded(browser, problems).new_page()
        page.goto(f"{url}/login")
        expect(page.locator("input[name=username]")).to_be_visible()
        assert "system-ui" in page.evaluate("getComputedStyle(document.body).fontFamily")  # app.css applied

        # The supervisor's queue, and the rating page: a score saves the draft through the API.
        rater = guarded(browser, problems, viewport={"width": 1440, "height": 960}).new_page()
        log_in(rater, url, "supervisor", logins["supervisor"])
        rater.goto(f"{url}/queue")
        expect(rater.locator(f"#queue-{recording_id}")).to_be_visible()
        rater.goto(f"{url}/recordings/{recording_id}/rate")
        expect(rater.locator("#suggestion .verdict-badge")).to_have_text(
            re.compile(r"^(on-model|drifting|off-model)$"), timeout=30_000)
        rater.click(f"label[for='s-{items[0]}-4']")
        expect(rater.locator("#save-status")).to_have_text(re.compile(r"^Saved "), timeout=10_000)
        supervisor = api(url, "supervisor", logins["supervisor"])
        saved = supervisor.put(f"/api/recordings/{recording_id}/ratings/mine",
                               json={"scores": {item: 4 for item in items} | {items[1]: 2}})
        assert saved.status_code == 200, saved.text
        assert supervisor.post(f"/api/recordings/{recording_id}/ratings/mine/submit").status_code == 200

        page = guarded(browser, problems, viewport={"width": 1280, "height": 900}).new_page()
        accept_confirmations(page)
        log_in(page, url, "lead", logins["lead"])
        expect(page.locator("h1")).to_contain_text("Work list")  # a course lead's home
        page.goto(f"{url}/cases")
        expect(page.locator("main")).to_contain_text("DEMO-001")
        page.goto(f"{url}/cases/{case_id}")
        expect(page.locator("#session-6")).to_be_visible()

        # The transcript page: a line clicked plays the recording from there.
        page.goto(f"{url}/recordings/{recording_id}")
        second = page.locator("#segments .segment").nth(1)
        start = float(second.get_attribute("data-start"))
        second.click()
        page.wait_for_function(f"!{PLAYER}.paused && Math.abs({PLAYER}.currentTime - {start}) < 1.0")
        page.keyboard.press("k")

        # Adjudication: the consensus is saved and submitted through the API.
        page.goto(f"{url}/recordings/{recording_id}/adjudicate")
        page.click(f"label[for='s-{items[1]}-3']")
        page.click("#save-now")
        expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved "), timeout=10_000)
        page.click("#submit-start")
        page.click("#submit-go")
        expect(page.locator(".locked-rating .verdict")).to_have_text("Passed")

        # The ratings page: the lead's buttons call the API.
        page.goto(f"{url}/recordings/{recording_id}/ratings")
        page.click("text=Release feedback to the trainee")
        expect(page.locator(".lead-status")).to_contain_text("feedback released")

        page.goto(f"{url}/recordings/{recording_id}/calibration")
        expect(page.locator("h1")).to_contain_text("Calibration")

        # The audit: a heatmap cell shows its tooltip, placed by script.
        page.goto(f"{url}/audit")
        cell = page.locator(".audit-page svg.chart .cell-link").first
        cell.scroll_into_view_if_needed()  # scrolling hides the tooltip: scrolled first, then hovered
        cell.hover()
        tip = page.locator(".chart-tip")
        expect(tip).to_be_visible()
        assert tip.evaluate("el => el.style.left").endswith("px")

        reader = guarded(browser, problems).new_page()
        log_in(reader, url, "trainee", logins["trainee"])
        reader.goto(f"{url}/trainees/{trainee_id}/progress")
        expect(reader.locator("h1")).to_contain_text("Accreditation progress")
        reader.goto(f"{url}/recordings/{recording_id}/ratings")
        expect(reader.locator(".feedback .verdict")).to_have_text("Passed")
        expect(reader.locator("#suggestion .verdict-badge")).to_have_text(
            re.compile(r"^(on-model|drifting|off-model)$"), timeout=30_000)
        browser.close()
    assert not problems, "\n".join(problems)
