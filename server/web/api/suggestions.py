"""On-model suggestions beside the rating form, and the raters' judgements of them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server import access
from server.services import suggestions
from server.web.deps import api_user, json_body, settings_of


async def get_suggestion(request: Request) -> JSONResponse:
    """
    summary: The classifier's suggestion for a session (per therapist segment, IPAF reference and transference link probabilities; a verdict with reasons and evidence).
    responses:
      200: {description: "{segments: [{index, ipaf_reference, transference_link}], session: {verdict, reasons, evidence}, ipaf}"}
      409: {description: No transcript or no IPAF yet.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    return JSONResponse(await suggestions.suggestion_for(user, recording, request.app.state.suggestion_model))


async def post_judgement(request: Request) -> JSONResponse:
    """
    summary: Agree or disagree with one suggestion; the judgement becomes training data.
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [segment, label, agree], properties: {segment: {type: integer}, label: {type: string, enum: [ipaf_reference, transference_link]}, agree: {type: boolean}, suggested: {type: boolean, description: "what the suggestion said (default true)"}}}
    responses:
      201: {description: Recorded.}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    await access.require_may_judge_suggestion(user, recording)
    judgement = await suggestions.record_judgement(settings_of(request), user, recording, await json_body(request))
    return JSONResponse(judgement, status_code=201)


async def get_model_card(request: Request) -> JSONResponse:
    """
    summary: The on-model classifier's model card (course leads and admins).
    responses:
      200: {description: "{in_use: {version, created_at, training_data_sha256, n_examples, n_cases, n_supervisor_examples, sentence_encoders, metrics: [{data, label, n, positives, precision, recall, f1, roc_auc, average_precision, brier, swapped_ipaf_fpr}], good, good_if}, saved: [{version, created_at, good, n_examples, n_supervisor_examples}], train_with, against_supervisors: {verdicts, items (by phase), competent_score, inappropriate_score, n_rated, n_compared, n_without_suggestion, n_without_item_scores, table: [{suggested, official: {verdict: tapes}}], agreement, kappa: [{weights, kappa, n_recordings, reading, reading_source}]}}"}
      403: {description: Not a course lead or an admin.}
    """
    return JSONResponse(await suggestions.model_card(api_user(request), request.app.state.suggestion_model))


RECORDING = "/recordings/{recording_id:int}"

routes = [
    Route(f"{RECORDING}/suggestion", get_suggestion, methods=["GET"], name="suggestion"),
    Route(f"{RECORDING}/suggestion/judgements", post_judgement, methods=["POST"], name="judgement"),
    Route("/classifier", get_model_card, methods=["GET"], name="classifier"),
]
