"""The supervisors' and course leads' rating pages: the queue, the rating form beside the transcript,
the ratings of a recording (blind until everyone is in; released feedback for the trainee) and the
adjudication of a double-rated tape.

Every page goes through the same services and access rules as the JSON API, so a page answers 404
and 403 exactly where the API does; the pages' scripts write through the API.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rating.scale import Scale
from server import access
from server.models import Rating, RatingAction, RatingEvent, RatingKind, RatingStatus, Role
from server.services.ratings import my_rating, pooled_evidence, rating_json, visible_ratings
from server.services.recordings import latest_job, quality_flag
from server.services.transcripts import transcript_segments
from server.web.deps import page_user, render, scale_of, settings_of
from server.web.serialise import job_json, queue_json, recording_json


def scale_context(scale: Scale, phase: str) -> dict:
    """What every rating template needs to know about the scale for one phase's form."""
    return {
        "scale": scale,
        "items": scale.items_for(phase),
        "scores": list(range(scale.min_score, scale.max_score + 1)),
        "score_labels": scale.score_labels,
    }


def evidence_times(segments: list[dict] | None) -> dict[int, dict]:
    return {s["index"]: s for s in segments or []}


async def queue_page(request: Request) -> Response:
    user = page_user(request)
    queue = await queue_json(request, user)
    submitted = await (
        Rating.filter(rater=user, kind=RatingKind.INDIVIDUAL, status=RatingStatus.SUBMITTED)
        .select_related("recording__session__case")
        .order_by("-submitted_at")
        .limit(20)
    )
    return render(request, "queue.html", queue=queue, submitted=submitted,
                  is_supervisor=user.role == Role.SUPERVISOR,
                  lapsed=user.role == Role.SUPERVISOR and not access.accreditation_is_current(user, settings_of(request)))


async def rate_page(request: Request) -> Response:
    """The rating form beside the transcript and the player; read-only once submitted."""
    user = page_user(request)
    recording = await access.rateable_recording(user, request.path_params["recording_id"])
    scale = scale_of(request)
    settings = settings_of(request)
    rating = await my_rating(user, recording, scale)
    segments = await transcript_segments(settings_of(request), recording)
    notice = None
    if rating.status == RatingStatus.SUBMITTED:
        pass
    elif rating.scale_version != scale.version:
        notice = (f"This rating was started on scale {rating.scale_version}, but the scale in use is "
                  f"{scale.version}; it cannot be changed. Ask a course lead.")
    elif not access.accreditation_is_current(user, settings):
        notice = "Only a supervisor whose DIT accreditation is current can rate; your draft cannot be saved."
    editable = rating.status == RatingStatus.DRAFT and notice is None
    reopened = None
    if rating.status == RatingStatus.DRAFT and rating.id is not None:
        last = await RatingEvent.filter(rating_id=rating.id).order_by("-created_at", "-id").select_related("actor").first()
        reopened = last if last is not None and last.action == RatingAction.REOPENED else None
    return render(
        request,
        "rate.html",
        recording=recording,
        case=recording.session.case,
        info=await recording_json(request, recording),
        job=job_json(await latest_job(recording)),
        segments=segments,
        by_index=evidence_times(segments),
        rating=rating_json(rating, scale),
        editable=editable,
        notice=notice,
        quality_flag=await quality_flag(recording.id),
        reopened=reopened,
        just_submitted=request.query_params.get("submitted") == "1" and rating.status == RatingStatus.SUBMITTED,
        **scale_context(scale, rating.phase),
    )


