"""The multi-machine deployment, run for real on this machine: PostgreSQL and an S3 server (from
`scripts/services`, through the same session fixtures as the other tests), one `dit serve` with two web
processes and two `dit worker`s, each process with a data directory of its own as if on a machine of its
own. Recordings are uploaded through the HTTP API, one worker is killed with SIGKILL in the middle of a
job, and every recording still ends transcribed exactly once, byte for byte in the bucket, playable by
range, with nothing left in any staging or scratch folder."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jiwer
import pytest

from server.config import S3_VARIABLES, s3_variables
from server.storage import Storage
from speechfixtures.recorded import JFK_TEXT, jfk_wav, librivox
from tests.browser import free_port
from tests.conftest import CONSENT
from tests.postgres import ROOT, fetch, new_database, run

# Chooses its databases itself: run once, in the first pass.
pytestmark = pytest.mark.own_database

PASSWORD = "cluster test pass phrase 7"
SECRET_KEY = "cluster-test-secret-key-0123456789abcdef"
# A killed worker's job is taken back after this many seconds of silence, and tried again at once. Not
# shorter: with both test passes at once on two cores, a live worker's heartbeat has been seen to lag 5 s,
# and its job was then taken back from it too (a third attempt).
STALE_SECONDS = "10"


def dit(*args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 120) -> str:
    done = subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=ROOT, env=env, input=stdin, text=True,
                          capture_output=True, timeout=timeout)
    assert done.returncode == 0, f"dit {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


class Cluster:
    """The processes of the deployment, each started in a process group of its own (so that the
    recogniser children of a killed worker go with it at the end), logging to a file."""

    def __init__(self, root: Path, common: dict[str, str]) -> None:
        self.root = root
        self.common = common
        self.processes: dict[str, subprocess.Popen] = {}

    def env(self, name: str, **extra: str) -> dict[str, str]:
        return {**self.common, "DIT_DATA_DIR": str(self.data_dir(name)), **extra}

    def data_dir(self, name: str) -> Path:
        return self.root / name / "data"

    def log(self, name: str) -> Path:
        return self.root / name / "log"

    def start(self, name: str, command: str, **extra: str) -> subprocess.Popen:
        self.log(name).parent.mkdir(parents=True, exist_ok=True)
        with self.log(name).open("w") as out:
            process = subprocess.Popen([sys.executable, "-m", "server.cli", command], cwd=ROOT,
                                       env=self.env(name, **extra), stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.processes[name] = process
        return process

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            # Whatever is left of its group: uvicorn's processes, a recogniser, a forkserver.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.log(name).read_text()[-4000:]}" for name in self.processes)


@pytest.fixture
def database(postgres_server) -> Iterator[str]:
    """A database of its own on the test server, empty: `dit migrate` makes its schema, as a release does."""
    with new_database(postgres_server) as url:
        yield url


@pytest.fixture
def cluster(tmp_path, database, s3_server) -> Iterator[Cluster]:
    prefix = f"cluster-{uuid.uuid4().hex[:12]}"
    common = {name: value for name, value in os.environ.items()
              if not name.startswith(("DIT_", "AWS_", "PROMETHEUS_", "WEB_CONCURRENCY", "PORT"))}
    common.update({name: s3_server[name] for name in S3_VARIABLES if name in s3_server})
    common.update({
        "PYTHONPATH": str(ROOT),
        "DIT_DATABASE_URL": database,
        "DIT_STORAGE_URL": f"{s3_server['DIT_TEST_S3_URL'].rstrip('/')}/{prefix}",
        "DIT_JOB_STALE_SECONDS": STALE_SECONDS,
        "DIT_JOB_BACKOFF_SECONDS": "0",
        "DIT_MFA_REQUIRED_ROLES": "",
        # No rating page is opened: the web processes need not train the on-model classifier.
        "DIT_WARM_CLASSIFIER": "0",
    })
    cluster = Cluster(tmp_path, common)
    try:
        yield cluster
    finally:
        cluster.stop()


def wait_until(what: str, check, timeout: float, cluster: Cluster, every: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answer := check():
            return answer
        for name, process in cluster.processes.items():
            assert process.poll() is None or name == "killed", f"{name} exited:\n{cluster.logs()}"
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout} s\n{cluster.logs()}")


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def live_group(pgid: int) -> list[int]:
    """The processes of a process group that still run (not zombies, which a container's first process may
    never reap)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


