"""Recordings storage on a real S3 server (SeaweedFS's `weed mini`, from `scripts/services`) and on a
local folder: the Storage class itself, the upload -> working audio -> playback path through the app,
and what is left after faults (a failed commit, a `kill -9` mid-upload, a five-hour silent file)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from tortoise import Tortoise

from server.config import S3_VARIABLES, s3_variables
from server.models import Recording, TranscriptionJob
from server.security.envelope import CHUNK, MAGIC, Envelope, new_data_key
from server.security.keyring import generate_file
from server.services.media import SealedMedia, original_key
from server.services.recordings import working_audio
from server.services.storage_sweep import sweep_orphans
from server.storage import Storage, StorageError, storage_for
from server.web.app import create_app
from server.workdirs import LOCK_FILE
from tests.browser import free_port
from tests.conftest import CONSENT, ffmpeg, open_case, run_queued_jobs, sha256_of, stored_files, upload
from tests.postgres import ROOT, backend
from transcription.media import probe


@pytest.fixture
def s3_url(s3_server, monkeypatch) -> str:
    """A prefix of the bucket for this test alone; obstore reads the AWS_* variables from the environment."""
    for name in S3_VARIABLES:
        if name in s3_server:
            monkeypatch.setenv(name, s3_server[name])
    return f"{s3_server['DIT_TEST_S3_URL'].rstrip('/')}/test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(request, settings, s3_url, tmp_path):
    """Every app in this module keeps its recordings in S3; an `encrypted` test's sealed under a master key."""
    settings = replace(settings, storage_url=s3_url, s3_variables=s3_variables(os.environ))
    if request.node.get_closest_marker("encrypted"):
        generate_file(tmp_path / "master.key")
        settings = replace(settings, encryption_key_file=tmp_path / "master.key")
    return settings


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path) -> Storage:
    if request.param == "local":
        return Storage.local(tmp_path / "store")
    return Storage.s3(request.getfixturevalue("s3_url"), dict(s3_variables(os.environ)))


async def keys(storage: Storage, prefix: str | None = None) -> set[str]:
    return {stored.key async for stored in storage.list(prefix)}


async def put_bytes(storage: Storage, key: str, data: bytes, folder: Path) -> None:
    source = folder / str(uuid.uuid4())
    source.write_bytes(data)
    await storage.put_file(key, source)


async def test_put_download_and_delete(storage, tmp_path):
    # Larger than obstore's 5 MB part: a multipart upload on S3.
    data = os.urandom(12 * 1024 * 1024 + 123)
    source = tmp_path / "upload"
    source.write_bytes(data)
    key = f"{uuid.uuid4()}/original.wav"
    await storage.put_file(key, source)
    assert (await storage.head(key)).size == len(data)

    downloaded = tmp_path / "scratch" / "original.wav"
    downloaded.parent.mkdir()
    await asyncio.to_thread(storage.download, key, downloaded)
    assert sha256_of(downloaded) == hashlib.sha256(data).hexdigest()
    with pytest.raises(FileNotFoundError):
        await asyncio.to_thread(storage.download, f"{uuid.uuid4()}/original.wav", tmp_path / "scratch" / "missing")
    assert sorted(p.name for p in downloaded.parent.iterdir()) == ["original.wav"]

    assert await keys(storage) == {key}
    assert await storage.delete_prefix(key.split("/")[0]) == 1
    assert await storage.head(key) is None and await keys(storage) == set()


async def test_a_local_file_is_linked_into_the_local_store_and_uploaded_to_s3(storage, tmp_path):
    source = tmp_path / "upload"
    source.write_bytes(os.urandom(300_000))
    key = f"{uuid.uuid4()}/original.mp3"
    await storage.put_file(key, source)
    assert source.exists(), "the staged file is the caller's to remove"
    assert (await storage.head(key)).size == 300_000
    if storage.is_local:
        # No copy of a recording that may be gigabytes: the staging folder is on the same file system.
        assert storage.local_path(key).stat().st_ino == source.stat().st_ino
        with pytest.raises(StorageError):
            storage.presigned_url(key)
        assert storage.media_origin() is None
    else:
        assert storage.local_path(key) is None
        assert storage.media_origin() == os.environ["AWS_ENDPOINT_URL"]
        url = storage.presigned_url(key, seconds=60)
        async with httpx.AsyncClient() as client:
            ranged = await client.get(url, headers={"Range": "bytes=100-199"})
            assert ranged.status_code == 206
            assert ranged.content == source.read_bytes()[100:200]
            # Signed for GET alone, and for this key alone.
            assert (await client.put(url, content=b"x")).status_code == 403
            assert (await client.get(url.replace("original.mp3", "other.mp3"))).status_code == 403


