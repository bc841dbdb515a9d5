"""The multi-machine shape on one machine: recordings transcribed per hour by one and by two `dit worker`s,
and a large upload's throughput through `dit serve` into S3 and into the local folder, as one table.

    python bench/cluster.py [--recordings 6] [--seconds 30] [--upload-mb 200] [--uploads 3]

PostgreSQL and the S3 server are those of `scripts/services` (started here when they are not running, and
stopped at the end if so). Each measurement gets a fresh database, migrated by `dit migrate`, with a trainee
added by `dit users add`, and one `dit serve` (DIT_IN_PROCESS_WORKER=0); every process has a data directory
of its own, as on a machine of its own.

1. Transcription, recordings in S3: with W workers running, W short warm-up recordings are transcribed first
   (each worker's recogniser loads its models once, as a worker does once in its life), then `--recordings`
   copies of `--seconds` of real speech are uploaded at once, and the clock runs from the first upload to
   the last transcript. Two workers on one machine share its cores: what they add is what one leaves idle.
2. Upload: a WAV of `--upload-mb` MB (a sine tone, 48 kHz stereo) posted to the API `--uploads` times,
   median and best, with DIT_STORAGE_URL empty (the local folder: staged, then linked into place) and
   s3://... (staged, then sent to the S3 server by multipart upload). The time is the whole request, from
   the first byte sent to the answer, which comes once the recording is stored and its rows committed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx

# The repository root, for `server` and `speechfixtures`, however the script is started.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tables import table  # noqa: E402
from server.config import S3_VARIABLES  # noqa: E402
from speechfixtures.mixes import varied_speech  # noqa: E402

# The patient's written consent to recording, which every upload confirms (a date in the past).
CONSENT = {"consent_confirmed": "true", "consent_date": "2026-01-05"}
from speechfixtures.recorded import librivox  # noqa: E402

PASSWORD = "cluster bench pass phrase 7"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the services -----------------------------------------------------------------------------------


def services(action: str, service: str) -> subprocess.CompletedProcess:
    # `weed` is found beside this interpreter when the checkout has no .venv of its own (a worktree).
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(ROOT / "scripts" / "services"), action, service], capture_output=True, text=True,
                          timeout=600, env=env)


@contextmanager
def running_services() -> Iterator[dict[str, str]]:
    """The variables `scripts/services` prints for PostgreSQL and S3; what was started here is stopped after."""
    started, variables = [], {}
    try:
        for service in ("postgres", "s3"):
            answer = services("status", service)
            if answer.returncode != 0:
                started.append(service)
                answer = services("up", service)
                if answer.returncode != 0:
                    raise SystemExit(f"scripts/services up {service} failed:\n{answer.stderr}")
            variables.update(re.findall(r"^export (\w+)=(\S+)$", answer.stdout, re.MULTILINE))
        yield variables
    finally:
        for service in reversed(started):
            services("down", service)


async def _execute(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def new_database(server_url: str) -> Iterator[str]:
    name = f"dit_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_execute(server_url, f"CREATE DATABASE {name}"))
    try:
        yield re.sub(r"/[^/]*$", f"/{name}", server_url)
    finally:
        asyncio.run(_execute(server_url, f"DROP DATABASE {name} WITH (FORCE)"))


# --- the processes ----------------------------------------------------------------------------------


class Deployment:
    """A database of its own, migrated, with a trainee; `dit serve` and any `dit worker`s, each with a data
    directory of its own and in a process group of its own, stopped (and their groups killed) at the end."""

    def __init__(self, root: Path, database: str, variables: dict[str, str], storage_url: str) -> None:
        self.root = root
        self.common = {name: value for name, value in os.environ.items()
                       if not name.startswith(("DIT_", "AWS_", "PROMETHEUS_", "WEB_CONCURRENCY", "PORT"))}
        self.common.update({name: variables[name] for name in S3_VARIABLES if name in variables})
        self.common.update({"PYTHONPATH": str(ROOT), "DIT_DATABASE_URL": database, "DIT_STORAGE_URL": storage_url,
                            "DIT_MFA_REQUIRED_ROLES": ""})
        self.processes: list[subprocess.Popen] = []
        self.database = database
        self.url = ""

    def env(self, name: str, **extra: str) -> dict[str, str]:
        data_dir = self.root / name
        data_dir.mkdir(parents=True, exist_ok=True)
        return {**self.common, "DIT_DATA_DIR": str(data_dir), **extra}

    def dit(self, *args: str, stdin: str | None = None) -> None:
        done = subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=ROOT, env=self.env("release"),
                              input=stdin, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise SystemExit(f"dit {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    def start(self, name: str, command: str, *args: str, **extra: str) -> subprocess.Popen:
        with (self.root / f"{name}.log").open("w") as log:
            process = subprocess.Popen([sys.executable, "-m", "server.cli", command, *args], cwd=ROOT,
                                       env=self.env(name, **extra), stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.processes.append(process)
        return process

    def __enter__(self) -> Deployment:
        self.dit("migrate")
        self.dit("users", "add", "--role", "trainee", "--name", "trainee", stdin=PASSWORD + "\n")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        # Warnings only: an access-log line per request is work the upload would be timed with.
        web = self.start("web", "serve", "--log-level", "warning", PORT=str(port), DIT_IN_PROCESS_WORKER="0")
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if web.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise SystemExit("dit serve did not start:\n" + (self.root / "web.log").read_text())
            time.sleep(0.2)

    def __exit__(self, *_) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()

    @contextmanager
    def client(self) -> Iterator[httpx.Client]:
        """An HTTP client with the trainee's bearer token, from POST /api/token."""
        with httpx.Client(base_url=self.url, timeout=600) as http:
            token = http.post("/api/token", json={"username": "trainee", "password": PASSWORD})
            token.raise_for_status()
            http.headers["Authorization"] = f"Bearer {token.json()['token']}"
            yield http

    def workers_beating(self) -> int:
        async def count() -> int:
            connection = await asyncpg.connect(self.database)
            try:
                return await connection.fetchval("SELECT count(*) FROM worker")
            finally:
                await connection.close()

        return asyncio.run(count())


