"""The pages, through real HTTP with cookie sessions and CSRF-protected forms."""

from __future__ import annotations

import re

import httpx
import pytest

from server.web.pages.accounts import safe_next
from tests.conftest import CONSENT, PASSWORD, run_queued_jobs
from tests.test_access import login_by_cookie


@pytest.fixture
async def browser(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


async def test_login_failures_say_why_and_logins_land_on_cases(people, browser):
    page = await browser.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    wrong = await browser.post("/login", data={"username": "trainee", "password": "x", "csrf_token": token})
    assert wrong.status_code == 401 and "Wrong username or password." in wrong.text
    forged = await browser.post("/login", data={"username": "trainee", "password": PASSWORD, "csrf_token": "forged"})
    assert forged.status_code == 403
    right = await browser.post("/login", data={"username": "trainee", "password": PASSWORD, "csrf_token": token,
                                               "next": "/cases/7"})
    assert right.status_code == 303 and right.headers["location"] == "/cases/7"


def test_after_login_only_local_pages_are_followed():
    assert safe_next("/cases/3") == "/cases/3"
    for offsite in ("//evil.example/", "https://evil.example/", "javascript:alert(1)", ""):
        assert safe_next(offsite) == "/"


async def test_anonymous_visitors_are_sent_to_log_in_and_back(browser):
    response = await browser.get("/cases/1")
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/cases/1"


@pytest.mark.slow
async def test_a_trainee_opens_a_case_uploads_and_reads_the_transcript(people, settings, browser, media_files):
    csrf = await login_by_cookie(browser, "trainee")
    bad_code = await browser.post("/cases", data={"code": "Jane Doe", "csrf_token": csrf})
    assert bad_code.status_code == 400 and "A case code is 2-32 letters" in bad_code.text
    opened = await browser.post("/cases", data={"code": "DIT-042", "csrf_token": csrf})
    assert opened.status_code == 303
    case_url = opened.headers["location"]
    case_page = await browser.get(case_url)
    assert "Case DIT-042" in case_page.text
    assert re.findall(r"<h2>([^<]+)</h2>", case_page.text) == [
        "Interpersonal-affective focus (IPAF)", "Initial (1-4)", "Middle (5-12)", "Ending (13-16)"]
    assert "Not recorded yet" in case_page.text
    recorded = await browser.post(f"{case_url}/ipaf", data={"csrf_token": csrf, "self": "a burden",
                                                             "other": "impatient, rejecting", "affect": "shame"})
    assert recorded.status_code == 303
    assert "<dt>Self</dt><dd>a burden</dd>" in (await browser.get(case_url)).text
    assert len(re.findall(r'id="session-\d+"', case_page.text)) == 16

    refused = await browser.post(f"{case_url}/sessions/3/recording", data={"csrf_token": csrf, **CONSENT},
                                 files={"file": ("notes.mp3", b"not audio at all " * 100)})
    assert refused.status_code == 422
    assert "Session 3: This file is not a recognisable audio or video recording." in refused.text

    unconsented = await browser.post(f"{case_url}/sessions/3/recording", data={"csrf_token": csrf},
                                     files={"file": ("jfk.wav", media_files["wav"].read_bytes())})
    assert unconsented.status_code == 422 and "written consent" in unconsented.text
    uploaded = await browser.post(f"{case_url}/sessions/3/recording", data={"csrf_token": csrf, **CONSENT},
                                  files={"file": ("jfk.wav", media_files["wav"].read_bytes())})
    assert uploaded.status_code == 303
    recording_url = uploaded.headers["location"]
    waiting = await browser.get(recording_url)
    assert "queued" in waiting.text and "The transcript will appear here" in waiting.text

    await run_queued_jobs(settings)
    page = await browser.get(recording_url)
    starts = re.findall(r'class="segment[^"]*" data-start="([\d.]+)"', page.text)
    assert starts and float(starts[0]) < 1.0
    assert "country" in page.text
    assert re.search(r'<audio id="player" controls preload="metadata" src="/api/recordings/\d+/media">', page.text)
    for fmt in ("vtt", "srt", "txt", "json"):
        assert f"?format={fmt}&download=1" in page.text
    media = await browser.get(re.search(r'src="(/api/recordings/\d+/media)"', page.text).group(1))
    assert media.status_code == 200 and media.headers["content-type"] == "audio/wav"
