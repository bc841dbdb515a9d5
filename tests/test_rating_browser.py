"""A supervisor rates a session in a real browser, against the real service: queue, transcript beside the
form, scores by clicking, a comment, evidence from the transcript, the draft saved as they work and
still there after a reload, refusal of an incomplete rating, submission and the locked result."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import date

import httpx
import pytest

from speechfixtures.recorded import jfk_wav
from tests.browser import ARTIFACTS, accept_confirmations, launch, log_in, upload_on_case_page
from tests.conftest import CONSENT

# Every test here opens a rating page, which asks for the on-model suggestion: the classifier is trained
# in the background from the start.
pytestmark = pytest.mark.service_env(DIT_WARM_CLASSIFIER="1")


def assign_through_the_api(url: str, password: str, recording_id: int) -> None:
    token = httpx.post(f"{url}/api/token", json={"username": "lead", "password": password}).json()["token"]
    response = httpx.post(f"{url}/api/recordings/{recording_id}/assignments", json={"supervisor": "supervisor"},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text


@pytest.mark.slow
@pytest.mark.browser
def test_a_supervisor_rates_a_session_in_chromium(service):
    from playwright.sync_api import expect, sync_playwright

    url, logins = service
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)

        # The trainee uploads session 6 (middle phase) of the demo case.
        trainee = browser.new_context().new_page()
        log_in(trainee, url, "trainee", logins["trainee"])
        trainee.click("text=DEMO-001")
        upload_on_case_page(trainee, 6, jfk_wav())
        expect(trainee.locator("h1")).to_contain_text("Session 6")
        recording_id = int(re.search(r"/recordings/(\d+)", trainee.url).group(1))

        assign_through_the_api(url, logins["lead"], recording_id)

        # The supervisor finds it in their queue and opens the rating page.
        context = browser.new_context(viewport={"width": 1440, "height": 960})
        script_errors = []
        context.on("weberror", lambda error: script_errors.append(str(error.error)))
        page = context.new_page()
        log_in(page, url, "supervisor", logins["supervisor"])
        page.click("nav >> text=Rating queue")
        row = page.locator(f"#queue-{recording_id}")
        expect(row).to_contain_text("DEMO-001")
        expect(row).to_contain_text("Middle")
        row.get_by_role("link").click()
        page.wait_for_url(f"{url}/recordings/{recording_id}/rate")
        # Until transcription is done the page waits and then loads the transcript by itself.
        segments = page.locator("#segments .segment")
        expect(segments.first).to_be_visible(timeout=120_000)
        assert segments.count() >= 2

        # The classifier's suggestion, judged against the demo case's IPAF; a rater can disagree with it.
        suggestion = page.locator("#suggestion")
        expect(suggestion.locator(".verdict-badge")).to_have_text(re.compile(r"^(on-model|drifting|off-model)$"),
                                                                  timeout=30_000)
        expect(suggestion).to_contain_text("an unimportant afterthought")
        judges = suggestion.locator("button.judge")
        if judges.count():
            judges.nth(1).click()
            expect(suggestion.locator(".judged").first).to_have_text("disagreed")

        items = page.eval_on_selector_all("#rating-form .rate-item[data-item]", "els => els.map(e => e.dataset.item)")
        assert "ipaf-focus" in items and "analytic-stance" in items
        assert "goodbye-letter" not in items and "interpersonal-inventory" not in items
        first, second, third = items[:3]

        # Score by clicking; the chosen score's anchor is shown.
        page.click(f"label[for='s-{first}-4']")
        expect(page.locator(f"#item-{first} .anchor-current")).to_contain_text("4 · Good, with minor problems")
        page.click(f"label[for='s-{second}-5']")
        page.click(f"label[for='s-{third}-3']")
        comment = "Returns to the IPAF each time the patient drifts."
        page.fill(f"textarea[name='comment:{first}']", comment)

        # Evidence: attach two lines of the transcript to the first item.
        page.click(f"#item-{first} .attach")
        expect(page.locator("#attach-banner")).to_be_visible()
        segments.nth(0).locator(".text").click()
        segments.nth(1).locator(".text").click()
        page.click("#attach-done")
        evidence = page.locator(f"#item-{first} .evidence-list li")
        expect(evidence).to_have_count(2)
        expect(segments.nth(0)).to_have_class(re.compile(r"\bhas-evidence\b"))
        expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved \d\d:\d\d:\d\d$"), timeout=10_000)

        # Clicking an evidence moment plays the recording from there; k pauses (not while typing).
        start = float(segments.nth(1).get_attribute("data-start"))
        evidence.nth(1).locator("a.moment").click()
        page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - {start}) < 1.0")
        page.keyboard.press("k")
        page.wait_for_function("document.getElementById('player').paused")
        page.click(f"textarea[name='comment:{second}']")
        page.keyboard.type("kj")
        expect(page.locator(f"textarea[name='comment:{second}']")).to_have_value("kj")
        page.fill(f"textarea[name='comment:{second}']", "")
        # "a" attaches the line being played to the item last worked on.
        page.click(f"label[for='s-{second}-5']")
        segments.nth(1).locator(".text").click()
        page.keyboard.press("a")
        expect(page.locator(f"#item-{second} .evidence-list li")).to_have_count(1)
        expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved "), timeout=10_000)

        # The draft survives a reload.
        page.reload()
        expect(page.locator(f"#s-{first}-4")).to_be_checked()
        expect(page.locator(f"#s-{second}-5")).to_be_checked()
        expect(page.locator(f"#s-{third}-3")).to_be_checked()
        expect(page.locator(f"textarea[name='comment:{first}']")).to_have_value(comment)
        expect(page.locator(f"#item-{first} .evidence-list li")).to_have_count(2)
        expect(page.locator("#restore-banner")).to_be_hidden()
        expect(page.locator(f"#item-{second} .evidence-list li")).to_have_count(1)
        expect(page.locator("#scored-count")).to_have_text(f"3 of {len(items)} scored")

        # The session expires: the work stays on the page, and is saved once logged in again in another tab.
        context.clear_cookies()
        page.click(f"label[for='s-{items[3]}-2']")
        expect(page.locator("#save-status")).to_contain_text("Log in again in another tab", timeout=10_000)
        other_tab = context.new_page()
        log_in(other_tab, url, "supervisor", logins["supervisor"])
        other_tab.close()
        expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved "), timeout=20_000)

        # Offline, then the tab is closed: the copy kept on this device is offered when the page is opened again.
        context.set_offline(True)
        page.fill(f"textarea[name='comment:{third}']", "Written offline.")
        expect(page.locator("#save-status")).to_contain_text("cannot be reached", timeout=10_000)
        page.close()
        # The page's last save on the way out must meet the network still down, not race it coming back
        # (a busy machine sends it late).
        time.sleep(5)
        context.set_offline(False)
        page = context.new_page()
        page.goto(f"{url}/recordings/{recording_id}/rate")
        expect(page.locator("#restore-banner")).to_be_visible()
        expect(page.locator(f"textarea[name='comment:{third}']")).to_have_value("")
        page.click("#restore-yes")
        expect(page.locator(f"textarea[name='comment:{third}']")).to_have_value("Written offline.")
        expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved "), timeout=10_000)
        segments = page.locator("#segments .segment")
        expect(page.locator("#scored-count")).to_have_text(f"4 of {len(items)} scored")

        # An incomplete rating is refused, item by item.
        page.click("#submit-start")
        expect(page.locator("#form-errors")).to_contain_text(f"{len(items) - 4} not scored")
        expect(page.locator(f"#error-{items[4]}")).to_have_text("Not scored.")
        expect(page.locator(f"#error-{first}")).to_be_hidden()

        for item_id in items[3:]:
            page.click(f"label[for='s-{item_id}-4']")
        expect(page.locator(f"#error-{items[4]}")).to_be_hidden()
        expect(page.locator("#form-errors")).to_be_hidden()
        page.fill("textarea[name='overall_comment']", "A focused middle-phase session.")
        expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved "), timeout=10_000)
        page.evaluate("window.scrollTo(0, 0)")
        page.click(f"#item-{first} textarea")
        page.screenshot(path=str(ARTIFACTS / "rating-page.png"))

        page.click("#submit-start")
        page.click("#submit-go")
        page.wait_for_url(re.compile(r"/rate\?submitted=1$"))
        expect(page.locator(".notice.ok")).to_contain_text("submitted and is now locked")
        expect(page.locator(".verdict")).to_have_text("Passed")
        total = 4 + 5 + 3 + 4 * (len(items) - 3)
        expect(page.locator(".result-total")).to_have_text(str(total))
        expect(page.locator(".result-mean")).to_have_text(f"{total / len(items):.2f}")
        expect(page.locator("#rating-form")).to_have_count(0)
        expect(page.locator(".locked-rating")).to_contain_text(comment)
        page.screenshot(path=str(ARTIFACTS / "rating-submitted.png"))

        page.reload()
        expect(page.locator(".verdict")).to_have_text("Passed")
        expect(page.locator("input[type=radio]")).to_have_count(0)
        assert script_errors == []
        browser.close()


def add_second_supervisor(data_dir, password: str) -> None:
    """A second accredited rater for the demo trainee's tapes, added with the command line as an admin would."""
    env = {**os.environ, "DIT_DATA_DIR": str(data_dir)}
    env.pop("DIT_DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "server.cli", "users", "add", "--role", "supervisor", "--name", "sid",
                    "--full-name", "Sid Second", "--accredited", "--accredited-on", date.today().isoformat()],
                   env=env, input=f"{password}\n{password}\n", text=True, check=True, capture_output=True)


