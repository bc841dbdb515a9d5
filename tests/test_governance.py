"""Consent, deletion and withdrawn consent through the real app, database and storage."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, timedelta

from rating.scale import load_scale
from server.models import AuditEvent, JobStatus, Rating, Recording, Transcript, TranscriptionJob
from tests.conftest import open_case, run_queued_jobs, stored_files, upload

MIDDLE = [item.id for item in load_scale().items_for("middle")]


async def test_an_upload_is_kept_only_with_the_patients_written_consent_and_its_date(people, settings, media_files):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    tomorrow_but_one = (date.today() + timedelta(days=2)).isoformat()
    for consent, fields in (({}, {"consent_confirmed", "consent_date"}),
                            ({"consent_date": "2026-01-05"}, {"consent_confirmed"}),
                            ({"consent_confirmed": "true"}, {"consent_date"}),
                            ({"consent_confirmed": "true", "consent_date": "5/1/2026"}, {"consent_date"}),
                            ({"consent_confirmed": "true", "consent_date": tomorrow_but_one}, {"consent_date"})):
        refused = await upload(trainee, case_id, 1, media_files["wav"], consent=consent)
        assert refused.status_code == 422, refused.text
        assert "written consent" in refused.json()["error"] and set(refused.json()["errors"]) == fields
    assert stored_files(settings) == set() and await Recording.all().count() == 0

    kept = await upload(trainee, case_id, 1, media_files["wav"], consent={"consent_confirmed": "true",
                                                                         "consent_date": "2026-01-05"})
    assert kept.status_code == 201
    assert kept.json()["consent"]["date"] == "2026-01-05" and kept.json()["consent"]["confirmed_at"]
    assert kept.json()["consent"]["withdrawn_at"] is None and kept.json()["deleted"] is None


async def rated_draft(people, settings, media_files, number: int) -> int:
    """A transcribed session of the trainee's, assigned to 'supervisor', who has a draft with evidence."""
    trainee, lead = people["trainee"], people["lead"]
    case_id = (await people["trainee"].get("/api/cases")).json()["cases"]
    case_id = case_id[0]["id"] if case_id else await open_case(trainee)
    recording_id = (await upload(trainee, case_id, number, media_files["wav"])).json()["id"]
    await run_queued_jobs(settings)
    assert (await lead.post(f"/api/recordings/{recording_id}/assignments", json={"supervisor": "supervisor"})
            ).status_code == 201
    draft = {"scores": {MIDDLE[0]: 4}, "comments": {MIDDLE[0]: "Returns to the focus."}, "evidence": {MIDDLE[0]: [0]}}
    saved = await people["supervisor"].request("PUT", f"/api/recordings/{recording_id}/ratings/mine", json=draft)
    assert saved.status_code == 200, saved.text
    return recording_id


async def assert_gone(client, settings, recording_id: int) -> None:
    recording = await Recording.get(id=recording_id)
    assert not any(recording.storage_key in str(path) for path in stored_files(settings))
    assert await Transcript.filter(recording_id=recording_id).count() == 0
    for part in ("media", "transcript"):
        answer = await client.get(f"/api/recordings/{recording_id}/{part}")
        assert answer.status_code == 410 and "deleted on" in answer.json()["error"], part


async def test_a_trainee_deletes_before_rating_and_a_lead_at_any_time_with_a_reason(people, settings, media_files):
    trainee, lead = people["trainee"], people["lead"]
    case_id = await open_case(trainee)
    own = (await upload(trainee, case_id, 2, media_files["wav"])).json()["id"]
    await run_queued_jobs(settings)
    assert (await people["supervisor"].request("DELETE", f"/api/recordings/{own}")).status_code == 403
    assert (await people["other_trainee"].request("DELETE", f"/api/recordings/{own}")).status_code == 404
    deleted = await trainee.request("DELETE", f"/api/recordings/{own}", json={})
    assert deleted.status_code == 200, deleted.text
    tombstone = deleted.json()["deleted"]
    assert tombstone["by"] == "trainee" and "before it was rated" in tombstone["reason"]
    assert tombstone["consent_withdrawn"] is False
    await assert_gone(trainee, settings, own)
    assert (await trainee.request("DELETE", f"/api/recordings/{own}")).status_code == 410
    assert (await trainee.post(f"/api/recordings/{own}/retry")).status_code == 410

    rated = await rated_draft(people, settings, media_files, 6)
    refused = await trainee.request("DELETE", f"/api/recordings/{rated}")
    assert refused.status_code == 403 and "ask a course lead" in refused.json()["error"]
    no_reason = await lead.request("DELETE", f"/api/recordings/{rated}", json={"reason": " "})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]
    assert (await lead.request("DELETE", f"/api/recordings/{rated}",
                               json={"reason": "Uploaded to the wrong case."})).status_code == 200
    await assert_gone(lead, settings, rated)
    # The rating stays, a training record, without the moment it pointed to.
    rating = await Rating.get(recording_id=rated)
    assert rating.scores == {MIDDLE[0]: 4} and rating.evidence == {}
    assert await AuditEvent.filter(action="delete", recording_id=rated, outcome="allowed", username="lead").exists()


