"""The agreement audit's figures and tables, and calibration tapes (course leads and admins)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server import access
from server.errors import NotFound
from server.services.agreement import (
    TABLES,
    compute_table,
    load_ratings,
    load_reference,
    parse_bootstrap,
    parse_filters,
    rater_names,
    records,
    report_of,
)
from server.services.assignments import assignments_of
from server.services.calibration import mark_calibration
from server.web.deps import api_user, csv_response, json_body, scale_of, settings_of


def lead(request: Request) -> None:
    access.require_lead(api_user(request))


async def get_agreement(request: Request) -> JSONResponse:
    """
    summary: Inter-rater agreement of the submitted ratings, as `dit agreement` reports it, with the rater panel (course leads and admins).
    parameters:
      - {name: cohort, in: query, schema: {type: string}, description: The trainees' cohort.}
      - {name: from, in: query, schema: {type: string, format: date}, description: Ratings submitted on or after this day (UTC).}
      - {name: to, in: query, schema: {type: string, format: date}, description: Ratings submitted on or before this day (UTC).}
      - {name: phase, in: query, schema: {type: string, enum: [initial, middle, ending]}}
      - {name: level, in: query, schema: {type: string, enum: [nominal, ordinal, interval, ratio]}, description: "The scores' level of measurement for the headline alpha (default interval)."}
      - {name: bootstrap, in: query, schema: {type: integer}, description: "Bootstrap resamples for the intervals (default 1000)."}
    responses:
      200: {description: "ICC1..ICC3k and alpha_nominal..alpha_ratio of the total score, each {value, ci95, n_recordings, n_raters, reading}; n_recordings, n_raters; items: the same per item; raters: each rater's bias and agreement with reference scores, flagged outside the band; pairs: pairwise weighted kappa; filters; message (why figures are null, or null)."}
      400: {description: A filter value that cannot be used.}
      403: {description: Not a course lead or admin.}
    """
    lead(request)
    filters = parse_filters(request.query_params)
    n_boot = parse_bootstrap(request.query_params)
    settings = settings_of(request)
    ratings = await load_ratings(filters)
    reference = await load_reference(ratings["recording"])
    report, message = report_of(ratings, filters.level, n_boot)
    names = await rater_names(ratings["rater"].unique())
    panel = compute_table("raters", ratings, reference, band=settings.rater_bias_band, n_boot=n_boot, names=names)
    pairs = compute_table("pairs", ratings, reference, band=settings.rater_bias_band, n_boot=n_boot)
    return JSONResponse({
        **report,
        "raters": records(panel),
        "pairs": records(pairs),
        "rater_bias_band": settings.rater_bias_band,
        "n_calibration_recordings": int(ratings.loc[ratings["is_calibration"].astype(bool), "recording"].nunique()),
        "n_reference_recordings": int(reference["recording"].nunique()),
        "filters": filters.echo(),
        "message": message,
    })


async def get_table(request: Request) -> Response:
    """
    summary: One table of the agreement audit as CSV (course leads and admins); the same filters as /api/agreement.
    parameters:
      - {name: table, in: path, required: true, schema: {type: string, enum: [ratings, total, by-phase, by-item, raters, pairs, totals, drift, trend]}}
    responses:
      200: {description: The table as CSV.}
      404: {description: No such table.}
    """
    lead(request)
    name = request.path_params["table"]
    if name not in TABLES:
        raise NotFound(f"No table '{name}': the tables are {', '.join(TABLES)}.")
    filters = parse_filters(request.query_params)
    n_boot = parse_bootstrap(request.query_params)
    settings = settings_of(request)
    ratings = await load_ratings(filters)
    reference = await load_reference(ratings["recording"]) if name in ("raters", "drift", "trend") else None
    names = await rater_names(ratings["rater"].unique()) if name == "raters" else None
    table = compute_table(name, ratings, reference, band=settings.rater_bias_band, n_boot=n_boot, names=names)
    return csv_response(table.columns, ([*row.values()] for row in records(table)), f"dit-agreement-{name}.csv")


async def post_calibration(request: Request) -> JSONResponse:
    """
    summary: Mark a recording as a calibration tape, optionally with reference scores, and assign it to every supervisor whose accreditation is current (course leads and admins).
    requestBody:
      content:
        application/json:
          schema: {type: object, properties: {reference_scores: {type: object, description: "{item id: score} for items of the session's phase; left out, the reference scores are kept; null or {} clears them"}}}
    responses:
      200: {description: "{recording, is_calibration, reference_scores, assigned: [usernames newly assigned], raters: [every assigned username]}"}
      422: {description: "Reference scores that do not fit the form: {error, errors: {item: problem}}"}
    """
    user = api_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    access.require_lead(user)
    body = await json_body(request)
    added = await mark_calibration(user, recording, body.get("reference_scores"), settings_of(request),
                                   scale_of(request), replace_reference="reference_scores" in body)
    raters = await assignments_of(recording)
    return JSONResponse({
        "recording": recording.id,
        "is_calibration": True,
        "reference_scores": recording.reference_scores,
        "assigned": [supervisor.username for supervisor in added],
        "raters": [assignment.supervisor.username for assignment in raters],
    })


routes = [
    Route("/agreement", get_agreement, methods=["GET"], name="agreement"),
    Route("/agreement/tables/{table}.csv", get_table, methods=["GET"], name="agreement_table"),
    Route("/recordings/{recording_id:int}/calibration", post_calibration, methods=["POST"], name="calibration"),
]