@pytest.mark.slow
@pytest.mark.browser
def test_a_lead_adjudicates_releases_and_the_trainee_reads_the_feedback(service, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, logins = service
    logins["sid"] = "a long enough password"
    add_second_supervisor(tmp_path / "data", logins["sid"])

    def api(username: str):
        token = httpx.post(f"{url}/api/token", json={"username": username, "password": logins[username]}).json()["token"]
        return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    trainee, lead = api("trainee"), api("lead")
    case_id = trainee.get("/api/cases").json()["cases"][0]["id"]
    with jfk_wav().open("rb") as fh:
        recording_id = trainee.post(f"/api/cases/{case_id}/sessions/8/recording", data=CONSENT,
                                    files={"file": ("jfk.wav", fh)}).json()["id"]
    deadline = time.monotonic() + 120
    while trainee.get(f"/api/recordings/{recording_id}").json()["status"] != "done":
        assert time.monotonic() < deadline, "transcription did not finish"
        time.sleep(0.5)
    items = [item["id"] for item in trainee.get("/api/scale?phase=middle").json()["items"]]
    for username, scores in (("supervisor", {items[1]: 2}), ("sid", {items[1]: 5, items[4]: 3})):
        assert lead.post(f"/api/recordings/{recording_id}/assignments", json={"supervisor": username}).status_code == 201
        rater = api(username)
        saved = rater.put(f"/api/recordings/{recording_id}/ratings/mine",
                          json={"scores": {item: 4 for item in items} | scores, "evidence": {items[1]: [1]},
                                "comments": {items[1]: f"{username} on the alliance"}})
        assert saved.status_code == 200, saved.text
        assert rater.post(f"/api/recordings/{recording_id}/ratings/mine/submit").status_code == 200

    with sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        script_errors = []
        context.on("weberror", lambda error: script_errors.append(str(error.error)))
        page = context.new_page()
        asked = accept_confirmations(page)
        log_in(page, url, "lead", logins["lead"])
        page.goto(f"{url}/recordings/{recording_id}/ratings")
        expect(page.locator("table.comparison tr.differs")).to_have_count(2)
        page.click("text=Adjudicate")
        # The page's module scripts run just before `load`; a click before then would find no handler.
        page.wait_for_load_state("load")
        differing = page.locator(".adj-item.differs")
        expect(differing).to_have_count(2)
        # Beside the recording and its transcript; the line both raters cited is the consensus's evidence
        # to begin with, and plays here.
        expect(page.locator("#segments .segment").first).to_be_visible()
        pooled = page.locator(f"#item-{items[1]} .evidence-list li")
        expect(pooled).to_have_count(1)
        pooled.locator("a.moment").click()
        page.wait_for_function("!document.getElementById('player').paused")
        page.evaluate("document.getElementById('player').pause()")
        expect(page.locator(f"#s-{items[0]}-4")).to_be_checked()  # agreed, filled in
        expect(page.locator(f"#item-{items[1]} .raters-notes")).to_contain_text("sid on the alliance")
        page.click("#submit-start")  # two items not settled yet
        expect(page.locator(f"#error-{items[1]}")).to_have_text("Not scored.")
        page.click(f"label[for='s-{items[1]}-3']")
        page.click(f"label[for='s-{items[4]}-4']")
        page.fill(f"textarea[name='comment:{items[1]}']", "Warm, but the rupture was not explored.")
        page.click("#save-now")
        expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved "), timeout=10_000)
        page.click("#submit-start")
        page.click("#submit-go")
        expect(page.locator(".locked-rating .verdict")).to_have_text("Passed")

        page.goto(f"{url}/recordings/{recording_id}/ratings")
        page.click("text=Release feedback to the trainee")
        expect(page.locator(".lead-status")).to_contain_text("feedback released")
        assert asked[-1].startswith("Release this result to the trainee?")

        reader = browser.new_context().new_page()
        log_in(reader, url, "trainee", logins["trainee"])
        reader.goto(f"{url}/recordings/{recording_id}/ratings")
        expect(reader.locator(".feedback")).to_contain_text("Warm, but the rupture was not explored.")
        expect(reader.locator(".feedback .verdict")).to_have_text("Passed")

        # The lead reopens one rater's rating, giving a reason, and withdraws the released result, saying why.
        card = page.locator("#rating-cards .rating-card").first
        card.locator("summary:has-text('Reopen')").click()
        card.locator("input[name=reason]").fill("Scored before the tape was complete")
        card.locator("input[name=released][value=withdraw]").check()
        card.locator("input[name=withdrawn_reason]").fill("A rating is being revised")
        card.locator("button:has-text('Reopen rating')").click()
        expect(page.locator("#rating-cards .rating-card").first).to_contain_text("draft")
        assert asked[-1].startswith("Reopen this rating?")
        expect(page.locator(".history")).to_contain_text("A rating is being revised")
        reader.reload()
        expect(reader.locator("h2")).to_have_text("This feedback was withdrawn")
        expect(reader.locator(".empty-state")).to_contain_text("A rating is being revised")
        assert script_errors == []
        browser.close()
