"""The procrastinate queue, on PostgreSQL whatever DIT_TEST_DATABASE says: a job is deferred in the
transaction that creates its row, and a recording cannot have two jobs waiting (tests/test_cluster.py
kills a worker with SIGKILL and sees its job retried by the periodic sweep and finished by another)."""

from __future__ import annotations

import pytest
from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from server.errors import Conflict
from server.jobs import queue_transcription
from server.jobs.postgres import TASK, recording_lock
from server.models import JobStatus, Recording, TranscriptionJob
from speechfixtures.recorded import jfk_wav
from tests.conftest import open_case, upload

# Chooses its databases itself: run once, in the first pass.
pytestmark = pytest.mark.own_database


@pytest.fixture(autouse=True)
def on_postgres(monkeypatch):
    """conftest's `settings` fixture reads this when it makes each test's database."""
    monkeypatch.setenv("DIT_TEST_DATABASE", "postgres")


async def queue_entries(recording_id: int) -> list[dict]:
    return await get_connection("default").execute_query_dict(
        "SELECT status::text, queueing_lock, lock, (args->>'job_id')::int AS job_id FROM procrastinate_jobs "
        "WHERE task_name = $1 AND queueing_lock = $2 ORDER BY id", [TASK, recording_lock(recording_id)])


class Rollback(Exception):
    pass


async def test_a_job_is_deferred_in_the_transaction_that_creates_it(people, settings):
    trainee = people["trainee"]
    recording_id = (await upload(trainee, await open_case(trainee), 1, jfk_wav())).json()["id"]
    first = await TranscriptionJob.get(recording_id=recording_id)
    assert await queue_entries(recording_id) == [
        {"status": "todo", "queueing_lock": f"recording:{recording_id}", "lock": f"recording:{recording_id}",
         "job_id": first.id}]
    await TranscriptionJob.filter(id=first.id).update(status=JobStatus.FAILED)
    await get_connection("default").execute_script("DELETE FROM procrastinate_jobs")

    recording = await Recording.get(id=recording_id)
    with pytest.raises(Rollback):
        async with in_transaction():
            await queue_transcription(recording, settings)
            raise Rollback
    assert await TranscriptionJob.filter(recording_id=recording_id).count() == 1
    assert await queue_entries(recording_id) == []

    retried = await trainee.post(f"/api/recordings/{recording_id}/retry")
    assert retried.status_code < 300, retried.text
    second = await TranscriptionJob.filter(recording_id=recording_id).order_by("-id").first()
    assert [entry["job_id"] for entry in await queue_entries(recording_id)] == [second.id]


async def test_a_recording_cannot_have_two_jobs_waiting(people, settings):
    trainee = people["trainee"]
    recording_id = (await upload(trainee, await open_case(trainee), 1, jfk_wav())).json()["id"]
    recording = await Recording.get(id=recording_id)

    with pytest.raises(Conflict):
        await queue_transcription(recording, settings)

    # Refused whole: no second row without its queue entry.
    assert await TranscriptionJob.filter(recording_id=recording_id).count() == 1
    assert len(await queue_entries(recording_id)) == 1
