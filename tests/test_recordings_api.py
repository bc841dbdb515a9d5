"""Upload, transcribe and read a session recording through the real app, database, ffmpeg and model."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.models import Recording, Transcript, TranscriptionJob
from server.services.recordings import working_audio
from server.web.uploads import MAX_FIELD_BYTES
from speechfixtures.recorded import JFK_TEXT
from speechfixtures.scoring import wer
from tests.conftest import ffmpeg, open_case, run_queued_jobs, sha256_of, stored_files, upload
from transcription.media import probe


@pytest.mark.slow
async def test_upload_transcribe_and_read_the_transcript(people, settings, media_files):
    trainee = people["trainee"]
    case_id = await open_case(trainee)

    response = await upload(trainee, case_id, 6, media_files["wav"])
    assert response.status_code == 201, response.text
    recording = response.json()
    assert recording["status"] == "queued"
    assert recording["phase"] == "middle"
    assert recording["sha256"] == sha256_of(media_files["wav"])
    assert recording["duration"] == pytest.approx(11.0, abs=0.1)

    stored = await Recording.get(id=recording["id"])
    # The original alone is stored: normalising is the worker's, in a scratch directory of its own.
    original = settings.recordings_dir / stored.storage_key / stored.original_file
    assert stored_files(settings) == {original}
    assert sha256_of(original) == recording["sha256"]

    early = await trainee.get(f"/api/recordings/{recording['id']}/transcript")
    assert early.status_code == 409
    assert "not ready" in early.json()["error"]

    await run_queued_jobs(settings)

    status = (await trainee.get(f"/api/recordings/{recording['id']}")).json()
    assert (status["status"], status["progress"], status["error"]) == ("done", 100.0, None)
    assert list(settings.scratch_dir.iterdir()) == [] and stored_files(settings) == {original}

    transcript = (await trainee.get(f"/api/recordings/{recording['id']}/transcript")).json()
    assert transcript["language"] == "en"
    assert transcript["engine"] == "faster-whisper"
    assert transcript["model"] == "tiny.en"
    assert transcript["duration"] == pytest.approx(11.0, abs=0.1)
    text = " ".join(segment["text"] for segment in transcript["segments"])
    assert wer(JFK_TEXT, text) < 0.15
    for segment in transcript["segments"]:
        assert set(segment) >= {"start", "end", "speaker", "text"}
        assert 0 <= segment["start"] < segment["end"] <= 11.5
        # One voice, 11 s: too short for the roles to mean much (the quality flag says so), but
        # every segment is given to one speaker or none.
        assert segment["speaker"] in ("therapist", "patient", None)
        assert segment["speaker_confidence"] is None or 0 <= segment["speaker_confidence"] <= 1

    vtt = await trainee.get(f"/api/recordings/{recording['id']}/transcript?format=vtt")
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT")
    srt = await trainee.get(f"/api/recordings/{recording['id']}/transcript?format=srt&download=1")
    assert "-->" in srt.text and "," in srt.text.splitlines()[1]
    assert srt.headers["content-disposition"] == 'attachment; filename="DIT-001-session06.srt"'
    txt = await trainee.get(f"/api/recordings/{recording['id']}/transcript?format=txt")
    assert "country" in txt.text.lower()
    bad = await trainee.get(f"/api/recordings/{recording['id']}/transcript?format=docx")
    assert bad.status_code == 400 and "format" in bad.json()["error"]

    media = await trainee.get(f"/api/recordings/{recording['id']}/media", headers={"Range": "bytes=0-99"})
    assert media.status_code == 206
    assert media.content == media_files["wav"].read_bytes()[:100]

    case = (await trainee.get(f"/api/cases/{case_id}")).json()
    assert [s["phase"] for s in case["sessions"]] == ["initial"] * 4 + ["middle"] * 8 + ["ending"] * 4
    assert case["sessions"][5]["recording"]["id"] == recording["id"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["wav", "mp3", "m4a", "flac", "ogg", "opus", "mp4", "mov", "webm"])
async def test_every_common_container_is_accepted_and_normalised(people, settings, media_files, kind):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    response = await upload(trainee, case_id, 1, media_files[kind])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["has_video"] == (kind in {"mp4", "mov", "webm"})
    assert body["media_type"].split("/")[0] == ("video" if body["has_video"] else "audio")
    stored = await Recording.get(id=body["id"])
    with working_audio(settings, stored) as files:
        assert files.original.parent.parent == settings.scratch_dir
        assert sha256_of(files.original) == sha256_of(media_files[kind])
        normalised = probe(files.audio)
    assert (normalised.sample_rate, normalised.channels, normalised.has_video) == (16000, 1, False)
    assert normalised.duration == pytest.approx(11.0, abs=0.2)
    assert not files.original.parent.exists()


def bad_inputs(tmp: Path, media_files: dict[str, Path]) -> list[tuple[str, Path, str, int, str]]:
    """(label, file, upload name, expected status, words in the message)"""
    text = tmp / "notes.mp3"
    text.write_text("Session notes, not a recording.\n" * 20)
    truncated = tmp / "truncated.mp3"
    whole = media_files["mp3"].read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    empty = tmp / "empty.wav"
    empty.write_bytes(b"")
    silent_video = tmp / "no-audio.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=5:duration=2", "-pix_fmt", "yuv420p", str(silent_video))
    return [
        ("text renamed .mp3", text, "notes.mp3", 422, "not a recognisable"),
        ("truncated mp3", truncated, "truncated.mp3", 422, "truncated"),
        ("empty file", empty, "empty.wav", 400, "empty"),
        ("video without audio", silent_video, "no-audio.mp4", 422, "no audio"),
        ("path-like file name", media_files["wav"], "../../etc/passwd.wav", 400, "path"),
    ]


@pytest.mark.slow
async def test_bad_uploads_are_refused_and_leave_no_trace(people, settings, media_files, tmp_path):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    good = await upload(trainee, case_id, 2, media_files["short"])
    assert good.status_code == 201
    before_files = stored_files(settings)
    before_rows = await Recording.all().count(), await TranscriptionJob.all().count()

    for label, path, name, status, words in bad_inputs(tmp_path, media_files):
        response = await upload(trainee, case_id, 2, path, filename=name)
        assert response.status_code == status, (label, response.text)
        assert words in response.json()["error"].lower(), (label, response.json())
        assert stored_files(settings) == before_files, label
        assert (await Recording.all().count(), await TranscriptionJob.all().count()) == before_rows, label

    # The session's recording is still the one accepted before.
    case = (await trainee.get(f"/api/cases/{case_id}")).json()
    assert case["sessions"][1]["recording"]["id"] == good.json()["id"]


@pytest.mark.settings(max_upload_bytes=50_000)
async def test_oversized_upload_is_refused_while_streaming(people, settings, media_files):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    response = await upload(trainee, case_id, 3, media_files["wav"])
    assert response.status_code == 413
    assert "larger than the limit of 48.8 KB" in response.json()["error"]
    # Declared length within reach of the limit, so the cut-off happens while streaming.
    assert 50_000 < media_files["short"].stat().st_size < 50_000 + MAX_FIELD_BYTES
    streamed = await upload(trainee, case_id, 3, media_files["short"])
    assert streamed.status_code == 413
    assert stored_files(settings) == set()
    assert await Recording.all().count() == 0


@pytest.mark.settings(max_duration=10)
async def test_a_recording_longer_than_the_limit_is_refused_before_any_decoding(people, settings, media_files):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    response = await upload(trainee, case_id, 3, media_files["wav"])
    assert response.status_code == 422
    assert response.json()["error"] == "The recording is 0:11 long; the longest accepted is 0:10."
    assert stored_files(settings) == set() and list(settings.incoming_dir.iterdir()) == []
    assert await Recording.all().count() == 0


async def test_upload_errors_without_a_file(people):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    no_file = await trainee.post(f"/api/cases/{case_id}/sessions/1/recording", data={"note": "x"},
                                 files={"other": ("a.txt", b"x")})
    assert no_file.status_code == 400
    not_multipart = await trainee.post(f"/api/cases/{case_id}/sessions/1/recording", content=b"abc")
    assert not_multipart.status_code == 400 and "multipart/form-data" in not_multipart.json()["error"]
    out_of_range = await trainee.post(f"/api/cases/{case_id}/sessions/17/recording", files={"file": ("a.wav", b"x")})
    assert out_of_range.status_code == 404 and "sessions 1 to 16" in out_of_range.json()["error"]


@pytest.mark.slow
async def test_replacing_a_recording_keeps_the_old_one_until_the_new_is_accepted(people, settings, media_files):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    first = (await upload(trainee, case_id, 13, media_files["short"])).json()
    refused = await upload(trainee, case_id, 13, media_files["wav"], filename="../x.wav")
    assert refused.status_code == 400
    assert (await Recording.get(id=first["id"])).is_current

    second = (await upload(trainee, case_id, 13, media_files["flac"])).json()
    old, new = await Recording.get(id=first["id"]), await Recording.get(id=second["id"])
    assert (old.is_current, new.is_current) == (False, True)
    assert (settings.recordings_dir / old.storage_key / old.original_file).exists()
    case = (await trainee.get(f"/api/cases/{case_id}")).json()
    assert case["sessions"][12]["recording"]["id"] == second["id"]
    assert case["sessions"][12]["phase"] == "ending"


@pytest.mark.slow
# One attempt: a job is otherwise tried again after a backoff before it fails (tests/test_jobs.py).
@pytest.mark.settings(job_max_attempts=1)
async def test_failed_job_reports_a_reason_and_can_be_retried(people, settings, media_files):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    recording = (await upload(trainee, case_id, 4, media_files["wav"])).json()
    stored = await Recording.get(id=recording["id"])
    original = settings.recordings_dir / stored.storage_key / stored.original_file
    hidden = original.with_suffix(".hidden")
    original.rename(hidden)
    await run_queued_jobs(settings)

    failed = (await trainee.get(f"/api/recordings/{recording['id']}")).json()
    assert failed["status"] == "failed"
    assert "missing" in failed["error"]
    assert list(settings.scratch_dir.iterdir()) == []
    assert (await trainee.post(f"/api/recordings/{recording['id']}/retry")).status_code == 202

    hidden.rename(original)
    await run_queued_jobs(settings)
    done = (await trainee.get(f"/api/recordings/{recording['id']}")).json()
    assert done["status"] == "done"
    assert await Transcript.filter(recording_id=recording["id"]).count() == 1
    again = await trainee.post(f"/api/recordings/{recording['id']}/retry")
    assert again.status_code == 409


async def test_case_codes_are_validated(people):
    trainee, lead = people["trainee"], people["lead"]
    for code, status, words in [("Jane Smith", 400, "letters, digits"), ("JaneSmith", 400, "digit"),
                                ("", 400, "letters, digits")]:
        response = await trainee.post("/api/cases", json={"code": code})
        assert response.status_code == status and words in response.json()["error"], code
    assert (await trainee.post("/api/cases", json={"code": "DIT-7"})).status_code == 201
    duplicate = await lead.post("/api/cases", json={"code": "DIT-7", "trainee": "trainee"})
    assert duplicate.status_code == 409
    missing = await lead.post("/api/cases", json={"code": "DIT-8"})
    assert missing.status_code == 400 and "trainee" in missing.json()["error"]
    made = await lead.post("/api/cases", json={"code": "DIT-8", "trainee": "other_trainee"})
    assert made.json()["trainee"]["username"] == "other_trainee"
    not_json = await trainee.post("/api/cases", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 400


async def test_tokens(people, http):
    wrong = await http.post("/api/token", json={"username": "trainee", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "Wrong username or password."
    nobody = await http.post("/api/token", json={"username": "ghost", "password": "nope"})
    assert nobody.status_code == 401
    bad_header = await http.get("/api/me", headers={"Authorization": "Bearer not-a-token"})
    assert bad_header.status_code == 401
    me = await people["supervisor"].get("/api/me")
    assert me.json()["role"] == "supervisor" and me.json()["accredited"] is True


async def test_openapi_schema_documents_the_api(http):
    schema = (await http.get("/api/openapi.json")).json()
    assert schema["openapi"].startswith("3.")
    for path in ["/api/token", "/api/cases", "/api/cases/{case_id}", "/api/cases/{case_id}/sessions/{number}/recording",
                 "/api/recordings/{recording_id}", "/api/recordings/{recording_id}/transcript"]:
        assert path in schema["paths"], path
    assert "post" in schema["paths"]["/api/cases"] and "get" in schema["paths"]["/api/cases"]