def _download_in_child(storage: Storage, key: str, destination: Path, answers) -> None:
    try:
        storage.download(key, destination)
        answers.put("downloaded")
    except StorageError as exc:
        answers.put(str(exc))


async def test_a_forked_child_downloads_from_a_local_store_and_is_told_why_not_from_s3(storage, tmp_path):
    """A child forked after its parent used S3 would hang on obstore's runtime: it gets an error instead.
    The local store's downloads are plain file operations, which work in any child."""
    key = f"{uuid.uuid4()}/original.wav"
    await put_bytes(storage, key, b"recording", tmp_path)
    context = multiprocessing.get_context("fork")
    answers = context.Queue()
    child = context.Process(target=_download_in_child, args=(storage, key, tmp_path / "copy.wav", answers))
    child.start()
    answer = await asyncio.to_thread(answers.get, timeout=30)
    child.join(timeout=10)
    if storage.is_local:
        assert answer == "downloaded" and (tmp_path / "copy.wav").read_bytes() == b"recording"
    else:
        assert "'spawn' or 'forkserver'" in answer


async def test_keys_cannot_climb_out_of_the_store(storage):
    for key in ("../etc/passwd", "/abs/original.wav", "a/./b", "a//b", ""):
        with pytest.raises(ValueError):
            await storage.head(key)


async def test_sealed_ranges_open_only_the_chunks_they_touch(storage, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 777)
    (tmp_path / "plain").write_bytes(data)
    envelope = Envelope(new_data_key())
    envelope.seal_file(tmp_path / "plain", tmp_path / "sealed")
    key = f"{uuid.uuid4()}/original.wav"
    await storage.put_file(key, tmp_path / "sealed")
    media = SealedMedia(storage, key, envelope, (await storage.head(key)).size)
    assert media.size == len(data)
    # Whole; across one boundary; across several storage requests (16 chunks each); the last byte.
    for start, end in ((0, len(data)), (CHUNK - 1, CHUNK + 1), (5, 17 * CHUNK + 3), (len(data) - 1, len(data))):
        assert b"".join([part async for part in media.read(start, end)]) == data[start:end], (start, end)


