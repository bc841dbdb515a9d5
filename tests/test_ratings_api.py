"""Competence rating through the real app and database: assign, draft, submit, blindness, adjudication,
release, feedback and export."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from rating.scale import load_scale
from server.models import Role, User
from tests.conftest import open_case, run_queued_jobs, upload

SCALE = load_scale()
MIDDLE = [item.id for item in SCALE.items_for("middle")]


@pytest.fixture
async def rated_recording(people, settings, media_files) -> int:
    """A transcribed middle-phase session (session 6) of the trainee's case."""
    trainee = people["trainee"]
    case_id = await open_case(trainee, "DIT-300")
    recording_id = (await upload(trainee, case_id, 6, media_files["wav"])).json()["id"]
    await run_queued_jobs(settings)
    return recording_id


def all_scores(value: int) -> dict[str, int]:
    return {item: value for item in MIDDLE}


@pytest.mark.slow
async def test_blind_double_rating_adjudication_release_and_export(people, rated_recording):
    rid = rated_recording
    trainee, sue, sid, lead = people["trainee"], people["supervisor"], people["other_supervisor"], people["lead"]

    assert (await trainee.post(f"/api/recordings/{rid}/submit-for-assessment")).status_code == 200
    for supervisor in ("supervisor", "other_supervisor"):
        response = await lead.post(f"/api/recordings/{rid}/assignments", json={"supervisor": supervisor})
        assert response.status_code == 201, response.text
    again = await lead.post(f"/api/recordings/{rid}/assignments", json={"supervisor": "supervisor"})
    assert again.status_code == 409

    queue = (await sid.get("/api/queue")).json()["queue"]
    assert [(q["id"], q["phase"], q["status"], q["my_rating"]) for q in queue] == [(rid, "middle", "done", None)]
    assert queue[0]["duration"] == pytest.approx(11.0, abs=0.1)

    # Sue drafts as she goes; the draft survives and is hers alone.
    draft = {"scores": {MIDDLE[0]: 4, MIDDLE[1]: None}, "comments": {MIDDLE[0]: "Returns to the focus."},
             "evidence": {MIDDLE[0]: [0]}}
    saved = await sue.request("PUT", f"/api/recordings/{rid}/ratings/mine", json=draft)
    assert saved.status_code == 200, saved.text
    mine = (await sue.get(f"/api/recordings/{rid}/ratings/mine")).json()
    assert (mine["status"], mine["scores"], mine["evidence"], mine["scale_version"]) == (
        "draft", {MIDDLE[0]: 4}, {MIDDLE[0]: [0]}, SCALE.version)

    early = await sue.post(f"/api/recordings/{rid}/ratings/mine/submit")
    assert early.status_code == 422 and "Score every item" in early.json()["error"]
    assert early.json()["errors"][MIDDLE[1]] == "Not scored."

    sue_scores = all_scores(4) | {MIDDLE[2]: 2}
    await sue.request("PUT", f"/api/recordings/{rid}/ratings/mine", json={**draft, "scores": sue_scores})
    submitted = (await sue.post(f"/api/recordings/{rid}/ratings/mine/submit")).json()
    assert (submitted["status"], submitted["total"], submitted["passed"]) == ("submitted", sum(sue_scores.values()), True)
    assert submitted["mean"] == pytest.approx(sum(sue_scores.values()) / len(MIDDLE), abs=0.01)
    assert (await sue.post(f"/api/recordings/{rid}/ratings/mine/submit")).status_code == 409
    locked = await sue.request("PUT", f"/api/recordings/{rid}/ratings/mine", json={"scores": {MIDDLE[0]: 1}})
    assert locked.status_code == 409 and "locked" in locked.json()["error"]

    # Blind: Sid sees only his own until both are in; the trainee sees nothing.
    sid_view = (await sid.get(f"/api/recordings/{rid}/ratings")).json()
    assert [r["status"] for r in sid_view["ratings"]] == [] and sid_view["all_submitted"] is False
    assert (await trainee.get(f"/api/recordings/{rid}/ratings")).json()["ratings"] == []

    sid_scores = all_scores(4) | {MIDDLE[2]: 5}
    await sid.request("PUT", f"/api/recordings/{rid}/ratings/mine", json={"scores": sid_scores})
    assert (await sid.post(f"/api/recordings/{rid}/ratings/mine/submit")).status_code == 200
    assert (await sid.get("/api/queue")).json()["queue"] == []

    both = (await sue.get(f"/api/recordings/{rid}/ratings")).json()
    assert both["all_submitted"] is True and len(both["ratings"]) == 2
    differing = [row for row in both["comparison"] if row["differs"]]
    assert [(row["item"], row["spread"]) for row in differing] == [(MIDDLE[2], 3)]
    assert {r["rater"] for r in both["ratings"]} == {"Rater 1", "Rater 2"}  # anonymised for raters

    assert (await lead.post(f"/api/recordings/{rid}/release")).status_code == 409  # adjudication pending
    assert (await sue.get(f"/api/recordings/{rid}/ratings/consensus")).status_code == 403
    consensus = (await lead.get(f"/api/recordings/{rid}/ratings/consensus")).json()
    assert MIDDLE[2] not in consensus["scores"] and consensus["scores"][MIDDLE[0]] == 4
    settled = await lead.request("PUT", f"/api/recordings/{rid}/ratings/consensus",
                                 json={"scores": {**consensus["scores"], MIDDLE[2]: 3},
                                       "comments": {MIDDLE[2]: "Settled at 3 after listening to 12:40."}})
    assert settled.status_code == 200
    official = (await lead.post(f"/api/recordings/{rid}/ratings/consensus/submit")).json()
    assert official["kind"] == "consensus" and official["scores"][MIDDLE[2]] == 3

    assert (await trainee.get(f"/api/recordings/{rid}/ratings")).json()["ratings"] == []
    assert (await lead.post(f"/api/recordings/{rid}/release")).status_code == 200
    feedback = (await trainee.get(f"/api/recordings/{rid}/ratings")).json()
    assert feedback["released"] is True
    assert [r["kind"] for r in feedback["ratings"]] == ["consensus"]
    assert feedback["ratings"][0]["comments"][MIDDLE[2]].startswith("Settled at 3")
    assert feedback["official"] == official["id"]

    everything = (await lead.get(f"/api/recordings/{rid}/ratings")).json()
    assert len(everything["ratings"]) == 3  # the original ratings are kept

    exported = (await lead.get("/api/ratings/export?format=csv")).text
    rows = list(csv.DictReader(io.StringIO(exported)))
    by_rater = {}
    for row in rows:
        by_rater.setdefault((row["rater"], row["kind"]), {})[row["item"]] = int(row["score"])
        assert row["phase"] == "middle" and row["scale_version"] == SCALE.version and row["recording"] == str(rid)
    assert by_rater[("supervisor", "individual")] == sue_scores
    assert by_rater[("other_supervisor", "individual")] == sid_scores
    as_json = (await lead.get("/api/ratings/export?format=json")).json()["ratings"]
    assert len(as_json) == len(rows) == 3 * len(MIDDLE)
    assert (await sue.get("/api/ratings/export")).status_code == 403


