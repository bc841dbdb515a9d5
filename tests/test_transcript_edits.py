"""Correcting a transcript's words through the service: text, merge and split, who and when, what
was recognised kept, the ratings' evidence following its lines, every reader seeing the corrected
text, and the corrections made again on a new transcription."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from rating.scale import load_scale
from server.errors import Conflict
from server.models import ClassifierJudgement, Recording, Transcript, User
from server.services.recordings import queue_transcription
from server.services.suggestions import supervisor_examples
from server.services.transcript_edits import save_edit
from tests.conftest import open_case, run_queued_jobs, upload
from tests.test_suggestions import IPAF

MIDDLE = [item.id for item in load_scale().items_for("middle")]


@pytest.mark.slow
@pytest.mark.sqlite_only("the corrections are JSON sealed in the transcript's row, which tests/test_encryption.py "
                         "writes and reads back on PostgreSQL too; transcribing twice more there adds nothing")
async def test_words_are_corrected_merged_and_split_and_the_corrections_outlast_retranscription(
        people, settings, media_files, app):
    trainee, sue, lead = people["trainee"], people["supervisor"], people["lead"]
    case_id = await open_case(trainee)
    rid = (await upload(trainee, case_id, 6, media_files["wav"])).json()["id"]
    await run_queued_jobs(settings)
    await lead.post(f"/api/recordings/{rid}/assignments", json={"supervisor": "supervisor"})
    url = f"/api/recordings/{rid}/transcript/edits"
    recognised = (await trainee.get(f"/api/recordings/{rid}/transcript")).json()["segments"]
    assert len(recognised) >= 2 and all(s["edited"] is None for s in recognised)
    first, last = recognised[0], recognised[-1]
    # The supervisor's draft points at the last line.
    draft = {"scores": {MIDDLE[0]: 4}, "evidence": {MIDDLE[0]: [len(recognised) - 1]}}
    assert (await sue.request("PUT", f"/api/recordings/{rid}/ratings/mine", json=draft)).status_code == 200

    typed = "And so, my fellow Britons, ask not"
    corrected = await sue.post(url, json={"kind": "text", "start": first["start"], "end": first["end"], "text": typed})
    assert corrected.status_code == 200, corrected.text
    line = corrected.json()["segments"][0]
    assert line["text"] == typed and line["edited"]["recognised"] == first["text"]
    assert line["edited"]["by"] == "supervisor" and [w["word"] for w in line["words"]] == typed.split()
    assert (line["start"], line["speaker"]) == (first["start"], first["speaker"])
    # Who corrected it is for course leads (and the corrector): to the trainee it could name a blind rater.
    seen = {name: (await client.get(f"/api/recordings/{rid}/transcript")).json()["segments"][0]["edited"]["by"]
            for name, client in (("trainee", trainee), ("lead", lead), ("supervisor", sue))}
    assert seen == {"trainee": None, "lead": "supervisor", "supervisor": "supervisor"}
    assert [e["by"] for e in (await trainee.get(url)).json()["edits"]] == [None]
    # Every reader sees the corrected words: the exports, the rating page, the classifier's training data.
    for fmt in ("txt", "vtt", "srt"):
        assert "fellow Britons" in (await trainee.get(f"/api/recordings/{rid}/transcript?format={fmt}")).text
    assert "fellow Britons" in (await sue.get(f"/recordings/{rid}/rate")).text
    await trainee.post(f"/api/cases/{case_id}/ipaf", json=IPAF)
    judged = await sue.post(f"/api/recordings/{rid}/suggestion/judgements",
                            json={"segment": 0, "label": "ipaf_reference", "agree": False})
    assert judged.status_code == 201, judged.text
    await sue.post(f"/api/recordings/{rid}/suggestion/judgements",
                   json={"segment": len(recognised) - 1, "label": "transference_link", "agree": True})
    assert typed in [e.utterance for e in await supervisor_examples(settings)]
    archive = zipfile.ZipFile(io.BytesIO((await lead.get(f"/api/cases/{case_id}/export")).content))
    exported = [n for n in archive.namelist() if n.startswith("transcripts/")]
    assert json.loads(archive.read(exported[0]))["segments"][0]["text"] == typed

    # Split before its fourth word, then merged back.
    split = await trainee.post(url, json={"kind": "split", "start": first["start"], "end": first["end"], "word": 3})
    assert split.status_code == 200, split.text
    halves = split.json()["segments"][:2]
    assert [h["text"] for h in halves] == ["And so, my", "fellow Britons, ask not"]
    assert len(split.json()["segments"]) == len(recognised) + 1
    # The draft's evidence still points at the line it did, now one further on.
    evidence = (await sue.get(f"/api/recordings/{rid}/ratings/mine")).json()["evidence"]
    assert evidence == {MIDDLE[0]: [len(recognised)]}
    judged_lines = await ClassifierJudgement.filter(recording_id=rid).order_by("label").values_list("segment_index", flat=True)
    assert judged_lines == [0, len(recognised)]
    merged = await trainee.post(url, json={"kind": "merge", "start": halves[0]["start"], "end": halves[1]["end"]})
    assert merged.status_code == 200 and merged.json()["segments"][0]["text"] == typed
    assert merged.json()["segments"][0]["edited"]["recognised"] == first["text"]
    assert (await sue.get(f"/api/recordings/{rid}/ratings/mine")).json()["evidence"] == draft["evidence"]

    # Refused, saying why, and nothing changed.
    before = (await trainee.get(f"/api/recordings/{rid}/transcript")).json()
    refusals = [
        ({"kind": "text", "start": first["start"] + 3, "end": first["end"] + 3, "text": "x"}, 409, "Reload"),
        ({"kind": "text", "start": first["start"], "end": first["end"], "text": "  "}, 400, "Type the line's words"),
        ({"kind": "rewrite", "start": first["start"], "end": first["end"]}, 400, "text, merge, split"),
        ({"kind": "split", "start": first["start"], "end": first["end"], "word": 0}, 400, "'word' is between 1"),
        ({"kind": "merge", "start": last["start"], "end": last["end"]}, 409, "no next line"),
        ({"kind": "text", "start": "soon", "end": 1, "text": "x"}, 400, "time in seconds"),
    ]
    for body, status, message in refusals:
        refused = await sue.post(url, json=body)
        assert refused.status_code == status and message in refused.json()["error"], (body, refused.text)
    assert (await trainee.get(f"/api/recordings/{rid}/transcript")).json() == before
    assert (await people["other_trainee"].post(url, json={"kind": "merge", "start": 0, "end": 1})).status_code == 404
    assert (await people["other_trainee"].get(url)).status_code == 404

    # Two people saving at once: the one whose change was made on the transcript as it was before the
    # other's is refused, and the other's change stands.
    recording, stale = await Recording.get(id=rid), await Transcript.get(recording_id=rid)
    other = {"kind": "text", "start": last["start"], "end": last["end"], "text": "Ask what you can do."}
    assert (await trainee.post(url, json=other)).status_code == 200
    with pytest.raises(Conflict, match="changed by someone else"):
        await save_edit(settings, recording, stale, {**other, "text": "Something else."},
                        await User.get(username="supervisor"))
    assert (await trainee.get(f"/api/recordings/{rid}/transcript")).json()["segments"][-1]["text"] == other["text"]

    log = (await lead.get(url)).json()["edits"]
    assert [(e["kind"], e["by"], e["made"]) for e in log] == [
        ("text", "supervisor", True), ("split", "trainee", True), ("merge", "trainee", True), ("text", "trainee", True)]

    # Transcribed again (a new model, say): the corrections are made again where their lines still are.
    await queue_transcription(await Recording.get(id=rid), settings)
    await run_queued_jobs(settings)
    again = (await trainee.get(f"/api/recordings/{rid}/transcript")).json()
    assert again["segments"][0]["text"] == typed and again["segments"][0]["edited"]["recognised"] == first["text"]
    assert [e["made"] for e in (await lead.get(url)).json()["edits"]] == [True, True, True, True]
    # What is stored carries no correction in the clear when a key is set (tests/test_encryption.py);
    # without one the corrections are kept beside the transcript.
    assert (await Transcript.get(recording_id=rid)).edits["edits"][0]["text"] == typed