async def test_upload_working_audio_and_playback_on_s3(people, settings, media_files, tmp_path):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    response = await upload(trainee, case_id, 2, media_files["mp3"])
    assert response.status_code == 201, response.text
    body = response.json()
    recording = await Recording.get(id=body["id"])
    storage = storage_for(settings)

    # The original is in the bucket, byte for byte; nothing stays on the web machine's disk.
    stored = tmp_path / "stored.mp3"
    await asyncio.to_thread(storage.download, original_key(recording), stored)
    assert sha256_of(stored) == body["sha256"] == sha256_of(media_files["mp3"])
    assert await keys(storage) == {original_key(recording)}
    assert stored_files(settings) == set() and list(settings.incoming_dir.iterdir()) == []

    # The worker's view: downloaded and normalised in a scratch directory, removed afterwards.
    with working_audio(settings, recording) as files:
        assert sha256_of(files.original) == body["sha256"]
        audio = probe(files.audio)
        assert (audio.sample_rate, audio.channels) == (16000, 1)
    assert list(settings.scratch_dir.iterdir()) == []

    # Playback: a redirect to a presigned address, where Range works; the access checks are as ever.
    media = await trainee.get(f"/api/recordings/{body['id']}/media")
    assert media.status_code == 307
    assert media.headers["location"].startswith(os.environ["AWS_ENDPOINT_URL"])
    async with httpx.AsyncClient() as client:
        ranged = await client.get(media.headers["location"], headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.content == media_files["mp3"].read_bytes()[:100]
    assert (await people["supervisor"].get(f"/api/recordings/{body['id']}/media")).status_code == 307
    assert (await people["other_trainee"].get(f"/api/recordings/{body['id']}/media")).status_code == 404
    assert (await people["anonymous"].get(f"/api/recordings/{body['id']}/media")).status_code == 401
    # The player may follow the redirect: the pages' policy names the S3 origin for media.
    csp = media.headers["content-security-policy"]
    assert f"media-src 'self' {os.environ['AWS_ENDPOINT_URL']}" in csp

    await storage.delete_prefix(recording.storage_key)
    missing = await trainee.get(f"/api/recordings/{body['id']}/media")
    assert missing.status_code == 404 and "missing from storage" in missing.json()["error"]


@pytest.mark.encrypted
async def test_a_sealed_recording_in_s3_plays_through_the_app_and_opens_for_the_worker(people, settings, media_files,
                                                                                      tmp_path):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    body = (await upload(trainee, case_id, 2, media_files["wav"])).json()
    recording = await Recording.get(id=body["id"])
    storage = storage_for(settings)
    stored = tmp_path / "stored"
    await asyncio.to_thread(storage.download, original_key(recording), stored)
    assert stored.read_bytes().startswith(MAGIC) and list(settings.incoming_dir.iterdir()) == []

    # Played through the app, not redirected to the bucket (which holds only ciphertext); Range as ever.
    original = media_files["wav"].read_bytes()
    whole = await trainee.get(f"/api/recordings/{body['id']}/media")
    assert whole.status_code == 200 and whole.content == original
    start, end = len(original) // 3, 2 * len(original) // 3
    part = await trainee.get(f"/api/recordings/{body['id']}/media", headers={"Range": f"bytes={start}-{end}"})
    assert part.status_code == 206 and part.content == original[start:end + 1]
    with working_audio(settings, recording) as files:
        assert sha256_of(files.original) == body["sha256"]
    assert list(settings.scratch_dir.iterdir()) == []


@pytest.mark.slow
async def test_a_recording_in_s3_is_transcribed_by_the_worker(people, settings, media_files):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    body = (await upload(trainee, case_id, 1, media_files["wav"])).json()
    await run_queued_jobs(settings)
    status = (await trainee.get(f"/api/recordings/{body['id']}")).json()
    assert (status["status"], status["error"]) == ("done", None)
    transcript = (await trainee.get(f"/api/recordings/{body['id']}/transcript?format=txt")).text
    assert "country" in transcript.lower()
    assert list(settings.scratch_dir.iterdir()) == []


async def fail_job_inserts() -> None:
    """A real database refusal at the last write of an upload: a trigger on the jobs table."""
    connection = Tortoise.get_connection("default")
    if backend() == "postgres":
        await connection.execute_script(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql;"
            "CREATE TRIGGER refuse BEFORE INSERT ON transcription_job FOR EACH ROW EXECUTE FUNCTION refuse();")
    else:
        await connection.execute_script(
            "CREATE TRIGGER refuse BEFORE INSERT ON transcription_job BEGIN SELECT RAISE(ABORT, 'refused'); END;")


async def test_a_failed_commit_leaves_no_row_and_no_object(people, settings, media_files):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    await fail_job_inserts()
    with pytest.raises(Exception, match="refused"):
        await upload(trainee, case_id, 3, media_files["short"])
    assert await Recording.all().count() == 0 and await TranscriptionJob.all().count() == 0
    assert await keys(storage_for(settings)) == set()
    assert list(settings.incoming_dir.iterdir()) == []


@pytest.fixture(scope="session")
def five_hours_of_silence(tmp_path_factory) -> Path:
    """Five hours and a minute of silence, as FLAC: 3.4 MB on disk, 576 MB once normalised."""
    path = tmp_path_factory.mktemp("long") / "silence.flac"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "18060", "-c:a", "flac", str(path))
    return path


@pytest.mark.slow
async def test_a_five_hour_silent_file_is_refused_at_once_and_leaves_nothing(people, settings, five_hours_of_silence):
    assert five_hours_of_silence.stat().st_size < 5_000_000
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    started = time.monotonic()
    response = await upload(trainee, case_id, 5, five_hours_of_silence)
    elapsed = time.monotonic() - started
    assert response.status_code == 422
    assert response.json()["error"] == "The recording is 5:01:00 long; the longest accepted is 5:00:00."
    # A probe, not a decode (which takes a minute of CPU and half a gigabyte of disk).
    assert elapsed < 10, elapsed
    assert await keys(storage_for(settings)) == set() and stored_files(settings) == set()
    assert list(settings.incoming_dir.iterdir()) == [] and list(settings.scratch_dir.iterdir()) == []
    assert await Recording.all().count() == 0 and await TranscriptionJob.all().count() == 0


async def test_the_sweep_removes_orphaned_objects_and_keeps_what_rows_point_to(people, settings, media_files,
                                                                             tmp_path):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    body = (await upload(trainee, case_id, 2, media_files["short"])).json()
    kept = original_key(await Recording.get(id=body["id"]))
    storage = storage_for(settings)
    orphan = f"{uuid.uuid4()}/original.wav"
    foreign = "notes/not-a-recording.txt"
    await put_bytes(storage, orphan, b"left by a crash", tmp_path)
    await put_bytes(storage, foreign, b"someone else's", tmp_path)

    # Young objects are left alone: an upload's object is stored just before its rows are committed.
    assert await sweep_orphans(storage) == 0
    assert await sweep_orphans(storage, older_than=timedelta(0)) == 1
    assert await keys(storage) == {kept, foreign}
    media = await trainee.get(f"/api/recordings/{body['id']}/media")
    assert media.status_code == 307