@pytest.mark.slow
async def test_reopening_needs_a_reason_and_keeps_or_withdraws_released_feedback(people, rated_recording):
    rid = rated_recording
    sue, lead, trainee = people["supervisor"], people["lead"], people["trainee"]
    await lead.post(f"/api/recordings/{rid}/assignments", json={"supervisor": "supervisor"})
    await sue.request("PUT", f"/api/recordings/{rid}/ratings/mine", json={"scores": all_scores(2)})
    rating = (await sue.post(f"/api/recordings/{rid}/ratings/mine/submit")).json()
    assert rating["passed"] is False and "below" in " ".join(rating["reasons"])
    assert (await lead.post(f"/api/recordings/{rid}/release")).status_code == 200
    assert len((await trainee.get(f"/api/recordings/{rid}/ratings")).json()["ratings"]) == 1

    assert (await sue.post(f"/api/ratings/{rating['id']}/reopen", json={"reason": "x"})).status_code == 403
    no_reason = await lead.post(f"/api/ratings/{rating['id']}/reopen", json={})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]
    undecided = await lead.post(f"/api/ratings/{rating['id']}/reopen", json={"reason": "Scored the wrong session."})
    assert undecided.status_code == 400 and "'released': 'keep'" in undecided.json()["error"]
    # Kept: the trainee sees the result released until a new one is released, not the revision under way.
    reopened = await lead.post(f"/api/ratings/{rating['id']}/reopen",
                               json={"reason": "Scored the wrong session.", "released": "keep"})
    assert reopened.json()["status"] == "draft"
    shown = (await trainee.get(f"/api/recordings/{rid}/ratings")).json()
    assert [r["passed"] for r in shown["ratings"]] == [False] and shown["released"] is True
    edited = await sue.request("PUT", f"/api/recordings/{rid}/ratings/mine", json={"scores": all_scores(5)})
    assert edited.status_code == 200
    assert (await lead.post(f"/api/ratings/{rating['id']}/reopen", json={"reason": "again"})).status_code == 409
    assert (await sue.post(f"/api/recordings/{rid}/ratings/mine/submit")).json()["passed"] is True
    assert [r["passed"] for r in (await trainee.get(f"/api/recordings/{rid}/ratings")).json()["ratings"]] == [False]
    work = (await lead.get("/api/worklist")).json()["stages"]
    assert [e["recording"] for e in work["ready_to_release"]] == [rid]
    assert (await lead.post(f"/api/recordings/{rid}/release")).status_code == 200
    assert [r["passed"] for r in (await trainee.get(f"/api/recordings/{rid}/ratings")).json()["ratings"]] == [True]
    assert [e["recording"] for e in (await lead.get("/api/worklist")).json()["stages"]["recently_released"]] == [rid]

    # Withdrawn: the trainee sees why instead, and nothing of the result.
    withdraw = {"reason": "Item 3 misread.", "released": "withdraw"}
    no_why = await lead.post(f"/api/ratings/{rating['id']}/reopen", json=withdraw)
    assert no_why.status_code == 400 and "withdrawn_reason" in no_why.json()["error"]
    withdrawn = await lead.post(f"/api/ratings/{rating['id']}/reopen",
                                json={**withdraw, "withdrawn_reason": "The result is being corrected."})
    assert withdrawn.status_code == 200
    shown = (await trainee.get(f"/api/recordings/{rid}/ratings")).json()
    assert (shown["ratings"], shown["released"], shown["withdrawn_reason"]) == ([], False, "The result is being corrected.")


