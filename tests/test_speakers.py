"""Who is speaking, in the service: the worker labels therapist and patient turns, people correct
them, and corrections outlast re-transcription."""

from __future__ import annotations

import numpy as np
import pytest

from server.clock import today
from server.models import Recording, Transcript, User
from server.services.recordings import queue_transcription
from server.services.speakers import trainee_voiceprint
from speechfixtures.dialogue import mono_dialogue
from tests.conftest import open_case, run_queued_jobs, upload
from transcription.roles import voice_similarity


@pytest.fixture(scope="session")
def dialogue(tmp_path_factory):
    path = tmp_path_factory.mktemp("dialogue") / "session.wav"
    lines = mono_dialogue(path)
    return path, lines


def roles_said(transcript: dict, words: str) -> set:
    return {s["speaker"] for s in transcript["segments"] if words.lower() in s["text"].lower()}


@pytest.mark.slow
@pytest.mark.sqlite_only("every transcription job of the PostgreSQL pass writes and reads speakers' JSON there, "
                         "as the migration tests do speaker corrections; the rest is the same code on both")
async def test_speakers_are_labelled_corrected_and_kept_across_retranscription(people, settings, dialogue, app):
    path, lines = dialogue
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    rid = (await upload(trainee, case_id, 6, path)).json()["id"]
    trainee_id = (await User.get(username="trainee")).id
    await run_queued_jobs(settings)

    transcript = (await trainee.get(f"/api/recordings/{rid}/transcript")).json()
    speakers = [s["speaker"] for s in transcript["segments"]]
    assert set(speakers) == {"therapist", "patient"}
    assert all(0 <= s["speaker_confidence"] <= 1 for s in transcript["segments"])
    therapist_words = " ".join(s["text"] for s in transcript["segments"] if s["speaker"] == "therapist").lower()
    first_therapist_line = next(line.text for line in lines if line.role == "therapist")
    assert first_therapist_line.split()[0].lower().strip(",.?") in therapist_words
    txt = (await trainee.get(f"/api/recordings/{rid}/transcript?format=txt")).text
    assert "] T: " in txt and "] P: " in txt
    vtt = (await trainee.get(f"/api/recordings/{rid}/transcript?format=vtt")).text
    assert "<v Therapist>" in vtt and "<v Patient>" in vtt
    # A sure labelling lends the therapist's voice to the trainee's voice print.
    stored = (await Transcript.get(recording_id=rid)).speakers
    assert stored["roles"]["confidence"] >= 0.9 and stored["flag"] is None
    voices = {int(k): np.asarray(v) for k, v in stored["voiceprints"].items()}
    therapist = stored["roles"]["therapist"]
    print_, recordings = await trainee_voiceprint(trainee_id, settings.speaker_encoder)
    assert recordings == 1 and voice_similarity(print_, voices[therapist]) > 0.999
    assert await trainee_voiceprint(trainee_id, "another-encoder.pt") == (None, 0)  # prints of another space

    swapped = await trainee.post(f"/api/recordings/{rid}/speakers/swap")
    assert swapped.status_code == 200
    assert [s["speaker"] for s in swapped.json()["segments"]] == [
        {"therapist": "patient", "patient": "therapist"}[s] for s in speakers]
    assert (await people["other_trainee"].post(f"/api/recordings/{rid}/speakers/swap")).status_code == 404
    # Who corrected the transcript, and when, is kept with the correction.
    kept = (await Recording.get(id=rid)).speaker_corrections
    assert kept[-1]["by"] == "trainee" and kept[-1]["at"][:10] == today().isoformat()
    bad = await people["supervisor"].post(f"/api/recordings/{rid}/speakers", json={"start": 0, "end": 1, "speaker": "judge"})
    assert bad.status_code == 400
    # The person said the other voice is the trainee's: so says the voice print now, and a later
    # recording of the same two voices is labelled by it, whatever the words suggest.
    print_, _ = await trainee_voiceprint(trainee_id, settings.speaker_encoder)
    assert voice_similarity(print_, voices[1 - therapist]) > 0.999
    later = (await upload(trainee, case_id, 7, path)).json()["id"]
    await run_queued_jobs(settings)
    later_transcript = (await trainee.get(f"/api/recordings/{later}/transcript")).json()
    assert [s["speaker"] for s in later_transcript["segments"]][:3] == [s["speaker"] for s in swapped.json()["segments"]][:3]
    later_roles = (await Transcript.get(recording_id=later)).speakers["roles"]
    assert "closer to the trainee's earlier recordings" in later_roles["reasons"][0]

    # Transcribed again (a new model, say): the swap is applied again.
    await queue_transcription(await Recording.get(id=rid), settings)
    await run_queued_jobs(settings)
    again = (await trainee.get(f"/api/recordings/{rid}/transcript")).json()
    assert [s["speaker"] for s in again["segments"]] == [s["speaker"] for s in swapped.json()["segments"]]

    # Giving a stretch to one speaker: every segment in it becomes the therapist's.
    end = again["segments"][0]["end"]
    given = await people["supervisor"].post(f"/api/recordings/{rid}/speakers",
                                            json={"start": 0, "end": end, "speaker": "therapist"})
    assert given.status_code == 200 and given.json()["segments"][0]["speaker"] == "therapist"

    # A line split by a person, then its second half given to the other speaker: transcribed again, the
    # corrections are made in that order, so the split is made and the half keeps its speaker.
    line = max(given.json()["segments"], key=lambda s: len(s["words"]))
    split = await trainee.post(f"/api/recordings/{rid}/transcript/edits",
                               json={"kind": "split", "start": line["start"], "end": line["end"], "word": 2})
    assert split.status_code == 200
    head, tail = next((a, b) for a, b in zip(split.json()["segments"], split.json()["segments"][1:])
                      if a["start"] == line["start"])
    other = {"therapist": "patient", "patient": "therapist"}[tail["speaker"]]
    assert (await people["supervisor"].post(f"/api/recordings/{rid}/speakers", json={
        "start": tail["start"], "end": tail["end"], "speaker": other})).status_code == 200
    await queue_transcription(await Recording.get(id=rid), settings)
    await run_queued_jobs(settings)
    again = (await trainee.get(f"/api/recordings/{rid}/transcript")).json()["segments"]
    assert [(s["text"], s["speaker"]) for s in again if head["start"] <= s["start"] < tail["end"]] == [
        (head["text"], head["speaker"]), (tail["text"], other)]
    edits = (await trainee.get(f"/api/recordings/{rid}/transcript/edits")).json()["edits"]
    assert [(e["kind"], e["made"]) for e in edits] == [("split", True)]


@pytest.mark.slow
async def test_a_short_recording_is_flagged_on_the_page_and_the_queue(people, settings, media_files, app):
    import httpx

    from tests.test_access import login_by_cookie

    trainee, lead = people["trainee"], people["lead"]
    case_id = await open_case(trainee)
    rid = (await upload(trainee, case_id, 6, media_files["wav"])).json()["id"]
    await run_queued_jobs(settings)
    await lead.post(f"/api/recordings/{rid}/assignments", json={"supervisor": "supervisor"})
    queue = (await people["supervisor"].get("/api/queue")).json()["queue"]
    assert "The recording is only 0:11 long" in queue[0]["quality_flag"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
        await login_by_cookie(browser, "trainee")
        page = (await browser.get(f"/recordings/{rid}")).text
    assert "<h2>Speakers</h2>" in page and queue[0]["quality_flag"] in page.replace("&#39;", "'")