async def test_withdrawn_consent_deletes_at_once_whoever_rated_it(people, settings, media_files, app):
    trainee = people["trainee"]
    recording_id = await rated_draft(people, settings, media_files, 7)
    path = f"/api/recordings/{recording_id}/consent-withdrawn"
    assert (await people["supervisor"].post(path, json={"reason": "x"})).status_code == 403
    no_reason = await trainee.post(path, json={})
    assert no_reason.status_code == 400
    withdrawn = await trainee.post(path, json={"reason": "The patient wrote on 2 March asking for it to be deleted."})
    assert withdrawn.status_code == 200, withdrawn.text
    body = withdrawn.json()
    assert body["consent"]["withdrawn_at"] and body["deleted"]["consent_withdrawn"] is True
    assert body["deleted"]["reason"] == "Consent withdrawn: The patient wrote on 2 March asking for it to be deleted."
    await assert_gone(trainee, settings, recording_id)
    assert (await Rating.get(recording_id=recording_id)).evidence == {}

    import httpx

    from tests.test_access import login_by_cookie

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
        await login_by_cookie(browser, "trainee")
        page = await browser.get(f"/recordings/{recording_id}")
        assert page.status_code == 200
        assert "Consent withdrawn: deleted" in page.text and "asking for it to be deleted" in page.text
        assert "<audio" not in page.text and "Delete recording" not in page.text


async def test_a_recording_deleted_before_transcription_is_never_transcribed(people, settings, media_files):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    recording_id = (await upload(trainee, case_id, 3, media_files["wav"])).json()["id"]
    assert (await trainee.request("DELETE", f"/api/recordings/{recording_id}")).status_code == 200
    job = await TranscriptionJob.get(recording_id=recording_id)
    assert job.status == JobStatus.FAILED and job.error == "The recording was deleted."
    await run_queued_jobs(settings)
    assert await Transcript.filter(recording_id=recording_id).count() == 0


async def test_a_course_lead_exports_everything_held_about_a_case(people, settings, media_files):
    trainee, lead = people["trainee"], people["lead"]
    case_id = await open_case(trainee)
    kept = (await upload(trainee, case_id, 1, media_files["wav"])).json()["id"]
    removed = (await upload(trainee, case_id, 2, media_files["short"])).json()["id"]
    await run_queued_jobs(settings)
    assert (await trainee.request("DELETE", f"/api/recordings/{removed}", json={})).status_code == 200
    assert (await trainee.get(f"/api/cases/{case_id}/export")).status_code == 403

    answer = await lead.get(f"/api/cases/{case_id}/export")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    names = set(archive.namelist())
    assert names == {"case.json", "audit.csv", f"transcripts/session-01-recording-{kept}.json",
                     f"media/session-01-recording-{kept}.wav"}
    assert archive.read(f"media/session-01-recording-{kept}.wav") == media_files["wav"].read_bytes()
    document = json.loads(archive.read("case.json"))
    assert document["case"]["trainee"] == "trainee"
    by_id = {r["id"]: r for r in document["recordings"]}
    assert by_id[removed]["deleted"]["by"] == "trainee" and by_id[kept]["consent"]["date"] == "2026-01-05"
    assert by_id[kept]["suggested_verdict"] is None  # no suggestion was asked for
    audit = list(csv.DictReader(io.StringIO(archive.read("audit.csv").decode())))
    assert {row["action"] for row in audit} >= {"create", "delete"} and all(row["case"] == str(case_id) for row in audit)
    # The export itself is on the trail, and the scratch directory it was built in is gone.
    assert await AuditEvent.filter(action="export", case_id=case_id, username="lead").exists()
    assert not any(settings.scratch_dir.iterdir()) if settings.scratch_dir.exists() else True


async def test_the_data_directory_database_and_recordings_are_for_the_services_user_alone(people, settings,
                                                                                          media_files):
    trainee = people["trainee"]
    await upload(trainee, await open_case(trainee), 1, media_files["wav"])
    modes = {path: path.stat().st_mode & 0o777 for path in settings.data_dir.rglob("*")}
    assert settings.data_dir.stat().st_mode & 0o777 == 0o700
    for directory in (settings.recordings_dir, settings.incoming_dir, settings.scratch_dir, settings.models_dir):
        assert modes[directory] == 0o700, directory
    [original] = [path for path in stored_files(settings) if path.name.startswith("original")]
    assert modes[original] == 0o600 and modes[original.parent] == 0o700
    assert modes[settings.data_dir / "secret_key"] == 0o600
    if settings.database_url.startswith("sqlite://"):
        assert modes[settings.data_dir / "dit.sqlite3"] == 0o600