def open_case(http: httpx.Client, code: str) -> int:
    answer = http.post("/api/cases", json={"code": code})
    answer.raise_for_status()
    return answer.json()["id"]


def upload(http: httpx.Client, case_id: int, number: int, path: Path) -> int:
    with path.open("rb") as fh:
        answer = http.post(f"/api/cases/{case_id}/sessions/{number}/recording", data=CONSENT,
                           files={"file": (path.name, fh, "audio/wav")})
    if answer.status_code != 201:
        raise SystemExit(f"upload answered {answer.status_code}: {answer.text}")
    return answer.json()["id"]


def wait_done(http: httpx.Client, recording_ids: list[int], timeout: float = 3600) -> None:
    deadline = time.monotonic() + timeout
    pending = set(recording_ids)
    while pending:
        for recording_id in list(pending):
            status = http.get(f"/api/recordings/{recording_id}").json()
            if status["status"] == "failed":
                raise SystemExit(f"recording {recording_id} failed: {status['error']}")
            if status["status"] == "done":
                pending.discard(recording_id)
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} recording(s) not transcribed in {timeout} s")
        time.sleep(0.2)


# --- the measurements -------------------------------------------------------------------------------


def transcription_rate(root: Path, variables: dict[str, str], workers: int, speech: Path, warm_up: Path,
                       recordings: int) -> float:
    """Seconds from the first upload of `recordings` copies of `speech` to the last transcript."""
    storage_url = f"{variables['DIT_TEST_S3_URL'].rstrip('/')}/bench-{uuid.uuid4().hex[:12]}"
    with new_database(variables["DIT_TEST_POSTGRES_URL"]) as database, \
            Deployment(root / f"workers-{workers}", database, variables, storage_url) as deployment:
        for number in range(workers):
            deployment.start(f"worker-{number}", "worker")
        deadline = time.monotonic() + 120
        while deployment.workers_beating() < workers:
            if time.monotonic() > deadline:
                raise SystemExit("the workers did not start; see their logs")
            time.sleep(0.2)
        with deployment.client() as http:
            warm_case = open_case(http, "WARM-001")
            wait_done(http, [upload(http, warm_case, number, warm_up) for number in range(1, workers + 1)])
            cases = [open_case(http, f"BENCH-{number:03}") for number in range(1 + (recordings - 1) // 16)]
            started = time.perf_counter()
            ids = [upload(http, cases[number // 16], number % 16 + 1, speech) for number in range(recordings)]
            wait_done(http, ids)
            return time.perf_counter() - started


def upload_seconds(root: Path, variables: dict[str, str], storage: str, media: Path, uploads: int) -> list[float]:
    storage_url = (f"{variables['DIT_TEST_S3_URL'].rstrip('/')}/bench-{uuid.uuid4().hex[:12]}"
                   if storage == "s3" else "")
    with new_database(variables["DIT_TEST_POSTGRES_URL"]) as database, \
            Deployment(root / f"upload-{storage}", database, variables, storage_url) as deployment, \
            deployment.client() as http:
        case_id = open_case(http, "UPLOAD-001")
        times = []
        for number in range(1, uploads + 1):
            started = time.perf_counter()
            upload(http, case_id, number, media)
            times.append(time.perf_counter() - started)
        return times



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", type=int, default=6, help="recordings transcribed per measurement (6)")
    parser.add_argument("--seconds", type=float, default=30, help="seconds of speech in each (30)")
    parser.add_argument("--upload-mb", type=float, default=200, help="size of the uploaded file, MB (200)")
    parser.add_argument("--uploads", type=int, default=3, help="uploads timed per storage (3)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="dit-cluster-bench-") as scratch, running_services() as variables:
        root = Path(scratch)
        # Real speech, cut to length (one round of the fixtures' pieces is about a minute).
        joined, _ = varied_speech(root / "joined.wav", args.seconds)
        speech = root / "speech.wav"
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(joined), "-t", str(args.seconds), str(speech)],
                       check=True)
        seconds = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                                        "csv=p=0", str(speech)], capture_output=True, text=True,
                                       check=True).stdout)
        warm_up = librivox()[0][0]
        media = root / "large.wav"
        # 48 kHz, stereo, 16-bit: 192 kB a second.
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                        "sine=frequency=440:sample_rate=48000", "-ac", "2",
                        "-t", f"{args.upload_mb * 1e6 / 192_000:.3f}", str(media)], check=True)
        size_mb = media.stat().st_size / 1e6

        walls = {workers: transcription_rate(root, variables, workers, speech, warm_up, args.recordings)
                 for workers in (1, 2)}
        uploads = {storage: upload_seconds(root, variables, storage, media, args.uploads)
                   for storage in ("local", "s3")}

    print(f"{os.cpu_count()} cores; PostgreSQL and SeaweedFS (weed mini) on 127.0.0.1; faster-whisper tiny.en int8; "
          f"{args.recordings} recordings of {seconds:.0f} s of speech in S3; a {size_mb:.0f} MB WAV uploaded "
          f"{args.uploads} times per storage")
    rows = []
    for workers, wall in walls.items():
        rows.append([f"transcription, {workers} worker{'s' if workers > 1 else ''}", f"{wall:.1f}",
                     f"{args.recordings / wall * 3600:.0f} recordings/h",
                     f"{args.recordings * seconds / wall:.1f} h of audio/h",
                     f"x{walls[1] / wall:.2f}"])
    for storage, times in uploads.items():
        median = statistics.median(times)
        rows.append([f"upload {size_mb:.0f} MB, {'local folder' if storage == 'local' else 'S3'}", f"{median:.1f}",
                     f"{size_mb / median:.0f} MB/s", f"best {size_mb / min(times):.0f} MB/s",
                     f"x{statistics.median(uploads['local']) / median:.2f}"])
    print(table(["measurement", "seconds", "rate", "", "relative"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
