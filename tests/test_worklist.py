"""The course lead's work list, each person's first page, and replacing a rated recording safely."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from rating.scale import load_scale
from server.clock import now
from server.models import User
from server.services.worklist import worklist
from tests.conftest import open_case, run_queued_jobs, upload
from tests.test_access import login_by_cookie
from tests.test_audit import add_supervisor

MIDDLE = [item.id for item in load_scale().items_for("middle")]


def stage_of(work: dict, recording_id: int) -> list[str]:
    return [stage for stage, entries in work["stages"].items() if any(e["recording"] == recording_id for e in entries)]


@pytest.mark.settings(double_rating_share=0.0)
async def test_the_work_list_follows_a_tape_from_put_forward_to_released(people, settings, media_files, app):
    trainee, sue, lead = people["trainee"], people["supervisor"], people["lead"]
    case_id = await open_case(trainee, "DIT-500")
    rid = (await upload(trainee, case_id, 6, media_files["short"])).json()["id"]
    await run_queued_jobs(settings)

    async def stages(query: str = "") -> list[str]:
        answer = await lead.get(f"/api/worklist{query}")
        assert answer.status_code == 200, answer.text
        return stage_of(answer.json(), rid)

    assert await stages() == []  # recorded, not put forward: nothing for the lead yet
    await trainee.post(f"/api/recordings/{rid}/submit-for-assessment")
    assert await stages() == ["put_forward"]
    await lead.post(f"/api/recordings/{rid}/assignments", json={"supervisor": "supervisor"})
    work = (await lead.get("/api/worklist")).json()
    (entry,) = work["stages"]["awaiting_raters"]
    assert (entry["case_code"], entry["session"], entry["trainee"], entry["overdue"]) == ("DIT-500", 6, "Trainee", False)
    assert [(r["username"], r["submitted_at"]) for r in entry["raters"]] == [("supervisor", None)]
    # Waiting longer than the overdue days, it is marked.
    later = await worklist(settings, at=now() + timedelta(days=settings.overdue_days + 1))
    assert later["stages"]["awaiting_raters"][0]["overdue"] is True
    # The short recording failed a quality gate: the lead sees it.
    assert [e["recording"] for e in work["quality_flags"]] == [rid] and "only 0:02 long" in work["quality_flags"][0]["quality_flag"]

    await sue.request("PUT", f"/api/recordings/{rid}/ratings/mine", json={"scores": {i: 4 for i in MIDDLE}})
    assert (await sue.post(f"/api/recordings/{rid}/ratings/mine/submit")).status_code == 200
    assert await stages() == ["ready_to_release"]
    assert (await lead.post(f"/api/recordings/{rid}/release")).status_code == 200
    assert await stages() == ["recently_released"]

    # A trainee whose supervision hours are due in 35 days, with none logged, is listed with that deadline.
    started = (now() - timedelta(days=330)).date()
    await lead.request("PUT", f"/api/trainees/{trainee.user.id}/training-record",
                       json={"training_completed_on": str(started)})
    due = (await lead.get("/api/worklist")).json()["deadlines"]
    assert [(d["name"], d["days_left"], d["status"]) for d in due] == [("Trainee", 35, "approaching")]
    assert due[0]["what"].startswith("Supervision hours")

    # By cohort.
    await User.filter(username="trainee").update(cohort="2026 North")
    assert await stages("?cohort=2026 North") == ["recently_released"]
    assert await stages("?cohort=2025 South") == []
    assert (await lead.get("/api/worklist?cohort=2025 South")).json()["deadlines"] == []
    # Only course leads and admins have a work list.
    for who in ("trainee", "supervisor"):
        assert (await people[who].get("/api/worklist")).status_code == 403

    # The case page shows each session's stage, and the trainee's next step.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
        await login_by_cookie(browser, "trainee")
        page = (await browser.get(f"/cases/{case_id}")).text
        assert "Released" in page and "Feedback released: read it." in page


async def test_each_person_lands_on_their_own_first_page(people, app, http, password_hash):
    await add_supervisor(http, password_hash, "old", "Olive Lapsed", accredited_on=date.today() - timedelta(days=4 * 366))
    for username, place in (("lead", "/worklist"), ("supervisor", "/queue"), ("trainee", "/cases"), ("old", "/queue")):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
            await login_by_cookie(browser, username)
            home = await browser.get("/")
            assert home.status_code == 303 and home.headers["location"] == place, username
            page = (await browser.get(place)).text
            if username == "lead":
                assert "<h1>Work list" in page
            # A supervisor whose accreditation lapsed is told why nothing arrives.
            assert ('id="lapsed"' in page) == (username == "old"), username
    assert "has lapsed: course leads cannot assign you recordings" in page


@pytest.mark.settings(double_rating_share=0.0)
async def test_a_rated_recording_is_replaced_only_when_confirmed_and_its_result_still_counts(people, settings,
                                                                                            media_files):
    trainee, sue, lead = people["trainee"], people["supervisor"], people["lead"]
    case_id = await open_case(trainee, "DIT-501")
    rated = (await upload(trainee, case_id, 8, media_files["short"])).json()["id"]
    await run_queued_jobs(settings)
    await lead.post(f"/api/recordings/{rated}/assignments", json={"supervisor": "supervisor"})
    await sue.request("PUT", f"/api/recordings/{rated}/ratings/mine", json={"scores": {i: 4 for i in MIDDLE}})
    await sue.post(f"/api/recordings/{rated}/ratings/mine/submit")
    await lead.post(f"/api/recordings/{rated}/release")
    tid = trainee.user.id
    before = (await trainee.get(f"/api/trainees/{tid}/progress")).json()["tapes"]
    assert before == [{"case": "DIT-501", "session": 8, "phase": "middle", "passed": True}]

    refused = await upload(trainee, case_id, 8, media_files["short"])
    assert refused.status_code == 409
    assert "already has a rated recording and its result has been released" in refused.json()["error"]
    assert "confirm_replace=true" in refused.json()["error"]
    case = (await trainee.get(f"/api/cases/{case_id}")).json()
    assert next(s for s in case["sessions"] if s["number"] == 8)["recording"]["id"] == rated

    with media_files["short"].open("rb") as fh:
        replaced = await trainee.post(f"/api/cases/{case_id}/sessions/8/recording?confirm_replace=true",
                                      data={"consent_confirmed": "true", "consent_date": "2026-01-05"},
                                      files={"file": ("again.wav", fh, "audio/wav")})
    assert replaced.status_code == 201, replaced.text
    attempt = replaced.json()["id"]
    assert attempt != rated
    # The rated tape, its rating and released result stay, and still count; the new one is rated afresh.
    assert (await trainee.get(f"/api/trainees/{tid}/progress")).json()["tapes"] == before
    feedback = (await trainee.get(f"/api/recordings/{rated}/ratings")).json()
    assert feedback["released"] is True and feedback["official"] is not None
    assert [r["passed"] for r in feedback["ratings"] if r["id"] == feedback["official"]] == [True]
    assert (await trainee.get(f"/api/recordings/{attempt}/ratings")).json()["official"] is None
    # The new attempt is not rated: replacing it needs no confirmation.
    assert (await upload(trainee, case_id, 8, media_files["short"])).status_code == 201
