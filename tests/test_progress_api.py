"""Accreditation progress through the real app: tapes, supervision hours and dates add up."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from rating.scale import load_scale
from tests.conftest import open_case, run_queued_jobs, upload

MIDDLE = [item.id for item in load_scale().items_for("middle")]


async def supervision_hours(client, trainee_id: int) -> float:
    progress = (await client.get(f"/api/trainees/{trainee_id}/progress")).json()
    return next(r for r in progress["requirements"] if r["id"] == "supervision_hours")["done"]


@pytest.mark.slow
async def test_progress_counts_released_tapes_hours_and_dates(people, settings, media_files):
    trainee, sue, lead = people["trainee"], people["supervisor"], people["lead"]
    tid = trainee.user.id
    case_id = await open_case(trainee, "DIT-400")
    rid = (await upload(trainee, case_id, 8, media_files["short"])).json()["id"]
    await run_queued_jobs(settings)
    await lead.post(f"/api/recordings/{rid}/assignments", json={"supervisor": "supervisor"})
    await sue.request("PUT", f"/api/recordings/{rid}/ratings/mine", json={"scores": {i: 4 for i in MIDDLE}})
    await sue.post(f"/api/recordings/{rid}/ratings/mine/submit")

    logged = await sue.post(f"/api/trainees/{tid}/supervision", json={"held_on": str(date.today()), "hours": 1.5})
    assert logged.status_code == 201 and logged.json()["awaiting_confirmation"] is False
    # The trainee's own entry counts once their supervisor confirms it; the trainee cannot confirm it.
    own = await trainee.post(f"/api/trainees/{tid}/supervision", json={"held_on": str(date.today()), "hours": 2})
    assert own.status_code == 201 and own.json()["awaiting_confirmation"] is True
    hours = await supervision_hours(trainee, tid)
    assert hours == 1.5
    confirm = f"/api/trainees/{tid}/supervision/{own.json()['id']}/confirm"
    assert (await trainee.post(confirm)).status_code == 403
    assert (await people["other_supervisor"].post(confirm)).status_code == 404
    confirmed = await sue.post(confirm)
    assert confirmed.status_code == 200 and confirmed.json()["confirmed_at"]
    assert (await sue.post(confirm)).status_code == 409
    future = await trainee.post(f"/api/trainees/{tid}/supervision",
                                json={"held_on": str(date.today() + timedelta(days=3)), "hours": 1})
    assert future.status_code == 400 and "future" in future.json()["error"]
    too_long = await trainee.post(f"/api/trainees/{tid}/supervision", json={"held_on": str(date.today()), "hours": 30})
    assert too_long.status_code == 400
    started = date.today() - timedelta(days=330)
    recorded = await lead.request("PUT", f"/api/trainees/{tid}/training-record",
                                  json={"training_completed_on": str(started), "roleplay_certificate_on": str(date.today())})
    assert recorded.status_code == 200
    bad_date = await lead.request("PUT", f"/api/trainees/{tid}/training-record", json={"case_study_on": "last week"})
    assert bad_date.status_code == 400 and "YYYY-MM-DD" in bad_date.json()["error"]

    progress = (await trainee.get(f"/api/trainees/{tid}/progress")).json()
    requirements = {r["id"]: r for r in progress["requirements"]}
    assert requirements["training_cases"]["done"] == 1
    assert requirements["passed_tapes"]["done"] == 1 and requirements["passed_tapes"]["phases"] == ["middle"]
    assert requirements["supervision_hours"]["done"] == 3.5
    assert requirements["roleplay_certificate"]["met"] and not requirements["case_study"]["met"]
    assert progress["tapes"] == [{"case": "DIT-400", "session": 8, "phase": "middle", "passed": True}]
    # Supervision is due within a year of the training: 35 days left, inside the warning window.
    assert progress["deadlines"][0]["status"] == "approaching"
    assert any("Supervision hours" in w for w in progress["warnings"])
    assert (await people["other_trainee"].get(f"/api/trainees/{tid}/progress")).status_code == 404