@pytest.mark.slow
async def test_invalid_ratings_are_refused_with_a_clear_message(people, rated_recording):
    rid = rated_recording
    sue, lead = people["supervisor"], people["lead"]
    await lead.post(f"/api/recordings/{rid}/assignments", json={"supervisor": "supervisor"})
    put = lambda body: sue.request("PUT", f"/api/recordings/{rid}/ratings/mine", json=body)

    out_of_range = await put({"scores": {MIDDLE[0]: 7}})
    assert out_of_range.status_code == 422
    assert out_of_range.json()["errors"][MIDDLE[0]] == f"Score 7 for '{MIDDLE[0]}' is outside 0-6."
    other_phase = await put({"scores": {"goodbye-letter": 3}})
    assert other_phase.status_code == 422 and "ending phase" in other_phase.json()["errors"]["goodbye-letter"]
    unknown = await put({"scores": {"charm": 3}})
    assert unknown.status_code == 422 and "charm" in unknown.json()["error"]
    not_a_number = await put({"scores": {MIDDLE[0]: "4"}})
    assert not_a_number.status_code == 422
    bad_evidence = await put({"scores": {}, "evidence": {MIDDLE[0]: [999]}})
    assert bad_evidence.status_code == 422 and "segment" in bad_evidence.json()["error"]

    # Unassigned, unaccredited, own recording, wrong role.
    unassigned = await people["other_supervisor"].request("PUT", f"/api/recordings/{rid}/ratings/mine", json={})
    assert unassigned.status_code == 404
    unassigned_reader = await people["trainee"].get(f"/api/recordings/{rid}/ratings/mine")
    assert unassigned_reader.status_code == 403 and "not assigned" in unassigned_reader.json()["error"]
    lapsed = await User.get(username="other_supervisor")
    lapsed.accredited_on = date.today() - timedelta(days=4 * 366)
    await lapsed.save()
    refused = await lead.post(f"/api/recordings/{rid}/assignments", json={"supervisor": "other_supervisor"})
    assert refused.status_code == 400 and "accreditation is not current" in refused.json()["error"]
    own = await lead.post(f"/api/recordings/{rid}/assignments", json={"supervisor": "trainee"})
    assert own.status_code == 400
    by_supervisor = await sue.post(f"/api/recordings/{rid}/assignments", json={"supervisor": "supervisor"})
    assert by_supervisor.status_code == 403

    # Accreditation lapses after assignment: drafts and submission are refused.
    sue_user = await User.get(username="supervisor")
    sue_user.accredited = False
    await sue_user.save()
    assert (await put({"scores": {MIDDLE[0]: 3}})).status_code == 403