async def stored_keys(url: str) -> set[str]:
    return {stored.key async for stored in Storage.s3(url, dict(s3_variables(os.environ))).list()}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def recordings(long_speech) -> list[tuple[Path, str | None]]:
    """Four short clips of real speech with their words, and a minute and a half of speech first, to be
    caught mid-way."""
    return [(long_speech, None), (jfk_wav(), JFK_TEXT), *librivox()[:3]]


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


@pytest.mark.slow
def test_one_web_and_two_workers_on_postgres_and_s3_survive_a_killed_worker(cluster, database, recordings,
                                                                             monkeypatch):
    web_port = free_port()
    url = f"http://127.0.0.1:{web_port}"
    release = cluster.env("release")
    cluster.data_dir("release").mkdir(parents=True)
    assert "up to date" in dit("migrate", env=release)
    dit("users", "add", "--role", "trainee", "--name", "trainee", "--full-name", "Cluster Trainee",
        env=release, stdin=PASSWORD + "\n")

    web = cluster.start("web", "serve", PORT=str(web_port), WEB_CONCURRENCY="2", DIT_IN_PROCESS_WORKER="0",
                        DIT_SECRET_KEY=SECRET_KEY)
    workers = {name: cluster.start(name, "worker") for name in ("worker-a", "worker-b")}
    wait_until("the web is ready", lambda: ready(url), 120, cluster)
    # Both workers have their heartbeat row (and so have opened the database and started their queue).
    wait_until("two workers beat", lambda: len(fetch(database, "SELECT name FROM worker")) == 2, 120, cluster)

    with httpx.Client(base_url=url, timeout=60) as http:
        token = http.post("/api/token", json={"username": "trainee", "password": PASSWORD})
        assert token.status_code == 200, token.text
        http.headers["Authorization"] = f"Bearer {token.json()['token']}"
        case = http.post("/api/cases", json={"code": "CLU-001"})
        assert case.status_code == 201, case.text
        case_id = case.json()["id"]

        uploaded = {}
        for number, (path, text) in enumerate(recordings, start=1):
            with path.open("rb") as fh:
                answer = http.post(f"/api/cases/{case_id}/sessions/{number}/recording", data=CONSENT,
                                   files={"file": (path.name, fh, "audio/wav")})
            assert answer.status_code == 201, answer.text
            body = answer.json()
            assert body["sha256"] == sha256(path.read_bytes())
            uploaded[body["id"]] = (path, text, body)
        long_id = next(iter(uploaded))

        # The long recording's job, running on one of the workers and some way in: that worker is killed.
        def long_job_running():
            rows = fetch(database, "SELECT worker, progress FROM transcription_job "
                                   f"WHERE recording_id = {int(long_id)} AND status = 'running'")
            return rows[0]["worker"] if rows and rows[0]["progress"] > 0 else None

        busy = wait_until("the long job is under way", long_job_running, 120, cluster, every=0.1)
        victim = next(name for name, process in workers.items() if f":{process.pid}:" in busy)
        # The worker table names its job too.
        [row] = fetch(database, f"SELECT job_id FROM worker WHERE name = '{busy}'")
        assert row["job_id"] is not None
        os.kill(workers[victim].pid, signal.SIGKILL)
        workers[victim].wait(timeout=10)
        cluster.processes["killed"] = cluster.processes.pop(victim)
        survivor = next(name for name in workers if name != victim)
        # Its recogniser goes with it (the kernel kills it when the worker's forkserver exits): no recognition
        # runs on for a worker that is gone.
        wait_until("nothing of the killed worker runs", lambda: not live_group(workers[victim].pid), 15, cluster)

        def all_settled():
            statuses = [http.get(f"/api/recordings/{rid}").json() for rid in uploaded]
            return statuses if all(s["status"] in ("done", "failed") for s in statuses) else None

        statuses = wait_until("every recording is transcribed", all_settled, 240, cluster, every=0.5)
        assert [(s["status"], s["error"]) for s in statuses] == [("done", None)] * len(uploaded), statuses

        # Exactly once: one job row and one transcript per recording, the killed one finished by the survivor
        # on its second attempt, and one procrastinate job per recording, succeeded.
        jobs = fetch(database, "SELECT recording_id, status, attempts, worker FROM transcription_job")
        assert sorted(job["recording_id"] for job in jobs) == sorted(uploaded)
        assert {job["status"] for job in jobs} == {"done"}
        long_job = next(job for job in jobs if job["recording_id"] == long_id)
        assert long_job["attempts"] == 2 and f":{workers[survivor].pid}:" in long_job["worker"], long_job
        transcripts = fetch(database, "SELECT recording_id FROM transcript")
        assert sorted(t["recording_id"] for t in transcripts) == sorted(uploaded)
        queued = fetch(database, "SELECT status::text, count(*) AS n FROM procrastinate_jobs "
                                 "WHERE task_name = 'transcribe' GROUP BY 1")
        assert {row["status"]: row["n"] for row in queued} == {"succeeded": len(uploaded)}

        for recording_id, (path, text, body) in uploaded.items():
            transcript = http.get(f"/api/recordings/{recording_id}/transcript")
            assert transcript.status_code == 200
            said = words(" ".join(segment["text"] for segment in transcript.json()["segments"]))
            if text is not None:
                assert jiwer.wer(words(text), said) < 0.35, (text, said)
            else:
                assert len(said.split()) > 150, said

            # The bytes in the bucket are the upload's, through the media route's redirect to a presigned URL.
            media = http.get(f"/api/recordings/{recording_id}/media")
            assert media.status_code == 307
            assert media.headers["location"].startswith(cluster.common["AWS_ENDPOINT_URL"])
            whole = http.get(f"/api/recordings/{recording_id}/media", follow_redirects=True)
            assert whole.status_code == 200 and [r.status_code for r in whole.history] == [307]
            assert sha256(whole.content) == body["sha256"] == sha256(path.read_bytes())
            ranged = http.get(f"/api/recordings/{recording_id}/media", headers={"Range": "bytes=1000-1999"},
                              follow_redirects=True)
            assert ranged.status_code == 206 and ranged.content == whole.content[1000:2000]

    # The bucket holds each recording's original, and nothing else.
    storage_keys = {row["storage_key"] for row in fetch(database, "SELECT storage_key FROM recording")}
    for name in S3_VARIABLES:  # the store as the processes reach it
        if name in cluster.common:
            monkeypatch.setenv(name, cluster.common[name])
    stored = run(stored_keys(cluster.common["DIT_STORAGE_URL"]))
    assert len(stored) == len(uploaded) and {key.split("/")[0] for key in stored} == storage_keys

    # Nothing staged or scratched is left on the machines that run: not on the web machine (which keeps
    # nothing else either, the recordings being in the bucket), not on the surviving worker.
    web_recordings = cluster.data_dir("web") / "recordings"
    assert [p for p in web_recordings.rglob("*") if p != web_recordings / ".incoming"] == []
    assert list((cluster.data_dir(survivor) / "scratch").iterdir()) == []
    assert web.poll() is None and workers[survivor].poll() is None
    # The killed worker's machine has the scratch directory of the job it died in, held by no one: the sweep
    # that `dit worker` runs when it starts again (or `dit storage sweep`) removes it.
    [left] = (cluster.data_dir(victim) / "scratch").iterdir()
    swept = dit("storage", "sweep", env=cluster.env(victim))
    assert "removed 0 staging and 1 scratch directory, and 0 orphaned object(s)" in swept
    assert not left.exists()
