"""The retention schedule, run by `dit retention run` on recordings of every age: it lists, then deletes,
exactly the files and transcripts that are due, and says why."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest

from server.clock import now
from server.models import AuditEvent, Recording, Transcript
from tests.conftest import open_case, run_queued_jobs, stored_files, upload
from tests.postgres import ROOT


def dit_retention(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DIT_DATA_DIR": str(settings.data_dir), "DIT_DATABASE_URL": settings.database_url}
    done = subprocess.run([sys.executable, "-m", "server.cli", "retention", "run", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def files_of(settings, recording: Recording) -> set:
    return {path for path in stored_files(settings) if recording.storage_key in str(path)}


@pytest.mark.slow
async def test_dit_retention_run_lists_then_deletes_exactly_what_is_due(people, settings, media_files):
    trainee, lead = people["trainee"], people["lead"]
    case_id = await open_case(trainee, "DIT-090")
    ids = {}
    for name, number in (("released_100", 1), ("idle_100", 2), ("rated_lately", 3), ("replaced", 4),
                         ("replacement", 4), ("released_400", 5), ("recent", 6)):
        answer = await upload(trainee, case_id, number, media_files["short"])
        assert answer.status_code == 201, answer.text
        ids[name] = answer.json()["id"]
    await run_queued_jobs(settings)
    assert await lead.post(f"/api/recordings/{ids['rated_lately']}/assignments", json={"supervisor": "supervisor"})
    assert (await people["supervisor"].request("PUT", f"/api/recordings/{ids['rated_lately']}/ratings/mine",
                                               json={})).status_code == 200
    days = lambda n: now() - timedelta(days=n)  # noqa: E731
    await Recording.filter(id__in=list(ids.values())).exclude(id=ids["recent"]).update(created_at=days(100))
    await Recording.filter(id=ids["released_400"]).update(created_at=days(500))
    await Recording.filter(id=ids["released_100"]).update(feedback_released_at=days(100))
    await Recording.filter(id=ids["released_400"]).update(feedback_released_at=days(400))
    await Recording.filter(id=ids["replaced"]).update(replaced_at=days(40))
    await Recording.filter(id=ids["replacement"]).update(created_at=days(40))
    recordings = {name: await Recording.get(id=rid) for name, rid in ids.items()}
    assert not recordings["replaced"].is_current and recordings["replacement"].is_current
    before = stored_files(settings)

    listed = dit_retention(settings, "--dry-run").stdout.splitlines()
    assert stored_files(settings) == before
    expected = [
        (ids["released_100"], "media", "its result was released on"),
        (ids["idle_100"], "media", "never released, and nothing done with it since"),
        (ids["replaced"], "media", "replaced on"),
        (ids["released_400"], "media", "its result was released on"),
        (ids["released_400"], "transcript", "more than 365 days ago"),
    ]
    assert len(listed) == len(expected) + 1 and listed[-1] == "Would delete 5 items."
    for line, (rid, part, why) in zip(listed, expected):
        assert line.startswith(f"Would delete recording {rid} (DIT-090 session ") and f"): {part}, " in line
        assert why in line

    deleted = dit_retention(settings).stdout.splitlines()
    assert [line.replace("Deleted", "Would delete") for line in deleted] == listed
    due = {ids["released_100"], ids["idle_100"], ids["replaced"], ids["released_400"]}
    keys = [recordings[name].storage_key for name in ids if ids[name] in due]
    gone = {path for path in before if any(key in str(path) for key in keys)}
    assert gone and before - stored_files(settings) == gone
    kept = [name for name in ids if ids[name] not in due]
    assert all(files_of(settings, recordings[name]) for name in kept)
    assert await Transcript.filter(recording_id=ids["released_400"]).count() == 0
    assert await Transcript.filter(recording_id=ids["released_100"]).count() == 1
    assert (await trainee.get(f"/api/recordings/{ids['released_100']}/media")).status_code == 410
    assert (await trainee.get(f"/api/recordings/{ids['released_100']}/transcript")).status_code == 200
    assert await AuditEvent.filter(username="retention schedule", action="delete").count() == 5

    assert dit_retention(settings).stdout.strip() == "Deleted 0 items."