async def test_the_scale_is_served(people):
    whole = (await people["trainee"].get("/api/scale")).json()
    assert whole["version"] == SCALE.version and len(whole["items"]) == len(SCALE.items)
    middle = (await people["supervisor"].get("/api/scale?phase=middle")).json()
    assert [item["id"] for item in middle["items"]] == MIDDLE
    assert (await people["supervisor"].get("/api/scale?phase=late")).status_code == 400
    assert (await people["anonymous"].get("/api/scale")).status_code == 401


@pytest.mark.slow
async def test_a_named_senior_supervisor_adjudicates_blind(people, rated_recording, password_hash):
    from tests.conftest import Client, bearer_token

    rid = rated_recording
    lead, sue, sid = people["lead"], people["supervisor"], people["other_supervisor"]
    senior = await User.create(username="senior", name="Senior Supervisor", role=Role.SUPERVISOR,
                               password_hash=password_hash, accredited=True, accredited_on=date.today())
    token = await bearer_token(senior)
    senior_client = Client(lead.http, senior, token)

    for supervisor in ("supervisor", "other_supervisor"):
        await lead.post(f"/api/recordings/{rid}/assignments", json={"supervisor": supervisor})
    rater = await lead.post(f"/api/recordings/{rid}/adjudicator", json={"supervisor": "supervisor"})
    assert rater.status_code == 400 and "rates this tape" in rater.json()["error"]
    assert (await sue.post(f"/api/recordings/{rid}/adjudicator", json={"supervisor": "senior"})).status_code == 403
    assert (await senior_client.get(f"/api/recordings/{rid}/ratings/consensus")).status_code == 404  # not yet named
    named = await lead.post(f"/api/recordings/{rid}/adjudicator", json={"supervisor": "senior"})
    assert named.status_code == 200
    again = await lead.post(f"/api/recordings/{rid}/assignments", json={"supervisor": "senior"})
    assert again.status_code == 400 and "adjudicates" in again.json()["error"]

    assert (await senior_client.get(f"/api/recordings/{rid}/ratings")).json()["ratings"] == []  # blind until all in
    assert (await senior_client.get(f"/api/recordings/{rid}/ratings/consensus")).status_code == 409
    for client, value in ((sue, 4), (sid, 3)):
        await client.request("PUT", f"/api/recordings/{rid}/ratings/mine", json={"scores": all_scores(value)})
        assert (await client.post(f"/api/recordings/{rid}/ratings/mine/submit")).status_code == 200

    seen = (await senior_client.get(f"/api/recordings/{rid}/ratings")).json()
    assert {r["rater"] for r in seen["ratings"]} == {"Rater 1", "Rater 2"}  # anonymised
    draft = await senior_client.request("PUT", f"/api/recordings/{rid}/ratings/consensus",
                                        json={"scores": all_scores(4)})
    assert draft.status_code == 200
    official = await senior_client.post(f"/api/recordings/{rid}/ratings/consensus/submit")
    assert official.status_code == 200 and official.json()["kind"] == "consensus"
    assert (await lead.post(f"/api/recordings/{rid}/release")).status_code == 200
    assert (await senior_client.post(f"/api/recordings/{rid}/release")).status_code == 403