def abandoned_directory(parent: Path) -> Path:
    """A working directory whose process was killed: its lock file, held by no one."""
    directory = parent / str(uuid.uuid4())
    directory.mkdir(parents=True)
    (directory / LOCK_FILE).touch()
    (directory / "upload").write_bytes(b"half a recording")
    return directory


async def test_abandoned_staging_and_scratch_directories_are_swept_at_start(settings):
    settings = settings.prepare()
    abandoned = [abandoned_directory(settings.incoming_dir), abandoned_directory(settings.scratch_dir)]
    held = abandoned_directory(settings.scratch_dir)
    with open(held / LOCK_FILE) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        async with LifespanManager(create_app(settings)):
            deadline = time.monotonic() + 20
            while any(d.exists() for d in abandoned) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert not any(d.exists() for d in abandoned)
            # In use (a long job idle on its scratch directory): kept, however old.
            assert held.exists()


# --- a real `dit serve`, killed mid-upload ------------------------------------------------------------


@contextlib.contextmanager
def dit_serve(env: dict[str, str]) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve"], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        lines.append(process.stdout.readline())
        if "Application startup complete" in lines[-1]:
            break
    else:
        process.kill()
        raise AssertionError("the service did not start:\n" + "".join(lines))
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def start_upload(port: int, path: str, token: str, declared: int, first: bytes) -> socket.socket:
    """A multipart upload that sends its headers and the first part of the file, then stops sending."""
    boundary = "dit-test-boundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="session.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n").encode()
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
               f"Content-Length: {len(head) + declared}\r\n\r\n").encode()
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(request + head + first)
    return connection


@pytest.mark.slow
def test_a_kill_9_mid_upload_leaves_a_staging_file_that_the_sweep_removes(tmp_path, s3_url, media_files):
    data_dir = tmp_path / "data"
    port = free_port()
    env = {**os.environ, "DIT_DATA_DIR": str(data_dir), "PORT": str(port), "DIT_DEMO_ACCOUNTS": "1",
           "DIT_MFA_REQUIRED_ROLES": "", "DIT_IN_PROCESS_WORKER": "0", "DIT_STORAGE_URL": s3_url,
           "DIT_WARM_CLASSIFIER": "0"}
    env.pop("DIT_DATABASE_URL", None)
    base = f"http://127.0.0.1:{port}"
    with dit_serve(env) as server:
        logins = dict(line.split()[1:] for line in (data_dir / "demo-logins.txt").read_text().splitlines())
        token = httpx.post(f"{base}/api/token", json={"username": "trainee", "password": logins["trainee"]}
                           ).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        case_id = next(c["id"] for c in httpx.get(f"{base}/api/cases", headers=auth).json()["cases"]
                       if c["code"] == "DEMO-001")
        with media_files["wav"].open("rb") as fh:
            done = httpx.post(f"{base}/api/cases/{case_id}/sessions/1/recording", headers=auth, data=CONSENT,
                              files={"file": ("session.wav", fh, "audio/wav")})
        assert done.status_code == 201, done.text

        whole = media_files["wav"].read_bytes()
        connection = start_upload(port, f"/api/cases/{case_id}/sessions/2/recording", token,
                                  declared=len(whole) + 100, first=whole[:200_000])
        incoming = data_dir / "recordings" / ".incoming"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
                (d / "upload").exists() and (d / "upload").stat().st_size > 0 for d in incoming.iterdir()):
            time.sleep(0.05)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        connection.close()

    left = [d for d in incoming.iterdir()]
    assert len(left) == 1 and (left[0] / "upload").stat().st_size > 0, "the killed upload's partial file"

    sweep = subprocess.run([sys.executable, "-m", "server.cli", "storage", "sweep"], cwd=ROOT, env=env, text=True,
                           capture_output=True, timeout=120)
    assert sweep.returncode == 0, sweep.stderr
    assert "removed 1 staging" in sweep.stdout
    assert list(incoming.iterdir()) == []

    # What the finished upload's row points to is still there, byte for byte.
    storage = Storage.s3(s3_url, dict(s3_variables(os.environ)))
    stored = asyncio.run(_all_keys(storage))
    assert len(stored) == 1
    downloaded = tmp_path / "check.wav"
    storage.download(stored.pop(), downloaded)
    assert sha256_of(downloaded) == done.json()["sha256"]


async def _all_keys(storage: Storage) -> set[str]:
    return await keys(storage)
