"""The course lead's, the supervisor's and the trainee's journeys through the work list, quality
warnings, notifications and the safe replacement of a rated tape, in a real browser against the real
service, with screenshots kept in test-artifacts/; and every page usable on a 390 px wide phone."""

from __future__ import annotations

import re

import pytest

from speechfixtures.recorded import jfk_wav
from tests.browser import ARTIFACTS, accept_confirmations, launch, log_in, upload_on_case_page
from tests.test_player_browser import api, upload_and_transcribe

PHONE = {"width": 390, "height": 844}


def sideways(page) -> int:
    """How far the page is wider than the window: what a phone would scroll sideways."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.slow
@pytest.mark.browser
def test_a_tape_from_put_forward_to_released_as_each_role_sees_it(service):
    from playwright.sync_api import expect, sync_playwright

    url, logins = service
    ARTIFACTS.mkdir(exist_ok=True)
    trainee = api(url, "trainee", logins["trainee"])
    recording_id = upload_and_transcribe(trainee, 6)
    trainee.post(f"/api/recordings/{recording_id}/submit-for-assessment")
    case_id = trainee.get("/api/cases").json()["cases"][0]["id"]
    with sync_playwright() as p:
        browser = launch(p)
        lead = browser.new_page(viewport={"width": 1280, "height": 900})
        asked = accept_confirmations(lead)
        log_in(lead, url, "lead", logins["lead"])
        # The lead lands on the work list: the tape waits for a rater, and the navigation counts it.
        expect(lead.locator("h1")).to_contain_text("Work list")
        expect(lead.locator(f"#put_forward-{recording_id}")).to_contain_text("session 6")
        expect(lead.locator("nav a:has-text('Work list') .count")).to_have_text("1")
        expect(lead.locator("#quality")).to_contain_text("only 0:11 long")
        lead.screenshot(path=str(ARTIFACTS / "worklist.png"), full_page=True)

        # Assigning the flagged tape warns first; going on is recorded on the tape.
        lead.click(f"#put_forward-{recording_id} a:has-text('Assign a rater')")
        expect(lead.locator("#quality-heading")).to_have_text("Quality checks")
        lead.click("form[action$='/assignments'] button:has-text('Assign')")
        expect(lead.locator(".quality")).to_contain_text("Assigned to supervisor despite the warning by lead")
        assert asked[-1].startswith("This recording failed a quality check: The recording is only 0:11 long")

        # The supervisor lands on their queue, told of the assignment.
        supervisor = browser.new_page(viewport={"width": 1280, "height": 900})
        log_in(supervisor, url, "supervisor", logins["supervisor"])
        expect(supervisor.locator("h1")).to_have_text("Rating queue")
        expect(supervisor.locator("nav a:has-text('Notifications') .count")).to_have_text("1")
        supervisor.click("nav >> text=Notifications")
        supervisor.click("text=A recording to rate")
        expect(supervisor).to_have_url(re.compile(rf"/recordings/{recording_id}/rate$"))
        supervisor.screenshot(path=str(ARTIFACTS / "notified-rater.png"), full_page=True)
        rater = api(url, "supervisor", logins["supervisor"])
        items = [item["id"] for item in rater.get("/api/scale?phase=middle").json()["items"]]
        rater.put(f"/api/recordings/{recording_id}/ratings/mine", json={"scores": {i: 4 for i in items}})
        assert rater.post(f"/api/recordings/{recording_id}/ratings/mine/submit").status_code == 200
        lead.goto(f"{url}/worklist")
        lead.click(f"#ready_to_release-{recording_id} a:has-text('Review and release')")
        lead.wait_for_load_state("load")  # the buttons' module script runs just before `load`
        lead.click("text=Release feedback to the trainee")
        expect(lead.locator(".lead-status")).to_contain_text("feedback released")

        # The trainee, on a phone: their case shows the session released, nothing scrolls sideways, and
        # uploading over the rated tape asks first, saying what would happen.
        phone = browser.new_page(viewport=PHONE)
        log_in(phone, url, "trainee", logins["trainee"])
        expect(phone.locator("nav a:has-text('Notifications') .count")).to_have_text("1")
        phone.goto(f"{url}/cases/{case_id}")
        phone.wait_for_load_state("load")
        expect(phone.locator("#session-6 .stage")).to_have_text("Released")
        expect(phone.locator("#session-6 .next-step")).to_have_text("Feedback released: read it.")
        assert sideways(phone) <= 0
        phone.screenshot(path=str(ARTIFACTS / "case-page-390.png"), full_page=True)
        upload_on_case_page(phone, 6, jfk_wav())
        expect(phone.locator("#session-6 .form-error")).to_contain_text("already has a rated recording")
        phone.check("#session-6 input[name=confirm_replace]")
        phone.click("#session-6 button")
        expect(phone.locator("h1")).to_contain_text("Session 6")
        assert sideways(phone) <= 0
        for path in ("/cases", f"/recordings/{recording_id}/ratings", f"/trainees/{trainee.get('/api/me').json()['id']}/progress",
                     "/notifications", "/account"):
            phone.goto(url + path)
            assert sideways(phone) <= 0, path
        lead_phone = browser.new_page(viewport=PHONE)
        log_in(lead_phone, url, "lead", logins["lead"])
        for path in ("/worklist", f"/recordings/{recording_id}", "/audit", "/users"):
            lead_phone.goto(url + path)
            assert sideways(lead_phone) <= 0, path
        lead_phone.goto(url + "/worklist")
        lead_phone.screenshot(path=str(ARTIFACTS / "worklist-390.png"), full_page=True)
        browser.close()
