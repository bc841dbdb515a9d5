"""Competence rating: the scale, assignment, each rater's draft and submission, the blind comparison,
adjudication, release, reopening and the export."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rating.phases import Phase
from server import access
from server.errors import Invalid
from server.services import assignments, ratings, recordings
from server.web.deps import api_user, csv_response, json_body, scale_of, settings_of
from server.web.serialise import queue_json

PHASES = [phase.value for phase in Phase]


async def get_scale(request: Request) -> JSONResponse:
    """
    summary: The competence scale in use (all items, or one phase's form with ?phase=initial|middle|ending).
    responses:
      200: {description: "{id, version, score_range, pass_rule, items: [...]}"}
    """
    api_user(request)
    phase = request.query_params.get("phase")
    if phase is not None and phase not in PHASES:
        raise Invalid(f"phase is one of {', '.join(PHASES)}.")
    return JSONResponse(scale_of(request).to_dict(phase))


async def post_assignment(request: Request) -> JSONResponse:
    """
    summary: Assign a recording to an accredited supervisor for rating (course leads and admins).
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [supervisor], properties: {supervisor: {type: string}}}
    responses:
      201: {description: "The assignment: {recording, supervisor, second_rater, warning}; second_rater names the supervisor added for blind double rating, or is null; warning, the quality check the recording failed (kept with it), or null."}
      400: {description: Not a supervisor, not accredited, or the recording's own trainee.}
      409: {description: Already assigned to that supervisor.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    access.require_lead(user)
    body = await json_body(request)
    supervisor, second = await assignments.assign(user, recording, str(body.get("supervisor", "")),
                                                  settings_of(request))
    return JSONResponse({"recording": recording.id, "supervisor": supervisor.username,
                         "second_rater": second.username if second else None,
                         "warning": await recordings.quality_flag(recording.id)}, status_code=201)


async def delete_assignment(request: Request) -> JSONResponse:
    """
    summary: Take the recording from a rater who has not submitted (course leads and admins).
    responses:
      200: {description: "{recording, unassigned}"}
      404: {description: That supervisor is not assigned to it.}
      409: {description: They have submitted; reopen their rating instead.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    supervisor = await assignments.unassign(user, recording, request.path_params["username"])
    return JSONResponse({"recording": recording.id, "unassigned": supervisor.username})


async def post_adjudicator(request: Request) -> JSONResponse:
    """
    summary: Name a senior supervisor to adjudicate this tape's double rating (course leads and admins).
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [supervisor], properties: {supervisor: {type: string}}}
    responses:
      200: {description: Named.}
      400: {description: Not an accredited supervisor, or one of the tape's raters.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    access.require_lead(user)
    body = await json_body(request)
    adjudicator = await assignments.name_adjudicator(user, recording, str(body.get("supervisor", "")),
                                                     settings_of(request))
    return JSONResponse({"recording": recording.id, "adjudicator": adjudicator.username})


async def get_queue(request: Request) -> JSONResponse:
    """
    summary: What awaits the calling supervisor's rating, oldest assignment first.
    responses:
      200: {description: "{queue: [{recording, case, session, phase, duration, status, my_rating}]}"}
    """
    return JSONResponse({"queue": await queue_json(request, api_user(request))})


async def get_mine(request: Request) -> JSONResponse:
    """
    summary: The caller's rating of this recording (a new, empty draft the first time).
    responses:
      200: {description: The rating.}
      403: {description: Not assigned to this recording.}
    """
    user = api_user(request)
    recording = await access.rateable_recording(user, request.path_params["recording_id"])
    scale = scale_of(request)
    return JSONResponse(ratings.rating_json(await ratings.my_rating(user, recording, scale), scale))


async def put_mine(request: Request) -> JSONResponse:
    """
    summary: Save the caller's draft (scores, comments, evidence); unscored items may be null.
    requestBody:
      content:
        application/json:
          schema: {type: object, properties: {scores: {type: object}, comments: {type: object}, evidence: {type: object}, overall_comment: {type: string}}}
    responses:
      200: {description: The saved draft.}
      409: {description: Already submitted.}
      422: {description: "A score out of range, an unknown item or one from another phase: {error, errors: {item: problem}}"}
    """
    user = api_user(request)
    recording = await access.rateable_recording(user, request.path_params["recording_id"])
    scale = scale_of(request)
    rating = await ratings.save_draft(user, recording, await json_body(request), scale, settings_of(request))
    return JSONResponse(ratings.rating_json(rating, scale))


async def submit_mine(request: Request) -> JSONResponse:
    """
    summary: Submit the caller's rating; every item must be scored. The rating is then locked.
    responses:
      200: {description: The submitted rating with total, mean and pass/fail.}
      409: {description: Already submitted.}
      422: {description: Items not scored or invalid.}
    """
    user = api_user(request)
    recording = await access.rateable_recording(user, request.path_params["recording_id"])
    scale = scale_of(request)
    rating = await ratings.submit_mine(user, recording, scale, settings_of(request))
    return JSONResponse(ratings.rating_json(rating, scale))


async def get_ratings(request: Request) -> JSONResponse:
    """
    summary: A recording's ratings, as far as the caller may see them (blind until all raters have submitted; trainees see released feedback only).
    responses:
      200: {description: "{ratings: [...], comparison: [...], all_submitted, released, official}"}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    return JSONResponse(await ratings.visible_ratings(user, recording, scale_of(request), settings_of(request)))


async def reopen(request: Request) -> JSONResponse:
    """
    summary: Reopen a submitted rating (course leads and admins), with the reason recorded.
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [reason], properties: {reason: {type: string}, released: {type: string, enum: [keep, withdraw], description: "Required once the result is released: what the trainee sees meanwhile"}, withdrawn_reason: {type: string, description: "With withdraw: why, shown to the trainee"}}}
    responses:
      200: {description: The reopened rating.}
      400: {description: "No reason given, or a released result with no choice (or no reason to withdraw it)."}
      409: {description: Not submitted.}
    """
    user = api_user(request)
    access.require_lead(user)
    body = await json_body(request)
    rating = await ratings.reopen(user, request.path_params["rating_id"], str(body.get("reason", "")),
                                  scale_of(request), settings_of(request), released=body.get("released"),
                                  withdrawn_reason=str(body.get("withdrawn_reason") or ""))
    return JSONResponse(ratings.rating_json(rating, scale_of(request)))


async def release(request: Request) -> JSONResponse:
    """
    summary: Release a recording's official result to the trainee (course leads and admins).
    responses:
      200: {description: Released.}
      409: {description: No official result yet (not all submitted, or adjudication pending).}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    official = await ratings.release(user, recording, scale_of(request), settings_of(request))
    return JSONResponse({"recording": recording.id, "released": True, "official": official.id})


async def consensus_draft(request: Request) -> JSONResponse:
    """
    summary: Get (GET) or save (PUT) the adjudicated consensus rating of a double-rated recording (course leads and admins).
    responses:
      200: {description: The consensus draft, starting from the items the raters agreed on.}
      409: {description: Not all raters have submitted, or fewer than two ratings.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    access.require_adjudicator(user, recording)
    body = await json_body(request) if request.method == "PUT" else None
    rating = await ratings.consensus(user, recording, scale_of(request), settings_of(request), body)
    return JSONResponse(ratings.rating_json(rating, scale_of(request), rater_label="Consensus"))


async def consensus_submit(request: Request) -> JSONResponse:
    """
    summary: Submit the consensus rating; it becomes the tape's official result. The original ratings are kept.
    responses:
      200: {description: The submitted consensus.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    rating = await ratings.submit_consensus(user, recording, scale_of(request))
    return JSONResponse(ratings.rating_json(rating, scale_of(request), rater_label="Consensus"))


async def export(request: Request) -> Response:
    """
    summary: Every submitted rating in long format (one row per item), as CSV or JSON (course leads and admins).
    parameters:
      - {name: format, in: query, schema: {type: string, enum: [csv, json]}}
    responses:
      200: {description: "recording, case, session, item, rater, kind, score, phase, scale_version, submitted_at"}
    """
    user = api_user(request)
    access.require_lead(user)
    fmt = request.query_params.get("format", "csv")
    if fmt not in ("csv", "json"):
        raise Invalid("format is csv or json.")
    rows = await ratings.export_rows(user)
    if fmt == "json":
        return JSONResponse({"ratings": rows})
    return csv_response(ratings.EXPORT_COLUMNS, ([row[c] for c in ratings.EXPORT_COLUMNS] for row in rows),
                        "dit-ratings.csv")


RECORDING = "/recordings/{recording_id:int}"

routes = [
    Route("/scale", get_scale, methods=["GET"], name="scale"),
    Route("/queue", get_queue, methods=["GET"], name="queue"),
    Route(f"{RECORDING}/assignments", post_assignment, methods=["POST"], name="assign"),
    Route(f"{RECORDING}/assignments/{{username}}", delete_assignment, methods=["DELETE"], name="unassign"),
    Route(f"{RECORDING}/adjudicator", post_adjudicator, methods=["POST"], name="adjudicator"),
    Route(f"{RECORDING}/ratings", get_ratings, methods=["GET"], name="ratings"),
    Route(f"{RECORDING}/ratings/mine", get_mine, methods=["GET"], name="my_rating"),
    Route(f"{RECORDING}/ratings/mine", put_mine, methods=["PUT"], name="my_rating_save"),
    Route(f"{RECORDING}/ratings/mine/submit", submit_mine, methods=["POST"], name="my_rating_submit"),
    Route(f"{RECORDING}/ratings/consensus", consensus_draft, methods=["GET", "PUT"], name="consensus"),
    Route(f"{RECORDING}/ratings/consensus/submit", consensus_submit, methods=["POST"], name="consensus_submit"),
    Route(f"{RECORDING}/release", release, methods=["POST"], name="release"),
    Route("/ratings/{rating_id:int}/reopen", reopen, methods=["POST"], name="reopen"),
    Route("/ratings/export", export, methods=["GET"], name="export"),
]
