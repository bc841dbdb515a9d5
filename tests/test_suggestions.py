"""The on-model classifier in the service: IPAF versions, suggestions, judgements, and the CLI."""

from __future__ import annotations

import asyncio
import json

import pytest

from rating.classifier import train_command
from rating.classifier_embeddings import DEFAULT_ENCODER
from rating.scale import load_scale
from server.models import AuditEvent, SuggestedVerdict
from server.services.suggestions import SuggestionModel, classifier_dir, fill_verdicts, supervisor_examples
from tests.conftest import open_case, run_queued_jobs, upload
from tests.seed_model import with_seed_model
from tests.test_cli import dit

IPAF = {"self": "an unimportant afterthought", "other": "dismissive, exploitative",
        "affect": "hopelessness, resentment", "summary": "Expects to be used and then forgotten."}


async def test_ipaf_versions_apply_from_their_session(people):
    trainee = people["trainee"]
    case_id = await open_case(trainee)
    first = await trainee.post(f"/api/cases/{case_id}/ipaf", json=IPAF)
    assert first.status_code == 201 and first.json()["version"] == 1
    refined = await people["supervisor"].post(
        f"/api/cases/{case_id}/ipaf", json={**IPAF, "affect": "shame, quiet fury", "from_session": 9})
    assert refined.json()["version"] == 2
    missing = await trainee.post(f"/api/cases/{case_id}/ipaf", json={"self": "a burden"})
    assert missing.status_code == 400 and "other, affect" in missing.json()["error"]
    assert (await people["other_trainee"].post(f"/api/cases/{case_id}/ipaf", json=IPAF)).status_code == 404
    versions = (await people["lead"].get(f"/api/cases/{case_id}/ipaf")).json()["ipafs"]
    assert [(v["version"], v["from_session"], v["affect"]) for v in versions] == [
        (2, 9, "shame, quiet fury"), (1, 1, "hopelessness, resentment")]

    from server.services.suggestions import ipaf_for_session

    assert (await ipaf_for_session(case_id, 8)).version == 1
    assert (await ipaf_for_session(case_id, 9)).version == 2


