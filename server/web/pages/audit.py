"""The agreement audit page (course leads and admins) and the calibration page of a recording."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rating.agreement import BANDS, LEVELS, reading
from rating.phases import Phase
from server import access
from server.errors import Invalid, Unprocessable
from server.services.agreement import (
    DEFAULT_BOOTSTRAP,
    MIN_SHARED_TAPES,
    TABLES,
    UNCOMPUTED,
    Filters,
    agreement_rows,
    cohorts,
    compute_table,
    load_ratings,
    load_reference,
    parse_filters,
    rater_names,
    records,
    shared_recordings,
    shortage,
)
from server.services.assignments import assignments_of, current_supervisors
from server.services.calibration import calibration_tapes, mark_calibration, submitted_rater_ids
from server.web.deps import checked_form, page_user, redirect, render, scale_of, settings_of
from server.web.pages.charts import bland_altman, bland_altman_pair, drift_chart, fmt, heatmap


async def calibration_page(request: Request, error: str | None = None, errors: Mapping[str, str] | None = None,
                           values: Mapping[str, str] | None = None, status_code: int = 200) -> Response:
    user = page_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    access.require_lead(user)
    scale = scale_of(request)
    phase = recording.session.phase.value
    assignments = await assignments_of(recording)
    to_assign = await current_supervisors(
        settings_of(request), exclude={a.supervisor_id for a in assignments} | {recording.session.case.trainee_id})
    reference = recording.reference_scores or {}
    if values is None:
        values = {item.id: "" if reference.get(item.id) is None else str(reference[item.id])
                  for item in scale.items_for(phase)}
    added = request.query_params.get("assigned")
    return render(
        request, "audit_calibration.html", status_code=status_code, error=error, errors=errors or {},
        recording=recording, case=recording.session.case, phase=phase, items=scale.items_for(phase),
        scale=scale, values=values, assignments=assignments, submitted=await submitted_rater_ids(recording),
        to_assign=to_assign,
        notice=(f"Marked as a calibration tape; {added} supervisor{'s' if added != '1' else ''} newly assigned."
                if added is not None and added.isdigit() else None),
    )


async def calibration_form(request: Request) -> Response:
    user = page_user(request)
    form = await checked_form(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    access.require_lead(user)
    scale = scale_of(request)
    phase = recording.session.phase.value
    values, scores = {}, {}
    for item in scale.items_for(phase):
        raw = str(form.get(f"score-{item.id}", "")).strip()
        values[item.id] = raw
        if raw:
            try:
                scores[item.id] = int(raw)
            except ValueError:
                scores[item.id] = raw  # validate_scores names it: not a whole number
    try:
        added = await mark_calibration(user, recording, scores, settings_of(request), scale)
    except Unprocessable as exc:
        return await calibration_page(request, error=exc.detail, errors=exc.errors, values=values,
                                      status_code=exc.status_code)
    return redirect(request, "calibration", query=f"assigned={len(added)}", recording_id=recording.id)


async def audit_page(request: Request) -> Response:
    user = page_user(request)
    access.require_lead(user, "The agreement audit is for course leads and admins.")
    settings = settings_of(request)
    scale = scale_of(request)
    params = request.query_params
    try:
        filters = parse_filters(params)
        error = None
    except Invalid as exc:
        filters, error = Filters(), f"{exc.detail} Showing every rating instead."
    n_boot = DEFAULT_BOOTSTRAP
    band = settings.rater_bias_band
    ratings = await load_ratings(filters)
    reference = await load_reference(ratings["recording"])
    names = await rater_names(ratings["rater"].unique())
    panel = compute_table("raters", ratings, reference, band=band, n_boot=n_boot, names=names)
    pairs = compute_table("pairs", ratings, reference, band=band, n_boot=n_boot)
    drift = compute_table("drift", ratings, reference, band=band, n_boot=n_boot)
    totals = compute_table("totals", ratings, reference, band=band, n_boot=n_boot)
    raters = sorted(ratings["rater"].unique(), key=lambda r: names.get(r, r).lower())

    audit_url = request.app.url_path_for("audit")

    def ba_link(a: str, b: str) -> str:
        return f"{audit_url}?{filters.query(a=a, b=b)}#bland-altman"

    a, b, ba_note = bland_altman_pair(pairs, raters, params.get("a") or "", params.get("b") or "")
    ba = bland_altman(totals, ratings, a, b, names) if a and b else None
    message = shortage(ratings)
    # Coefficients from too few shared tapes are not shown at all: the message says what is needed.
    agreement = agreement_rows(ratings, scale, filters.level, n_boot, band) if message is None else {
        "rows": [], "forms": [], "alphas": []}
    if message is None and not (agreement["rows"] and (agreement["rows"][0]["icc"] or {}).get("value") is not None):
        message = UNCOMPUTED
    query = f"?{filters.query()}" if filters.query() else ""
    url = request.app.url_path_for
    tables = [{"name": name, "description": description, "href": url("api:agreement_table", table=name) + query}
              for name, (description, _) in TABLES.items()]
    return render(
        request, "audit.html", error=error, filters=filters, cohorts=await cohorts(), phases=list(Phase),
        levels=LEVELS, message=message, n_ratings=len(ratings), min_shared=MIN_SHARED_TAPES,
        n_recordings=int(ratings["recording"].nunique()), n_raters=len(raters),
        n_shared=shared_recordings(ratings), agreement=agreement,
        panel=records(panel), band=band, n_flagged=int(panel["flagged"].sum()) if not panel.empty else 0,
        heatmap=heatmap(pairs, raters, names, ba_link), ba=ba, ba_note=ba_note,
        rater_options=[{"username": r, "name": names.get(r, r)} for r in raters],
        drift=drift_chart(drift, panel, names, band), tables=tables, api_href=url("api:agreement") + query,
        calibration=await calibration_tapes(),
        sources={"icc": BANDS["cicchetti_1994"].source, "alpha": BANDS["krippendorff_2004"].source},
        fmt=fmt, reading=reading,
    )


RECORDING = "/recordings/{recording_id:int}"

routes = [
    Route("/audit", audit_page, methods=["GET"], name="audit"),
    Route(f"{RECORDING}/calibration", calibration_page, methods=["GET"], name="calibration"),
    Route(f"{RECORDING}/calibration", calibration_form, methods=["POST"], name="calibration_submit"),
]