async def ratings_page(request: Request) -> Response:
    """What GET /api/recordings/{id}/ratings lets the caller see, as a page."""
    user = page_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    scale = scale_of(request)
    data = await visible_ratings(user, recording, scale, settings_of(request))
    ratings = data["ratings"]
    is_rater = await access.is_rater(user, recording)
    mine = None
    if is_rater:
        mine = await Rating.get_or_none(recording=recording, rater=user, kind=RatingKind.INDIVIDUAL)
    submitted_individual = [r for r in ratings if r["kind"] == RatingKind.INDIVIDUAL and r["status"] == RatingStatus.SUBMITTED]
    official = next((r for r in ratings if r["id"] == data["official"]), None)
    can_read = await access.may_read_trainee(user, recording.session.case.trainee_id)
    segments = await transcript_segments(settings_of(request), recording)
    phase = recording.session.phase.value
    return render(
        request,
        "ratings.html",
        recording=recording,
        case=recording.session.case,
        info=await recording_json(request, recording),
        data=data,
        ratings=ratings,
        official=official,
        mine_id=mine.id if mine else None,
        mine_status=mine.status.value if mine else None,
        is_rater=is_rater,
        is_owner=access.is_treating_trainee(user, recording.session.case),
        can_adjudicate=access.may_adjudicate(user, recording) and data["all_submitted"] and len(submitted_individual) >= 2,
        can_release=access.sees_everything(user) and official is not None and (
            not data["released"] or official["submitted_at"] != (recording.released_result or {}).get("submitted_at")),
        history=await RatingEvent.filter(rating__recording=recording).select_related("actor", "rating__rater")
        .order_by("created_at") if access.sees_everything(user) else [],
        has_player=can_read,
        # Evidence opens where this viewer can listen: the transcript page, or the rating page for a rater.
        moment_base=request.app.url_path_for("recording" if can_read else "rate", recording_id=recording.id),
        by_index=evidence_times(segments),
        **scale_context(scale, ratings[0]["phase"] if ratings else phase),
    )


async def adjudicate_page(request: Request) -> Response:
    """The raters' scores side by side and the consensus form (course leads and admins)."""
    user = page_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    access.require_adjudicator(user, recording)
    scale = scale_of(request)
    data = await visible_ratings(user, recording, scale, settings_of(request))
    individual = [r for r in data["ratings"] if r["kind"] == RatingKind.INDIVIDUAL and r["status"] == RatingStatus.SUBMITTED]
    context = {"recording": recording, "case": recording.session.case, "info": await recording_json(request, recording),
               "data": data}
    if not data["all_submitted"] or len(individual) < 2:
        # As the consensus API answers: 409 until at least two assigned raters have all submitted.
        return render(request, "adjudicate.html", status_code=409, ready=False, individual=individual,
                      message="Adjudication starts when at least two assigned raters have all submitted.",
                      **context, **scale_context(scale, recording.session.phase.value))
    consensus = next((r for r in data["ratings"] if r["kind"] == RatingKind.CONSENSUS), None)
    agreed = {row["item"]: next(iter(row["scores"].values())) for row in data["comparison"] if not row["differs"]}
    start = consensus or {"scores": {k: v for k, v in agreed.items() if v is not None}, "comments": {},
                          "evidence": pooled_evidence(individual), "overall_comment": "",
                          "status": RatingStatus.DRAFT.value, "updated_at": ""}
    segments = await transcript_segments(settings_of(request), recording)
    notes = {}
    for r in individual:
        for item_id in set(r["comments"]) | set(r["evidence"]):
            notes.setdefault(item_id, []).append(
                {"rater": r["rater"], "comment": r["comments"].get(item_id, ""), "evidence": r["evidence"].get(item_id, [])})
    return render(
        request,
        "adjudicate.html",
        ready=True,
        individual=individual,
        rows={row["item"]: row for row in data["comparison"]},
        consensus=consensus,
        start=start,
        editable=start["status"] == RatingStatus.DRAFT,
        notes=notes,
        by_index=evidence_times(segments),
        segments=segments,
        job=job_json(await latest_job(recording)),
        **context,
        **scale_context(scale, individual[0]["phase"]),
    )


RECORDING = "/recordings/{recording_id:int}"

routes = [
    Route("/queue", queue_page, methods=["GET"], name="queue"),
    Route(f"{RECORDING}/rate", rate_page, methods=["GET"], name="rate"),
    Route(f"{RECORDING}/ratings", ratings_page, methods=["GET"], name="ratings"),
    Route(f"{RECORDING}/adjudicate", adjudicate_page, methods=["GET"], name="adjudicate"),
]