@pytest.mark.slow
async def test_suggestions_for_raters_and_judgements_feed_training(people, settings, media_files):
    trainee, sue, lead = people["trainee"], people["supervisor"], people["lead"]
    case_id = await open_case(trainee)
    rid = (await upload(trainee, case_id, 6, media_files["wav"])).json()["id"]
    await run_queued_jobs(settings)
    await lead.post(f"/api/recordings/{rid}/assignments", json={"supervisor": "supervisor"})

    no_ipaf = await sue.get(f"/api/recordings/{rid}/suggestion")
    assert no_ipaf.status_code == 409 and "IPAF" in no_ipaf.json()["error"]
    await trainee.post(f"/api/cases/{case_id}/ipaf", json=IPAF)

    suggestion = (await sue.get(f"/api/recordings/{rid}/suggestion")).json()
    transcript = (await sue.get(f"/api/recordings/{rid}/transcript")).json()
    assert [s["index"] for s in suggestion["segments"]] == list(range(len(transcript["segments"])))
    speakers = [s["speaker"] for s in transcript["segments"]]
    assert "therapist" in speakers
    for segment, speaker in zip(suggestion["segments"], speakers, strict=True):
        if speaker == "patient":  # the patient's words are not the therapist's work
            assert segment["ipaf_reference"] is None and segment["transference_link"] is None
        else:
            assert 0.0 <= segment["ipaf_reference"] <= 1.0 and 0.0 <= segment["transference_link"] <= 1.0
    # A presidential speech is not DIT: nothing echoes this IPAF.
    assert suggestion["session"]["verdict"] == "off-model"
    assert suggestion["ipaf"]["version"] == 1 and "never a score" in suggestion["note"]

    assert (await trainee.get(f"/api/recordings/{rid}/suggestion")).status_code == 403  # not released
    assert (await lead.get(f"/api/recordings/{rid}/suggestion")).status_code == 200

    judged = await sue.post(f"/api/recordings/{rid}/suggestion/judgements",
                            json={"segment": 0, "label": "ipaf_reference", "agree": False})
    assert judged.status_code == 201 and judged.json()["value"] is False
    bad = await sue.post(f"/api/recordings/{rid}/suggestion/judgements",
                         json={"segment": 0, "label": "charm", "agree": True})
    assert bad.status_code == 400
    out_of_range = await sue.post(f"/api/recordings/{rid}/suggestion/judgements",
                                  json={"segment": 99, "label": "ipaf_reference", "agree": True})
    assert out_of_range.status_code == 400
    assert (await trainee.post(f"/api/recordings/{rid}/suggestion/judgements",
                               json={"segment": 0, "label": "ipaf_reference", "agree": True})).status_code == 403

    examples = await supervisor_examples(settings)
    assert [(e.case_id, e.ipaf_reference, e.source) for e in examples] == [("DIT-001", False, "supervisor")]
    assert examples[0].utterance == transcript["segments"][0]["text"]

    # The model card, for course leads: the seed model is in use, trained on no supervisor's judgement.
    card = (await lead.get("/api/classifier")).json()
    assert card["in_use"]["version"] == suggestion["model"] and card["in_use"]["n_supervisor_examples"] == 0
    assert card["in_use"]["sentence_encoders"] == [DEFAULT_ENCODER] and card["in_use"]["good"] is True
    assert {(row["data"], row["label"]) for row in card["in_use"]["metrics"]} >= {
        ("seed, by case", "ipaf_reference"), ("seed, by case, as recognised", "transference_link")}
    # `dit classifier train` learns from the judgement; the running service uses the new model from the next
    # suggestion on, without a restart, and the card says what it was trained on.
    await asyncio.to_thread(train_command, classifier_dir(settings), examples)
    again = (await sue.get(f"/api/recordings/{rid}/suggestion")).json()
    assert again["model"] != suggestion["model"]
    card = (await lead.get("/api/classifier")).json()
    assert card["in_use"]["version"] == again["model"] and card["in_use"]["n_supervisor_examples"] == 1
    assert [m["version"] for m in card["saved"]] == [again["model"], suggestion["model"]]
    page = await lead.get("/classifier")
    assert page.status_code == 200 and "1 judgements and evidence marks" in page.text and again["model"] in page.text

    # Once the tape is rated, its suggested verdict is set against the official result on the IPAF and
    # transference items: here both competent (on-model) against the suggestion's off-model.
    assert card["against_supervisors"]["n_rated"] == 0
    scores = {item.id: 4 for item in load_scale().items_for("middle")} | {"ipaf-focus": 3, "transference": 5}
    assert (await sue.request("PUT", f"/api/recordings/{rid}/ratings/mine", json={"scores": scores})).status_code == 200
    assert (await sue.post(f"/api/recordings/{rid}/ratings/mine/submit")).status_code == 200
    against = (await lead.get("/api/classifier")).json()["against_supervisors"]
    assert (against["n_rated"], against["n_compared"], against["n_without_suggestion"]) == (1, 1, 0)
    table = {row["suggested"]: row["official"] for row in against["table"]}
    assert table["off-model"] == {"off-model": 0, "drifting": 0, "on-model": 1}
    assert sum(sum(row.values()) for row in table.values()) == 1 and against["agreement"] == 0.0
    assert [row["kappa"] for row in against["kappa"]] == [None, None]  # one tape measures no agreement
    page = await lead.get("/classifier")
    assert "Against the supervisors" in page.text and "1 rated tape" in page.text

    # A tape rated without its suggestion being asked for is counted apart, until `dit classifier verdicts`
    # suggests one, its reading of the transcript on the audit trail.
    await SuggestedVerdict.filter(recording_id=rid).delete()
    assert (await lead.get("/api/classifier")).json()["against_supervisors"]["n_without_suggestion"] == 1
    counts = await fill_verdicts(SuggestionModel(settings), "cli:tester")
    assert counts == {"suggested": 1, "already": 0, "no_transcript": 0, "no_ipaf": 0}
    assert (await fill_verdicts(SuggestionModel(settings), "cli:tester"))["already"] == 1
    assert (await lead.get("/api/classifier")).json()["against_supervisors"]["n_compared"] == 1
    assert await AuditEvent.exists(username="cli:tester", object="transcript", recording_id=rid)


@pytest.mark.slow
def test_dit_classify_scores_therapist_turns_only(tmp_path, seed_model_dir):
    with_seed_model(seed_model_dir, tmp_path / "data")
    transcript = {"language": "en", "engine": "faster-whisper", "model": "tiny.en", "duration": 30.0, "segments": [
        {"start": 0.0, "end": 4.0, "speaker": "patient", "text": "He just talked over me again, like I wasn't there."},
        {"start": 4.0, "end": 9.0, "speaker": "therapist",
         "text": "Again you were left feeling like an afterthought, dismissed, and quietly furious about it."},
        {"start": 9.0, "end": 12.0, "speaker": "therapist", "text": "Shall we fill in a thought record for homework?"},
    ]}
    (tmp_path / "t.json").write_text(json.dumps(transcript))
    (tmp_path / "ipaf.json").write_text(json.dumps(IPAF))
    result = dit("classify", str(tmp_path / "t.json"), "--ipaf", str(tmp_path / "ipaf.json"), "--phase", "middle",
                 data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    first, echo, homework = output["segments"]
    assert first == {"index": 0, "ipaf_reference": None, "transference_link": None}
    assert echo["ipaf_reference"] > homework["ipaf_reference"]
    assert output["session"]["verdict"] in {"on-model", "drifting", "off-model"}
    assert output["session"]["reasons"]
    missing = dit("classify", str(tmp_path / "nope.json"), "--ipaf", str(tmp_path / "ipaf.json"), data_dir=tmp_path / "data")
    assert missing.returncode == 2
