"""Transcription jobs: off the event loop, and surviving a worker that is stopped mid-job."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from server.config import Settings
from server.models import JobStatus, Transcript, TranscriptionJob
from tests.conftest import open_case, upload


async def wait_for_job(predicate, timeout: float = 120.0) -> TranscriptionJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = await TranscriptionJob.all().order_by("-id").first()
        if job is not None and predicate(job):
            return job
        await asyncio.sleep(0.2)
    raise AssertionError(f"the job did not get there in {timeout} s: {job.status if job else None}")


def start_worker(settings) -> subprocess.Popen:
    # The job taken back from a killed worker is retried at once: waiting out the backoff tests nothing here.
    env = {**os.environ, "DIT_DATA_DIR": str(settings.data_dir), "DIT_JOB_STALE_SECONDS": "5",
           "DIT_JOB_BACKOFF_SECONDS": "0", "DIT_DATABASE_URL": settings.database_url}
    return subprocess.Popen([sys.executable, "-m", "server.cli", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
@pytest.mark.sqlite_only("tests/test_cluster.py kills a worker mid-job on PostgreSQL and sees the job completed")
async def test_a_job_interrupted_by_stopping_the_worker_completes_after_restart(people, settings, long_speech):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    recording = (await upload(trainee, case_id, 5, long_speech)).json()

    worker = start_worker(settings)
    try:
        await wait_for_job(lambda job: job.status == JobStatus.RUNNING)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    interrupted = await TranscriptionJob.get(recording_id=recording["id"])
    assert interrupted.status == JobStatus.RUNNING  # its worker died without a word
    assert await Transcript.filter(recording_id=recording["id"]).count() == 0

    worker = start_worker(settings)
    try:
        done = await wait_for_job(lambda job: job.status in (JobStatus.DONE, JobStatus.FAILED))
    finally:
        worker.terminate()
        worker.wait()
    assert done.status == JobStatus.DONE, done.error
    assert done.attempts == 2
    assert await TranscriptionJob.filter(recording_id=recording["id"]).count() == 1
    assert await Transcript.filter(recording_id=recording["id"]).count() == 1
    transcript = (await trainee.get(f"/api/recordings/{recording['id']}/transcript")).json()
    assert transcript["segments"][-1]["end"] > 25


@pytest.mark.slow
@pytest.mark.settings(in_process_worker=True)
async def test_the_web_answers_while_a_recording_is_transcribed(people, settings, long_speech):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    recording = (await upload(trainee, case_id, 5, long_speech)).json()
    # Running, not some progress: a recording this short is recognised in one batch, so its progress goes
    # from none to all in one step, and speakers are found meanwhile, leaving nothing after it to wait for.
    await wait_for_job(lambda job: job.status == JobStatus.RUNNING)
    for _ in range(5):
        assert (await trainee.get(f"/api/recordings/{recording['id']}")).status_code == 200
    status = (await trainee.get(f"/api/recordings/{recording['id']}")).json()
    # Had the transcription blocked the event loop, these answers would only come after it finished.
    assert status["status"] == "running" and 0 <= status["progress"] < 100
    finished = await wait_for_job(lambda job: job.status == JobStatus.DONE)
    assert finished.progress == 1.0


def test_worker_threads_are_every_core_alone_one_fewer_beside_the_web_or_as_set(tmp_path):
    cores = len(os.sched_getaffinity(0))
    settings = Settings.from_env({"DIT_DATA_DIR": str(tmp_path)})
    assert settings.recognition_threads(beside_web=False) == cores
    assert settings.recognition_threads(beside_web=True) == max(1, cores - 1)
    chosen = Settings.from_env({"DIT_DATA_DIR": str(tmp_path), "DIT_WORKER_THREADS": "3"})
    assert chosen.recognition_threads(beside_web=False) == chosen.recognition_threads(beside_web=True) == 3
    with pytest.raises(SystemExit, match="DIT_WORKER_THREADS must be a whole number"):
        Settings.from_env({"DIT_DATA_DIR": str(tmp_path), "DIT_WORKER_THREADS": "all"})
