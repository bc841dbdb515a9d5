"""The worker's faults, on real components (the bundled model, ffmpeg, the database of the run: SQLite,
or PostgreSQL with procrastinate): the recognition child killed on cancel, on timeout and on SIGTERM,
attempts capped with backoff, and a worker that survives a failing database write."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from tortoise.connection import get_connection

from server.clock import now
from server.jobs import records, run_worker
from server.jobs.runner import JobRunner
from server.jobs.workers import fresh_workers
from server.models import JobStatus, Recording, Transcript, TranscriptionJob
from speechfixtures.recorded import jfk_wav
from tests.conftest import open_case, run_queued_jobs, upload
from tests.test_worker import wait_for_job
from transcription.formats import clock

ROOT = Path(__file__).resolve().parent.parent


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited: only its exit status is left for its parent to collect.
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


def descendants(pid: int) -> dict[int, int]:
    """Each process descended from `pid`, with its parent."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {child: parents[child] for child in found}


async def recognising(worker_pid: int, timeout: float = 60.0) -> set[int]:
    """The worker's descendants once its recognition child has started: multiprocessing's fork server, a
    child of the worker, forks it, so it is the worker's first grandchild. (Not "once the job shows some
    progress": a short recording's progress goes from none to all in one step, just before the job ends.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = descendants(worker_pid)
        if any(parent in found for parent in found.values()):
            return set(found)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no recognition process started in {timeout} s")


async def corrupt(settings, recording_id: int) -> None:
    """Every stored file of the recording overwritten: the audio can no longer be decoded."""
    recording = await Recording.get(id=recording_id)
    for path in (settings.recordings_dir / recording.storage_key).iterdir():
        path.write_bytes(b"not audio at all " * 1000)


async def running_child(runner: JobRunner, job_id: int) -> int:
    await wait_for_job(lambda job: job.id == job_id and job.status == JobStatus.RUNNING)
    while runner.recogniser.pid is None:
        await asyncio.sleep(0.05)
    return runner.recogniser.pid


@pytest.mark.slow
async def test_cancelling_a_job_kills_its_recognition_process_and_queues_it_again(people, settings, long_speech):
    trainee = people["trainee"]
    recording = (await upload(trainee, await open_case(trainee), 5, long_speech)).json()
    runner = JobRunner(settings, "test-worker")
    job = await records.claim_next(runner.worker)
    task = asyncio.create_task(runner.run(job))
    pid = await running_child(runner, job.id)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert not alive(pid)
    job = await TranscriptionJob.get(id=job.id)
    assert (job.status, job.worker, job.attempts) == (JobStatus.QUEUED, None, 0)
    assert await Transcript.filter(recording_id=recording["id"]).count() == 0


@pytest.mark.slow
@pytest.mark.settings(job_timeout_factor=0.01, job_timeout_min_seconds=2, job_max_attempts=1)
async def test_a_job_past_its_time_limit_is_stopped_with_a_reason(people, settings, long_speech):
    trainee = people["trainee"]
    await upload(trainee, await open_case(trainee), 5, long_speech)
    runner = JobRunner(settings, "test-worker")
    job = await records.claim_next(runner.worker)
    task = asyncio.create_task(runner.run(job))
    while runner.recogniser.pid is None:
        await asyncio.sleep(0.05)
    pid = runner.recogniser.pid

    assert await task == JobStatus.FAILED
    assert not alive(pid)
    job = await TranscriptionJob.get(id=job.id)
    recording = await Recording.get(id=job.recording_id)
    assert job.error == (f"Transcription took longer than 0:02, the limit for a recording of {clock(recording.duration)}, "
                         "and was stopped.")
    runner.close()


def start_worker(settings, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DIT_DATA_DIR": str(settings.data_dir), "DIT_DATABASE_URL": settings.database_url,
           "DIT_JOB_STALE_SECONDS": "5"}
    with log.open("a") as out:
        return subprocess.Popen([sys.executable, "-m", "server.cli", "worker"], cwd=ROOT, env=env,
                                stdout=out, stderr=out)


@pytest.mark.slow
async def test_sigterm_stops_dit_worker_within_seconds_and_hands_the_job_back(people, settings, long_speech,
                                                                              tmp_path):
    trainee = people["trainee"]
    recording = (await upload(trainee, await open_case(trainee), 5, long_speech)).json()
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        await wait_for_job(lambda job: job.status == JobStatus.RUNNING)
        children = await recognising(worker.pid)  # recognition runs in a child process
        stopping = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
        assert time.monotonic() - stopping < 5
    finally:
        worker.kill()
        worker.wait()
    # multiprocessing's fork server and resource tracker leave once they see the worker gone.
    deadline = time.monotonic() + 5
    while [pid for pid in children if alive(pid)] and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not [pid for pid in children if alive(pid)], (tmp_path / "worker.log").read_text()
    handed_back = await TranscriptionJob.get(recording_id=recording["id"])
    assert (handed_back.status, handed_back.attempts) == (JobStatus.QUEUED, 0)

    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        done = await wait_for_job(lambda job: job.status in (JobStatus.DONE, JobStatus.FAILED), timeout=180)
    finally:
        worker.terminate()
        worker.wait()
    assert (done.status, done.attempts) == (JobStatus.DONE, 1), done.error
    assert await Transcript.filter(recording_id=recording["id"]).count() == 1


@pytest.mark.slow
@pytest.mark.settings(job_backoff_seconds=1.0)
async def test_attempts_are_capped_with_backoff_and_the_last_failure_says_why(people, settings):
    trainee = people["trainee"]
    recording = (await upload(trainee, await open_case(trainee), 2, jfk_wav())).json()
    await corrupt(settings, recording["id"])

    starts = []
    deadline = time.monotonic() + 120
    while (job := await TranscriptionJob.get(recording_id=recording["id"])).status != JobStatus.FAILED:
        assert time.monotonic() < deadline, job.error
        await run_queued_jobs(settings)
        job = await TranscriptionJob.get(recording_id=recording["id"])
        if job.started_at not in starts:
            starts.append(job.started_at)
        await asyncio.sleep(0.2)

    assert job.attempts == 3 == len(starts)
    # 1 s after the first failure, 2 s after the second.
    waits = [(later - earlier).total_seconds() for earlier, later in zip(starts, starts[1:])]
    assert waits[0] >= 1.0 and waits[1] >= 2.0, waits
    assert job.error == "This file is not a recognisable audio or video recording. (tried 3 times)"
    status = (await trainee.get(f"/api/recordings/{recording['id']}")).json()
    assert (status["status"], status["error"]) == ("failed", job.error)
    # The trainee who uploaded it is told, once, with a link to where they can try again.
    told = (await trainee.get("/api/notifications")).json()["notifications"]
    assert [(n["kind"], n["link"]) for n in told] == [("transcription_failed", f"/recordings/{recording['id']}")]


FAULT = {
    "sqlite": ["CREATE TRIGGER fault BEFORE UPDATE OF status ON transcription_job WHEN NEW.status = 'failed' "
               "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"],
    "postgres": ["CREATE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS "
                 "$$ BEGIN RAISE EXCEPTION 'injected fault'; END $$",
                 "CREATE TRIGGER fault BEFORE UPDATE ON transcription_job FOR EACH ROW "
                 "WHEN (NEW.status = 'failed') EXECUTE FUNCTION fault()"],
}


@pytest.mark.slow
@pytest.mark.settings(job_max_attempts=1, job_stale_seconds=2)
async def test_the_worker_survives_a_failing_database_write(people, settings):
    """The FAILED update of a job whose audio cannot be decoded is refused by the database (a trigger);
    the worker goes on, the next recording is transcribed, and the first is settled once stale."""
    dialect = "postgres" if settings.database_url.startswith("postgres") else "sqlite"
    for statement in FAULT[dialect]:
        await get_connection("default").execute_script(statement)
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    broken = (await upload(trainee, case_id, 1, jfk_wav())).json()
    await corrupt(settings, broken["id"])

    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop))
    try:
        # The attempt ends, but its row cannot be marked failed: it stays running, silent.
        await wait_for_job(lambda job: job.status == JobStatus.RUNNING, timeout=60)
        deadline = time.monotonic() + 60
        # Silent for longer than job_stale_seconds: the attempt is over and taking the job back failed too.
        while (await TranscriptionJob.get(recording_id=broken["id"])).heartbeat_at > now() - timedelta(seconds=3):
            assert time.monotonic() < deadline and not worker.done()
            await asyncio.sleep(0.2)
        await get_connection("default").execute_script("DROP TRIGGER fault" if dialect == "sqlite"
                                                        else "DROP TRIGGER fault ON transcription_job")
        fine = (await upload(trainee, case_id, 2, jfk_wav())).json()
        done = await wait_for_job(lambda job: job.recording_id == fine["id"] and job.status == JobStatus.DONE,
                                  timeout=120)
        assert done.error is None and not worker.done()
        failed = await wait_for_job_of(broken["id"], JobStatus.FAILED)
        assert failed.error == records.STOPPED
        # What a readiness check reads: the worker's heartbeat is fresh.
        assert len(await fresh_workers(settings)) == 1
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=30)
    assert await fresh_workers(settings) == []  # a clean stop says so at once


async def wait_for_job_of(recording_id: int, status: JobStatus, timeout: float = 60) -> TranscriptionJob:
    deadline = time.monotonic() + timeout
    while (job := await TranscriptionJob.get(recording_id=recording_id)).status != status:
        assert time.monotonic() < deadline, (job.status, job.error)
        await asyncio.sleep(0.2)
    return job
