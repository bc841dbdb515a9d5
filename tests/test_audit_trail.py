"""The audit trail: what it records, who may read it, and that tampering with it shows.

tests/test_access.py walks every route with every role and checks each leaves one row with the right
outcome; these tests follow the trail through a recording's life and then break it on purpose."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest
from tortoise.connection import get_connection

from server.models import AuditEvent, Transcript
from tests.conftest import PASSWORD, open_case, run_queued_jobs, upload
from tests.postgres import ROOT


def dit_audit_verify(settings) -> subprocess.CompletedProcess:
    env = {**os.environ, "DIT_DATA_DIR": str(settings.data_dir), "DIT_DATABASE_URL": settings.database_url}
    return subprocess.run([sys.executable, "-m", "server.cli", "audit", "verify"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


async def events(client, **filters) -> list[dict]:
    response = await client.get("/api/audit-events", params=filters)
    assert response.status_code == 200, response.text
    return response.json()["events"]


async def transcribed(people, settings, media_files) -> int:
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    recording = (await upload(trainee, case_id, 3, media_files["wav"])).json()
    await run_queued_jobs(settings)
    return recording["id"]


async def test_reads_of_a_recording_are_on_its_trail_for_its_trainee_and_leads(people, settings, media_files):
    trainee, supervisor, lead, admin = (people[name] for name in ("trainee", "supervisor", "lead", "admin"))
    recording_id = await transcribed(people, settings, media_files)
    assert (await supervisor.get(f"/api/recordings/{recording_id}/transcript")).status_code == 200
    played = await trainee.get(f"/api/recordings/{recording_id}/media", headers={"Range": "bytes=0-99"})
    assert played.status_code == 206
    assert (await people["other_trainee"].get(f"/api/recordings/{recording_id}")).status_code == 404

    for reader in (trainee, lead, admin):
        rows = await events(reader, recording=recording_id)
        seen = {(row["user"], row["action"], row["object"], row["outcome"]) for row in rows}
        assert ("supervisor", "view", "transcript", "allowed") in seen
        assert ("trainee", "play", "media", "allowed") in seen
        assert ("trainee", "create", "recording", "allowed") in seen
        # Someone who may not see the recording tried: refused, and on its trail.
        assert ("other_trainee", "view", "recording", "refused") in seen
        assert all(row["recording"] == recording_id for row in rows)
    # The supervisor reads the recording but not who else did.
    assert (await supervisor.get("/api/audit-events", params={"recording": recording_id})).status_code == 403

    # Never a word of the transcript: the trail holds ids, names of actions and the actor.
    words = {word.strip(".,").lower() for segment in (await Transcript.get(recording_id=recording_id)).data["segments"]
             for word in segment["text"].split() if len(word) > 4}
    assert words
    for row in await AuditEvent.all().values():
        assert not words & {str(value).lower() for value in row.values()}


async def test_sign_in_failures_and_refused_tokens_are_recorded_with_where_they_came_from(people, http):
    wrong = await http.post("/api/token", data={"username": "trainee", "password": "not it"},
                            headers={"User-Agent": "guesser/1.0"})
    assert wrong.status_code == 401
    right = await http.post("/api/token", data={"username": "trainee", "password": PASSWORD})
    assert right.status_code == 200
    forged = await http.get("/api/cases", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401

    rows = await events(people["admin"])
    sign_ins = [row for row in rows if row["action"] == "sign_in"]
    assert [(row["user"], row["outcome"]) for row in sign_ins] == [("trainee", "allowed"), ("trainee", "refused")]
    assert sign_ins[1]["user_agent"] == "guesser/1.0" and sign_ins[1]["address"] == "127.0.0.1"
    refused = next(row for row in rows if row["object"] == "case" and row["outcome"] == "refused")
    assert refused["user"] is None and refused["status"] == 401


async def test_the_trail_is_filtered_and_exported_by_admins_only(people, settings, media_files, app):
    admin = people["admin"]
    recording_id = await transcribed(people, settings, media_files)
    await people["lead"].get(f"/api/recordings/{recording_id}/media")
    plays = await events(admin, action="play")
    assert plays and {row["user"] for row in plays} == {"lead"}
    assert {row["user"] for row in await events(admin, user="lead")} == {"lead"}
    today = plays[0]["at"][:10]
    # (Each read of the trail is on it too: the reads are set aside to compare.)
    dated = [row for row in await events(admin, **{"from": today, "to": today}) if row["object"] != "audit_trail"]
    assert dated == [row for row in await events(admin) if row["object"] != "audit_trail"]
    assert await events(admin, **{"from": "2000-01-01", "to": "2000-01-31"}) == []
    for bad, message in (({"action": "peek"}, "'action' is one of"), ({"recording": "x"}, "'recording' is a number"),
                         ({"from": "2026-13-01"}, "'from' must be a date")):
        refused = await admin.get("/api/audit-events", params=bad)
        assert refused.status_code == 400 and message in refused.json()["error"]

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
        from tests.test_access import login_by_cookie

        await login_by_cookie(browser, "admin")
        page = await browser.get("/audit-log", params={"action": "play"})
        assert page.status_code == 200 and "lead" in page.text and "Audit log" in page.text
        exported = await browser.get("/audit-log.csv", params={"user": "lead"})
        assert exported.headers["content-type"].startswith("text/csv")
        header, *lines = exported.text.splitlines()
        assert header.startswith("at,user,role,action,object") and lines and all(",lead," in line for line in lines)


async def test_the_recording_page_shows_who_has_accessed_it_to_its_trainee_only(people, settings, media_files, app):
    recording_id = await transcribed(people, settings, media_files)
    await people["supervisor"].get(f"/api/recordings/{recording_id}/transcript")
    from tests.test_access import login_by_cookie

    for username, shown in (("trainee", True), ("supervisor", False), ("lead", True)):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
            await login_by_cookie(browser, username)
            page = await browser.get(f"/recordings/{recording_id}")
            assert page.status_code == 200
            assert ("Who has accessed this recording" in page.text) is shown, username
            if shown:
                assert "supervisor" in page.text.split("Who has accessed this recording")[1]


@pytest.mark.slow
async def test_concurrent_requests_keep_one_chain_and_tampering_shows(people, settings, media_files):
    recording_id = await transcribed(people, settings, media_files)
    readers = [people[name] for name in ("trainee", "supervisor", "lead", "admin")] * 10
    answers = await asyncio.gather(*(reader.get(f"/api/recordings/{recording_id}") for reader in readers))
    assert {answer.status_code for answer in answers} == {200}
    count = await AuditEvent.all().count()
    verified = dit_audit_verify(settings)
    assert verified.returncode == 0, verified.stderr
    assert f"holds: {count} rows" in verified.stdout

    rows = await AuditEvent.all().order_by("id").values_list("id", flat=True)
    edited, removed = rows[5], rows[10]
    original = (await AuditEvent.get(id=edited)).username
    connection = get_connection("default")
    await connection.execute_script(f"UPDATE audit_event SET username = 'someone else' WHERE id = {edited}")
    broken = dit_audit_verify(settings)
    assert broken.returncode == 1
    assert f"broken at row {edited}: its contents changed" in broken.stderr and "The 5 rows before it hold" in broken.stderr

    # Put back, the edit no longer shows; a removed row does.
    await connection.execute_script(f"UPDATE audit_event SET username = '{original}' WHERE id = {edited}")
    assert dit_audit_verify(settings).returncode == 0
    await connection.execute_script(f"DELETE FROM audit_event WHERE id = {removed}")
    broken = dit_audit_verify(settings)
    assert broken.returncode == 1
    assert f"broken at row {rows[11]}: it does not follow the row before it" in broken.stderr
