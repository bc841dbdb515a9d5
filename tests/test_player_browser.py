"""One player on every page that plays a recording, in a real browser against the real service: the
transcript page answers the keyboard as the rating page does, #t=SECONDS opens the recording there,
evidence moments play in the page's own player (or open the transcript page where there is none), and
no page with the player logs a script error."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from speechfixtures.recorded import jfk_wav
from tests.browser import ARTIFACTS, launch, log_in
from tests.conftest import CONSENT
from tests.test_rating_browser import add_second_supervisor, assign_through_the_api

# Every test here opens a rating page, which asks for the on-model suggestion: the classifier is trained
# in the background from the start.
pytestmark = pytest.mark.service_env(DIT_WARM_CLASSIFIER="1")

PLAYER = "document.getElementById('player')"
# Each key with what it should do from 0:00, paused: the time it leaves the player at, and whether playing.
KEYS = [("l", 5, False), ("Shift+ArrowRight", 10, False), ("j", 5, False), ("Shift+ArrowLeft", 0, False),
        ("Alt+l", 5, False), ("k", None, True), ("k", None, False)]


def api(url: str, username: str, password: str) -> httpx.Client:
    token = httpx.post(f"{url}/api/token", json={"username": username, "password": password}).json()["token"]
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def upload_and_transcribe(trainee: httpx.Client, session: int) -> int:
    case_id = trainee.get("/api/cases").json()["cases"][0]["id"]
    with jfk_wav().open("rb") as fh:
        response = trainee.post(f"/api/cases/{case_id}/sessions/{session}/recording", data=CONSENT,
                                files={"file": ("jfk.wav", fh)})
    recording_id = response.json()["id"]
    deadline = time.monotonic() + 120
    while trainee.get(f"/api/recordings/{recording_id}").json()["status"] != "done":
        assert time.monotonic() < deadline, "transcription did not finish"
        time.sleep(0.5)
    return recording_id


def watch(page, errors: list[str]) -> None:
    """Uncaught exceptions and console errors, each with the page it happened on. The service has no
    favicon: the browser's own request for one, answered 404, is not the pages' doing."""
    def console(message) -> None:
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            errors.append(f"{page.url}: {message.text} ({message.location['url']})")
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.on("console", console)


def drive_by_keyboard(page) -> list[tuple]:
    """Presses KEYS from 0:00, paused; for each, the state the player is left in and, after a skip, the
    line highlighted (its place in the transcript) and what the page announced."""
    page.wait_for_function(f"{PLAYER}.readyState >= 1")
    page.evaluate(f"{PLAYER}.pause(); {PLAYER}.currentTime = 0")
    page.locator("h1").click()
    seen = []
    for key, at, playing in KEYS:
        page.keyboard.press(key)
        page.wait_for_function(f"{PLAYER}.paused === {str(not playing).lower()}")
        if at is not None:
            page.wait_for_function(f"Math.abs({PLAYER}.currentTime - {at}) < 0.01")
        line = page.evaluate("Array.from(document.querySelectorAll('#segments .segment'))"
                             ".findIndex((el) => el.classList.contains('playing'))")
        said = page.locator("#announce").inner_text() if at is not None else None
        seen.append((key, at, playing, line if at is not None else None, said))
    return seen


@pytest.mark.slow
@pytest.mark.browser
def test_the_transcript_page_answers_the_keyboard_as_the_rating_page_does(service):
    from playwright.sync_api import expect, sync_playwright

    url, logins = service
    recording_id = upload_and_transcribe(api(url, "trainee", logins["trainee"]), 6)
    assign_through_the_api(url, logins["lead"], recording_id)
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        rater = browser.new_context(viewport={"width": 1440, "height": 960}).new_page()
        watch(rater, errors)
        log_in(rater, url, "supervisor", logins["supervisor"])
        rater.goto(f"{url}/recordings/{recording_id}/rate")
        expect(rater.locator("#segments .segment").first).to_be_visible()
        on_the_rating_page = drive_by_keyboard(rater)
        assert on_the_rating_page[0][4] == "Forward 5 s, at 0:05"
        rating_keys = rater.locator(".shortcuts dl > div").all_inner_texts()
        rater.screenshot(path=str(ARTIFACTS / "player-rating-page.png"))

        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        watch(page, errors)
        log_in(page, url, "trainee", logins["trainee"])
        page.goto(f"{url}/recordings/{recording_id}")
        segments = page.locator("#segments .segment")
        expect(segments.first).to_be_visible()
        assert drive_by_keyboard(page) == on_the_rating_page
        # The same help as the rating page's, less the keys for attaching evidence, and with the keys that
        # correct the words (the trainee may).
        expect(page.locator(".shortcuts")).to_be_visible()
        keys = page.locator(".shortcuts dl > div").all_inner_texts()
        assert keys[:3] == rating_keys[:3] and [k.split("\n")[0] for k in keys[3:]] == ["e", "m"]
        expect(page.locator(".shortcuts")).to_contain_text("hold Alt")

        # Enter or Space on a line plays it, as a click does.
        second = segments.nth(1)
        start = float(second.get_attribute("data-start"))
        page.evaluate(f"{PLAYER}.pause(); {PLAYER}.currentTime = 0")
        second.focus()
        page.keyboard.press(" ")
        page.wait_for_function(f"!{PLAYER}.paused && Math.abs({PLAYER}.currentTime - {start}) < 1.0")
        expect(second).to_have_class(re.compile(r"\bplaying\b"))
        page.keyboard.press("k")
        page.wait_for_function(f"{PLAYER}.paused")
        page.screenshot(path=str(ARTIFACTS / "player-transcript-page.png"), full_page=True)

        # #t=SECONDS opens the recording there, paused, with the line spoken then highlighted.
        page.goto("about:blank")
        page.goto(f"{url}/recordings/{recording_id}#t={start + 0.5}")
        page.wait_for_function(f"Math.abs({PLAYER}.currentTime - {start + 0.5}) < 0.2")
        expect(page.locator("#segments .segment").nth(1)).to_have_class(re.compile(r"\bplaying\b"))
        assert page.evaluate(f"{PLAYER}.paused")
        rater.goto("about:blank")
        rater.goto(f"{url}/recordings/{recording_id}/rate#t={start + 0.5}")
        rater.wait_for_function(f"Math.abs({PLAYER}.currentTime - {start + 0.5}) < 0.2")
        expect(rater.locator("#segments .segment").nth(1)).to_have_class(re.compile(r"\bplaying\b"))
        browser.close()
    assert errors == []


@pytest.mark.slow
@pytest.mark.browser
def test_evidence_plays_in_the_pages_player_and_no_page_logs_a_script_error(service, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, logins = service
    logins["sid"] = "a long enough password"
    add_second_supervisor(tmp_path / "data", logins["sid"])
    trainee, lead = api(url, "trainee", logins["trainee"]), api(url, "lead", logins["lead"])
    recording_id = upload_and_transcribe(trainee, 8)
    items = [item["id"] for item in trainee.get("/api/scale?phase=middle").json()["items"]]
    for username, score in (("supervisor", 3), ("sid", 5)):
        assert lead.post(f"/api/recordings/{recording_id}/assignments", json={"supervisor": username}).status_code == 201
        rater = api(url, username, logins[username])
        saved = rater.put(f"/api/recordings/{recording_id}/ratings/mine",
                          json={"scores": {item: 4 for item in items} | {items[1]: score}, "evidence": {items[1]: [1]}})
        assert saved.status_code == 200, saved.text
        assert rater.post(f"/api/recordings/{recording_id}/ratings/mine/submit").status_code == 200
    line = trainee.get(f"/api/recordings/{recording_id}/transcript").json()["segments"][1]
    moment = f"Math.abs({PLAYER}.currentTime - {line['start']}) < 0.5"

    errors: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        watch(page, errors)
        log_in(page, url, "lead", logins["lead"])

        # The ratings page: a moment plays in the player at the top of the page.
        page.goto(f"{url}/recordings/{recording_id}/ratings")
        card = page.locator("#rating-cards .rating-card").first
        card.locator("summary:has-text('Scores, comments and evidence')").click()
        card.locator("a.moment").first.click()
        page.wait_for_function(f"!{PLAYER}.paused && {moment}")
        assert page.url == f"{url}/recordings/{recording_id}/ratings"

        # The adjudication page has the player beside the form: a rater's moment plays there, in place.
        page.goto(f"{url}/recordings/{recording_id}/adjudicate")
        page.wait_for_load_state("load")
        page.locator(f"#item-{items[1]} .raters-notes a.moment").first.click()
        page.wait_for_function(f"!{PLAYER}.paused && {moment}")
        assert page.url == f"{url}/recordings/{recording_id}/adjudicate"
        expect(page.locator("#segments .segment").nth(1)).to_have_class(re.compile(r"\bplaying\b"))
        page.evaluate(f"{PLAYER}.pause()")

        # A rater's submitted rating: its moments play beside the transcript.
        rater = browser.new_context(viewport={"width": 1440, "height": 960}).new_page()
        watch(rater, errors)
        log_in(rater, url, "supervisor", logins["supervisor"])
        rater.goto(f"{url}/recordings/{recording_id}/rate")
        rater.locator(".locked-rating a.moment").first.click()
        rater.wait_for_function(f"!{PLAYER}.paused && {moment}")
        expect(rater.locator("#segments .segment").nth(1)).to_have_class(re.compile(r"\bplaying\b"))

        # The trainee's feedback, once released, with the on-model suggestion.
        consensus = {"scores": {item: 4 for item in items}, "evidence": {items[1]: [1]}}
        assert lead.put(f"/api/recordings/{recording_id}/ratings/consensus", json=consensus).status_code == 200
        assert lead.post(f"/api/recordings/{recording_id}/ratings/consensus/submit").status_code == 200
        assert lead.post(f"/api/recordings/{recording_id}/release").status_code == 200
        reader = browser.new_context().new_page()
        watch(reader, errors)
        log_in(reader, url, "trainee", logins["trainee"])
        reader.goto(f"{url}/recordings/{recording_id}/ratings")
        expect(reader.locator("#suggestion .verdict-badge")).to_have_text(re.compile(r"^(on-model|drifting|off-model)$"),
                                                                          timeout=30_000)
        reader.locator(".feedback a.moment").first.click()
        reader.wait_for_function(f"!{PLAYER}.paused && {moment}")
        reader.keyboard.press("k")
        reader.wait_for_function(f"{PLAYER}.paused")
        browser.close()
    assert errors == []
