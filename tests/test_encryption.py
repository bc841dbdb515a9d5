"""Encryption at rest through the real app, database, storage, worker and `dit keys`: with a master key
set, nothing stored is readable as media or transcript, while everything a person does still works."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from tortoise.connection import get_connection

from rating.scale import load_scale
from server.models import Recording
from server.security.envelope import MAGIC, sealed_size
from server.security.keyring import Keyring, KeyringError, generate_file
from server.services import deletion
from server.web.app import create_app
from server.web.byte_ranges import RangeNotSatisfiable, requested_range
from tests.conftest import open_case, run_queued_jobs, stored_files, upload
from tests.postgres import ROOT, backend

INITIAL = load_scale().items_for("initial")[0].id
# What a media file begins with: WAV, MP3 (ID3 or a frame), FLAC, Ogg, Matroska/WebM; MP4's "ftyp" is at 4.
MEDIA_HEADERS = (b"RIFF", b"ID3", b"\xff\xfb", b"fLaC", b"OggS", b"\x1a\x45\xdf\xa3")


@pytest.fixture
def key_file(tmp_path) -> Path:
    path = tmp_path / "keys" / "master.key"
    path.parent.mkdir(mode=0o700)
    generate_file(path)
    return path


@pytest.fixture
def settings(settings, key_file):
    return replace(settings, encryption_key_file=key_file)


def dit(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DIT_DATA_DIR": str(settings.data_dir), "DIT_DATABASE_URL": settings.database_url,
           "DIT_ENCRYPTION_KEY_FILE": str(settings.encryption_key_file)}
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


async def stored_database_text(settings) -> bytes:
    """What the database holds on disk: the SQLite file (and its write-ahead log); on PostgreSQL, every
    stored transcript as the server returns it."""
    if backend() == "sqlite":
        path = Path(settings.database_url.removeprefix("sqlite://"))
        return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
    _, rows = await get_connection("default").execute_query("SELECT data::text AS data FROM transcript")
    return "\n".join(row["data"] for row in rows).encode()


def the_stored_file(settings) -> Path:
    (found,) = stored_files(settings)
    return found


async def test_sealed_media_and_transcripts_still_play_read_rate_and_export(people, settings, media_files):
    trainee, lead, supervisor = people["trainee"], people["lead"], people["supervisor"]
    case_id = await open_case(trainee)
    original = media_files["wav"].read_bytes()
    recording_id = (await upload(trainee, case_id, 1, media_files["wav"])).json()["id"]

    # In storage: the sealed file alone, no media header, the original's size plus the format's overhead.
    stored = the_stored_file(settings).read_bytes()
    assert stored.startswith(MAGIC) and not stored.startswith(MEDIA_HEADERS) and stored[4:8] != b"ftyp"
    assert len(stored) == sealed_size(len(original)) and original[1000:1100] not in stored
    recording = await Recording.get(id=recording_id)
    assert recording.key_id == Keyring.read(settings.encryption_key_file).active.id and recording.data_key

    # The worker opens it in its scratch directory, which is gone after the job.
    await run_queued_jobs(settings)
    assert not any(settings.scratch_dir.iterdir())
    text = (await trainee.get(f"/api/recordings/{recording_id}/transcript", params={"format": "txt"})).text
    assert "country" in text.lower()
    assert b"country" not in (await stored_database_text(settings)).lower()
    page = await trainee.get(f"/recordings/{recording_id}")
    assert page.status_code == 200 and "country" in page.text.lower()

    # Playback through the app, whole and by Range across chunk boundaries, as a player seeks.
    whole = await trainee.get(f"/api/recordings/{recording_id}/media")
    assert whole.status_code == 200 and whole.content == original
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "audio/wav"
    for asked, start, end in (("bytes=65000-200000", 65000, 200001), ("bytes=-500", len(original) - 500, len(original)),
                              (f"bytes={len(original) - 10}-", len(original) - 10, len(original))):
        part = await trainee.get(f"/api/recordings/{recording_id}/media", headers={"Range": asked})
        assert part.status_code == 206 and part.content == original[start:end], asked
        assert part.headers["content-range"] == f"bytes {start}-{end - 1}/{len(original)}"
    beyond = await trainee.get(f"/api/recordings/{recording_id}/media", headers={"Range": f"bytes={len(original)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(original)}"
    assert (await people["other_trainee"].get(f"/api/recordings/{recording_id}/media")).status_code == 404

    # A rater's evidence points into the sealed transcript; a speaker correction rewrites it, sealed again.
    assert (await lead.post(f"/api/recordings/{recording_id}/assignments", json={"supervisor": "supervisor"})
            ).status_code == 201
    for evidence, status in (([0], 200), ([99], 422)):
        draft = await supervisor.request("PUT", f"/api/recordings/{recording_id}/ratings/mine",
                                         json={"scores": {}, "evidence": {INITIAL: evidence}})
        assert draft.status_code == status, draft.text
    corrected = await trainee.post(f"/api/recordings/{recording_id}/speakers",
                                   json={"start": 0, "end": 2, "speaker": "patient"})
    assert corrected.status_code == 200 and corrected.json()["segments"][0]["speaker"] == "patient"
    # So does a correction of the words, and the list of corrections, which holds them, is sealed too.
    line = corrected.json()["segments"][-1]
    typed = await trainee.post(f"/api/recordings/{recording_id}/transcript/edits",
                               json={"kind": "text", "start": line["start"], "end": line["end"],
                                     "text": "ask what you can do for your homeland"})
    assert typed.status_code == 200 and typed.json()["segments"][-1]["edited"]["recognised"] == line["text"]
    assert (await lead.get(f"/api/recordings/{recording_id}/transcript/edits")).json()["edits"][0]["text"] == \
        "ask what you can do for your homeland"
    stored_text = (await stored_database_text(settings)).lower()
    assert b"country" not in stored_text and b"homeland" not in stored_text

    # The subject-access export holds the media and transcript opened.
    archive = zipfile.ZipFile(io.BytesIO((await lead.get(f"/api/cases/{case_id}/export")).content))
    assert archive.read(f"media/session-01-recording-{recording_id}.wav") == original
    exported = json.loads(archive.read(f"transcripts/session-01-recording-{recording_id}.json"))
    assert "country" in " ".join(s["text"] for s in exported["segments"]).lower()


async def test_rotation_rewraps_data_keys_without_rewriting_media_and_services_follow_it(people, settings,
                                                                                        media_files):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    recording_id = (await upload(trainee, case_id, 1, media_files["wav"])).json()["id"]
    stored = the_stored_file(settings)
    before = (stored.stat().st_ino, stored.stat().st_mtime_ns, stored.read_bytes())
    first = Keyring.read(settings.encryption_key_file).active.id

    rotated = dit(settings, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    keys = Keyring.read(settings.encryption_key_file)
    assert [key.id for key in keys.keys][1:] == [first] and keys.active.id in rotated.stdout
    assert "1 data key re-wrapped" in rotated.stdout
    assert (await Recording.get(id=recording_id)).key_id == keys.active.id
    assert (stored.stat().st_ino, stored.stat().st_mtime_ns, stored.read_bytes()) == before
    # The running service reads the changed key file: playback needs no restart.
    assert (await trainee.get(f"/api/recordings/{recording_id}/media")).content == media_files["wav"].read_bytes()

    retired = dit(settings, "keys", "retire")
    assert retired.returncode == 0 and first in retired.stdout, retired.stderr
    assert [key.id for key in Keyring.read(settings.encryption_key_file).keys] == [keys.active.id]
    status = dit(settings, "keys", "status")
    assert f"{keys.active.id}  active    wraps 1 data key" in status.stdout, status.stderr
    assert (await trainee.get(f"/api/recordings/{recording_id}/media")).content == media_files["wav"].read_bytes()
    # An upload after the rotation is wrapped under the new key.
    later = (await upload(trainee, case_id, 2, media_files["short"])).json()["id"]
    assert (await Recording.get(id=later)).key_id == keys.active.id


async def test_deleting_a_recording_destroys_its_data_key(people, settings, media_files, tmp_path):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    recording_id = (await upload(trainee, case_id, 1, media_files["wav"])).json()["id"]
    await run_queued_jobs(settings)
    backup = the_stored_file(settings).read_bytes()

    # The retention schedule may take the media first: the transcript is still sealed under the key.
    recording = await Recording.get(id=recording_id)
    await deletion.delete_media(settings, recording)
    assert (await Recording.get(id=recording_id)).data_key is not None
    assert (await trainee.get(f"/api/recordings/{recording_id}/transcript")).status_code == 200

    assert (await trainee.request("DELETE", f"/api/recordings/{recording_id}", json={})).status_code == 200
    shredded = await Recording.get(id=recording_id)
    assert shredded.data_key is None and shredded.key_id is not None
    # A copy of the file kept elsewhere (a backup) is ciphertext that no stored key opens.
    assert backup.startswith(MAGIC) and await Recording.filter(data_key__isnull=False).count() == 0
    assert (await trainee.get(f"/api/recordings/{recording_id}/media")).status_code == 410


async def test_readiness_fails_once_the_key_file_no_longer_opens(http, key_file):
    assert (await http.get("/readyz")).json()["checks"]["encryption"] == "ok"
    key_file.chmod(0o640)
    failing = await http.get("/readyz")
    assert failing.status_code == 503 and failing.json()["checks"]["encryption"] == "KeyringError"


async def test_a_key_file_others_can_read_or_that_is_missing_stops_the_service(settings, key_file):
    assert key_file.stat().st_mode & 0o777 == 0o600 and key_file.parent.stat().st_mode & 0o777 == 0o700
    key_file.chmod(0o644)
    with pytest.raises(KeyringError, match="readable by others than its owner"):
        create_app(settings)
    served = dit(settings, "serve", "--port", "1")
    assert served.returncode == 2 and "chmod 600" in served.stderr
    with pytest.raises(KeyringError, match="cannot be read"):
        create_app(replace(settings, encryption_key_file=key_file.with_name("absent.key")))
    again = dit(settings, "keys", "generate", str(key_file))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_a_range_header_is_read_as_http_reads_it():
    assert requested_range(None, 100) is None and requested_range("pages=0-1", 100) is None
    assert requested_range("bytes=0-9", 100) == (0, 10) and requested_range("bytes=90-", 100) == (90, 100)
    assert requested_range("bytes=-10", 100) == (90, 100) and requested_range("bytes=-1000", 100) == (0, 100)
    assert requested_range("bytes=0-1000", 100) == (0, 100)
    # Several ranges: the whole file, as RFC 9110 allows.
    assert requested_range("bytes=0-1,5-9", 100) is None
    for unsatisfiable in ("bytes=100-", "bytes=5-1", "bytes=-0", f"bytes={2**64}-"):
        with pytest.raises(RangeNotSatisfiable):
            requested_range(unsatisfiable, 100)
