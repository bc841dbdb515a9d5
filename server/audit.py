"""The course lead's rater-agreement audit: does a 'pass' from one supervisor mean the same as a pass
from another?

It works on the individual ratings that supervisors submitted (never the consensus of an adjudication),
loaded into the long format of `rating.agreement` (one row per recording, item and rater) and filtered
by the trainee's cohort, the period the ratings were submitted in and the session's phase. From there:

- `GET /api/agreement` answers what `dit agreement` prints for the same ratings, plus the rater panel
  (each rater's bias against the others and against calibration reference scores, flagged outside the
  configured band) and the pairwise weighted kappas;
- `GET /api/agreement/tables/{table}.csv` exports each table, and the ratings themselves;
- `GET /audit` shows the tables and three pictures drawn here as inline SVG (a heatmap of pairwise
  kappa, a Bland-Altman plot for two raters, each rater's drift by quarter);
- `POST /api/recordings/{id}/calibration` (and the page `/recordings/{id}/calibration`) marks a
  calibration tape, with optional reference scores, and assigns it to every current supervisor.
  Blindness needs nothing here: no rater sees another's scores until every assigned rater is in.

Everything here is for course leads and admins only.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from rating.agreement import (
    BANDS,
    ICC_DESCRIPTIONS,
    ICC_FORMS,
    LEVELS,
    agreement_by,
    agreement_report,
    pairwise_kappa,
    rater_bias,
    rater_drift,
    rater_trend,
    reading,
    total_scores,
)
from rating.phases import Phase, phase_of
from rating.scale import Scale
from rating.scoring import RatingError, validate_scores
from server import access
from server.api import api_user, json_body
from server.config import Settings
from server.models import Assignment, Rating, RatingKind, RatingStatus, Recording, Role, User
from server.pages import checked_form, page_user, render
from server.ratings import RatingProblem, accreditation_is_current, require_lead

PHASES = tuple(phase.value for phase in Phase)
DEFAULT_BOOTSTRAP = 1000  # as `dit agreement`
MAX_BOOTSTRAP = 10_000

RATING_COLUMNS = ["recording", "item", "rater", "score", "phase", "submitted_at", "cohort", "case", "session",
                  "is_calibration"]
_AGREEMENT = ["score", "statistic", "value", "ci95_low", "ci95_high", "n_recordings", "n_raters", "design",
              "recommended", "interpretable", "reading", "reading_source"]
# Each exported table, what it holds, and its columns (an empty selection still gets its header).
TABLES = {
    "ratings": ("The submitted individual ratings, one row per item", RATING_COLUMNS),
    "total": ("Agreement on the total score: six ICCs and alpha at four levels", _AGREEMENT),
    "by-phase": ("Agreement on the total score, per phase", ["phase", *_AGREEMENT]),
    "by-item": ("Agreement on each item's score", ["item", *_AGREEMENT]),
    "raters": ("Each rater against the others and the reference scores",
               ["rater", "name", "n_recordings", "n_ratings", "mean_difference", "ci95_low", "ci95_high", "direction",
                "n_reference_recordings", "reference_mean_difference", "agreement_with_reference", "flagged", "flag"]),
    "pairs": ("Quadratic-weighted kappa of every pair of raters on shared items",
              ["rater_a", "rater_b", "kappa", "n_recordings", "n_ratings", "reading", "reading_source"]),
    "totals": ("Each rater's (prorated) total score of each recording",
               ["recording", "rater", "score", "n_items_rated", "phase", "submitted_at", "n_items"]),
    "drift": ("Each rater's mean difference from the others, per quarter",
              ["rater", "period", "n_recordings", "mean_difference", "n_reference_recordings",
               "reference_mean_difference", "agreement_with_reference"]),
    "trend": ("Each rater's change per year in difference from the others and from the reference",
              ["rater", "measure", "n_recordings", "slope_per_year", "ci95_low", "ci95_high", "trend"]),
}


# --- filters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    cohort: str | None = None
    start: date | None = None  # `from`: ratings submitted on or after this day (UTC)
    end: date | None = None  # `to`: ratings submitted on or before this day (UTC)
    phase: str | None = None
    level: str = "interval"

    def echo(self) -> dict:
        return {"cohort": self.cohort, "from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None, "phase": self.phase, "level": self.level}

    def query(self, **extra) -> str:
        """The query string that asks for these filters again (defaults left out)."""
        pairs = {key: value for key, value in self.echo().items()
                 if value and not (key == "level" and value == "interval")}
        pairs.update({key: value for key, value in extra.items() if value})
        return urlencode(pairs)


def _date(params: Mapping[str, str], name: str) -> date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise HTTPException(400, f"'{name}' must be a date as YYYY-MM-DD, not {raw!r}.") from None


def parse_filters(params: Mapping[str, str]) -> Filters:
    """The audit's filters from a query string; 400 with the reason for a value that cannot be used."""
    phase = (params.get("phase") or "").strip() or None
    if phase is not None and phase not in PHASES:
        raise HTTPException(400, f"'phase' is one of {', '.join(PHASES)}, not {phase!r}.")
    level = (params.get("level") or "").strip() or "interval"
    if level not in LEVELS:
        raise HTTPException(400, f"'level' is one of {', '.join(LEVELS)}, not {level!r}.")
    start, end = _date(params, "from"), _date(params, "to")
    if start and end and start > end:
        raise HTTPException(400, f"'from' ({start}) is after 'to' ({end}).")
    cohort = (params.get("cohort") or "").strip() or None
    return Filters(cohort=cohort, start=start, end=end, phase=phase, level=level)


def parse_bootstrap(params: Mapping[str, str]) -> int:
    raw = (params.get("bootstrap") or "").strip()
    if not raw:
        return DEFAULT_BOOTSTRAP
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_BOOTSTRAP:
        raise HTTPException(400, f"'bootstrap' is a whole number of resamples from 0 to {MAX_BOOTSTRAP}, not {raw!r}.")
    return value


# --- loading -----------------------------------------------------------------------------------


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def load_ratings(filters: Filters) -> pd.DataFrame:
    """The submitted individual ratings (never a consensus) that match the filters, in long format:
    recording (its id, as text like `dit agreement` reads it), item, rater (username), score, phase,
    submitted_at (UTC), cohort (the trainee's), case (code), session and is_calibration."""
    query = Rating.filter(kind=RatingKind.INDIVIDUAL, status=RatingStatus.SUBMITTED)
    if filters.cohort:
        query = query.filter(recording__session__case__trainee__cohort=filters.cohort)
    if filters.phase:
        query = query.filter(phase=filters.phase)
    if filters.start:
        query = query.filter(submitted_at__gte=_utc_midnight(filters.start))
    if filters.end:
        query = query.filter(submitted_at__lt=_utc_midnight(filters.end + timedelta(days=1)))
    ratings = await query.select_related("rater", "recording__session__case__trainee").order_by("recording_id", "id")
    rows = []
    for rating in ratings:
        recording = rating.recording
        case = recording.session.case
        for item, score in rating.scores.items():
            if score is None:
                continue
            rows.append((str(recording.id), item, rating.rater.username, float(score), rating.phase,
                         rating.submitted_at, case.trainee.cohort, case.code, recording.session.number,
                         recording.is_calibration))
    frame = pd.DataFrame(rows, columns=RATING_COLUMNS)
    frame["score"] = frame["score"].astype(float)
    frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], utc=True)
    return frame


async def load_reference(recordings: pd.Series | None = None) -> pd.DataFrame:
    """The calibration tapes' reference scores (recording, item, score), for `rater_bias(reference=...)`;
    only those of `recordings` when given."""
    wanted = None if recordings is None else set(recordings.astype(str))
    rows = []
    for recording in await Recording.filter(is_calibration=True).order_by("id"):
        if not recording.reference_scores or (wanted is not None and str(recording.id) not in wanted):
            continue
        for item, score in recording.reference_scores.items():
            if score is not None:
                rows.append((str(recording.id), item, float(score)))
    return pd.DataFrame(rows, columns=["recording", "item", "score"]).astype({"score": float})


async def rater_names(usernames) -> dict[str, str]:
    return dict(await User.filter(username__in=list(usernames)).values_list("username", "name"))


async def cohorts() -> list[str]:
    values = await User.filter(cohort__isnull=False).distinct().values_list("cohort", flat=True)
    return sorted({value for value in values if value})


# --- the figures -------------------------------------------------------------------------------


def _quiet(function, *args, **kwargs):
    """Run a statistic without numpy's warnings about empty or constant groups (they end up as NaN)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return function(*args, **kwargs)


def _number(value) -> float | None:
    if value is None or isinstance(value, str):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def json_safe(value):
    """NaN (or infinity) anywhere in a nested report becomes None: `agreement_report` can leave a NaN
    `reading` where a coefficient is NaN, which JSON cannot carry."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def empty_report(level: str, n_boot: int) -> dict:
    """`agreement_report`'s shape with every figure null: what there is to say about no ratings."""
    null = {"value": None, "ci95": [None, None], "n_recordings": 0, "n_raters": 0, "reading": None}
    report = {"level": level, "score": "total", "n_recordings": 0, "n_raters": 0}
    for form in ICC_FORMS:
        report[form] = {**null, "description": ICC_DESCRIPTIONS[form], "recommended": False, "interpretable": False}
    report["recommended_icc"] = None
    report["icc_design"] = None
    for name in LEVELS:
        report[f"alpha_{name}"] = dict(null)
    report["alpha"] = {"level": level, **null}
    return report | {
        "n_items": 0, "n_ratings": 0, "n_boot": n_boot,
        "reading_sources": {"icc": BANDS["cicchetti_1994"].source, "alpha": BANDS["krippendorff_2004"].source},
        "items": {},
    }


def shared_recordings(ratings: pd.DataFrame) -> int:
    """How many recordings two or more raters rated: what agreement can be measured on."""
    if ratings.empty:
        return 0
    raters = ratings.groupby("recording")["rater"].nunique()
    return int((raters >= 2).sum())


def shortage(ratings: pd.DataFrame) -> str | None:
    """Why there is too little to measure agreement on, or None."""
    if ratings.empty:
        return "No submitted ratings match these filters, so there is no agreement to report."
    n_shared, n_recordings = shared_recordings(ratings), ratings["recording"].nunique()
    if n_shared < 2:
        return (f"Too few ratings to measure agreement: {n_shared} of the {n_recordings} recording"
                f"{'s' if n_recordings != 1 else ''} matching these filters "
                f"{'has' if n_shared == 1 else 'have'} been rated by two or more raters, and agreement needs "
                "at least two such recordings. The figures that cannot be computed are null.")
    return None


UNCOMPUTED = ("Some figures could not be computed (too few recordings rated by the same raters, or no variation "
              "in the scores); they are null.")


def report_of(ratings: pd.DataFrame, level: str, n_boot: int) -> tuple[dict, str | None]:
    """`agreement_report` of the ratings, and a message where there are too few to say much."""
    message = shortage(ratings)
    if ratings.empty:
        return empty_report(level, n_boot), message
    try:
        report = json_safe(_quiet(agreement_report, ratings, level, n_boot=n_boot))
    except ValueError as exc:
        return empty_report(level, n_boot), f"Agreement could not be computed for these ratings: {exc}"
    if message is None and report.get(report.get("recommended_icc") or "ICC1", {}).get("value") is None:
        message = UNCOMPUTED
    return report, message


def rater_panel(ratings: pd.DataFrame, reference: pd.DataFrame | None, band: float,
                names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """`rater_bias` with each rater's name; its flags follow `rating.agreement.flag_raters` at `band`."""
    columns = TABLES["raters"][1]
    if ratings.empty:
        return pd.DataFrame(columns=columns)
    reference = reference if reference is not None and not reference.empty else None
    table = _quiet(rater_bias, ratings, reference, band=band)
    names = names or {}
    table.insert(1, "name", [names.get(rater, rater) for rater in table["rater"]])
    return table[columns]


def compute_table(name: str, ratings: pd.DataFrame, reference: pd.DataFrame | None, *, band: float, n_boot: int,
                  names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One of `TABLES`, for the ratings given (an empty table, with its columns, where there is nothing)."""
    columns = TABLES[name][1]
    if name == "ratings":
        frame = ratings[columns].copy()
        frame["score"] = frame["score"].round().astype(int)
        frame["submitted_at"] = frame["submitted_at"].map(lambda when: when.isoformat())
        return frame
    if ratings.empty:
        return pd.DataFrame(columns=columns)
    reference = reference if reference is not None and not reference.empty else None
    options = {"n_boot": n_boot}
    try:
        if name == "total":
            return _quiet(agreement_by, ratings, by=(), **options)[columns]
        if name == "by-phase":
            return _quiet(agreement_by, ratings, by=("phase",), **options)[columns]
        if name == "by-item":
            return _quiet(agreement_by, ratings, by=("item",), **options)[columns]
        if name == "raters":
            return rater_panel(ratings, reference, band, names)
        if name == "pairs":
            return _quiet(pairwise_kappa, ratings)[columns]
        if name == "totals":
            table = _quiet(total_scores, ratings)
            table["submitted_at"] = table["submitted_at"].map(lambda when: when.isoformat())
            return table[columns]
        if name == "drift":
            return _quiet(rater_drift, ratings, reference, freq="Q")[columns]
        if name == "trend":
            return _quiet(rater_trend, ratings, reference)[columns]
    except ValueError:
        return pd.DataFrame(columns=columns)
    raise KeyError(name)


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: NaN becomes None, numpy numbers plain numbers."""
    rows = []
    for row in frame.to_dict(orient="records"):
        clean = {}
        for key, value in row.items():
            if isinstance(value, (bool, np.bool_)):
                clean[key] = bool(value)
            elif isinstance(value, (int, np.integer)):
                clean[key] = int(value)
            elif isinstance(value, (float, np.floating)):
                clean[key] = _number(value)
            elif value is None or (not isinstance(value, str) and pd.isna(value)):
                clean[key] = None
            else:
                clean[key] = value
        rows.append(clean)
    return rows


def csv_text(frame: pd.DataFrame) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(frame.columns)
    for row in records(frame):
        writer.writerow(["" if value is None else value for value in row.values()])
    return out.getvalue()


# --- the API -----------------------------------------------------------------------------------


def lead(request: Request) -> User:
    user = api_user(request)
    require_lead(user)
    return user


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
    settings: Settings = request.app.state.settings
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
        raise HTTPException(404, f"No table '{name}': the tables are {', '.join(TABLES)}.")
    filters = parse_filters(request.query_params)
    n_boot = parse_bootstrap(request.query_params)
    settings: Settings = request.app.state.settings
    ratings = await load_ratings(filters)
    reference = await load_reference(ratings["recording"]) if name in ("raters", "drift", "trend") else None
    names = await rater_names(ratings["rater"].unique()) if name == "raters" else None
    table = compute_table(name, ratings, reference, band=settings.rater_bias_band, n_boot=n_boot, names=names)
    return Response(csv_text(table), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="dit-agreement-{name}.csv"'})


# --- calibration -------------------------------------------------------------------------------


def check_reference_scores(scale: Scale, phase: str, scores) -> dict[str, int] | None:
    """The reference scores to keep (None for none), or 422 with each item's problem."""
    if scores is None:
        return None
    if not isinstance(scores, dict):
        raise HTTPException(400, "'reference_scores' must be an object mapping item ids to scores.")
    try:
        validate_scores(scale, phase, scores, complete=False)
    except RatingError as exc:
        raise RatingProblem(f"The reference scores do not fit this session's form: {exc}", exc.errors) from exc
    kept = {item.id: scores[item.id] for item in scale.items_for(phase) if scores.get(item.id) is not None}
    return kept or None


async def mark_calibration(user: User, recording: Recording, reference_scores, settings: Settings,
                           scale: Scale, *, replace_reference: bool = True) -> list[User]:
    """Make the recording a calibration tape (with its reference scores, when given) and assign it to
    every supervisor whose accreditation is current and who is not yet assigned. Returns those assigned."""
    phase = phase_of(recording.session.number).value
    reference = check_reference_scores(scale, phase, reference_scores)
    recording.is_calibration = True
    update = {"is_calibration": True}
    if replace_reference:
        recording.reference_scores = update["reference_scores"] = reference
    await Recording.filter(id=recording.id).update(**update)
    assigned = set(await Assignment.filter(recording=recording).values_list("supervisor_id", flat=True))
    added = []
    for supervisor in await User.filter(role=Role.SUPERVISOR, is_active=True).order_by("username"):
        if supervisor.id in assigned or supervisor.id == recording.session.case.trainee_id:
            continue
        if not accreditation_is_current(supervisor, settings):
            continue
        await Assignment.create(recording=recording, supervisor=supervisor, assigned_by=user)
        added.append(supervisor)
    return added


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
    require_lead(user)
    body = await json_body(request)
    added = await mark_calibration(user, recording, body.get("reference_scores"), request.app.state.settings,
                                   request.app.state.scale, replace_reference="reference_scores" in body)
    raters = await Assignment.filter(recording=recording).select_related("supervisor").order_by("id")
    return JSONResponse({
        "recording": recording.id,
        "is_calibration": True,
        "reference_scores": recording.reference_scores,
        "assigned": [supervisor.username for supervisor in added],
        "raters": [assignment.supervisor.username for assignment in raters],
    })


async def calibration_page(request: Request, error: str | None = None, errors: Mapping[str, str] | None = None,
                           values: Mapping[str, str] | None = None, status_code: int = 200) -> Response:
    user = page_user(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    require_lead(user)
    scale: Scale = request.app.state.scale
    settings: Settings = request.app.state.settings
    phase = phase_of(recording.session.number).value
    assignments = await Assignment.filter(recording=recording).select_related("supervisor").order_by("id")
    submitted = set(await Rating.filter(recording=recording, kind=RatingKind.INDIVIDUAL,
                                        status=RatingStatus.SUBMITTED).values_list("rater_id", flat=True))
    assigned = {a.supervisor_id for a in assignments}
    current = [s for s in await User.filter(role=Role.SUPERVISOR, is_active=True).order_by("name")
               if accreditation_is_current(s, settings) and s.id != recording.session.case.trainee_id]
    reference = recording.reference_scores or {}
    if values is None:
        values = {item.id: "" if reference.get(item.id) is None else str(reference[item.id])
                  for item in scale.items_for(phase)}
    added = request.query_params.get("assigned")
    return render(
        request, "audit_calibration.html", status_code=status_code, error=error, errors=errors or {},
        recording=recording, case=recording.session.case, phase=phase, items=scale.items_for(phase),
        scale=scale, values=values, assignments=assignments, submitted=submitted,
        to_assign=[s for s in current if s.id not in assigned],
        notice=(f"Marked as a calibration tape; {added} supervisor{'s' if added != '1' else ''} newly assigned."
                if added is not None and added.isdigit() else None),
    )


async def calibration_form(request: Request) -> Response:
    user = page_user(request)
    form = await checked_form(request)
    recording = await access.readable_recording(user, request.path_params["recording_id"])
    require_lead(user)
    scale: Scale = request.app.state.scale
    phase = phase_of(recording.session.number).value
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
        added = await mark_calibration(user, recording, scores, request.app.state.settings, scale)
    except RatingProblem as exc:
        return await calibration_page(request, error=exc.detail, errors=exc.errors, values=values,
                                      status_code=exc.status_code)
    return RedirectResponse(f"/recordings/{recording.id}/calibration?assigned={len(added)}", status_code=303)


# --- the page and its pictures -----------------------------------------------------------------


def fmt(value, digits: int = 2, signed: bool = False) -> str:
    """A figure for the page: '–' where there is none."""
    value = _number(value)
    if value is None:
        return "–"
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return text.replace("-", "−")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _mix(a: str, b: str, t: float) -> str:
    ca = [int(a[i:i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb))


# Sequential blues from 0 to 1 (colour-blind safe, as ColorBrewer's Blues); reds below 0.
KAPPA_STOPS = [(0.0, "#f7fbff"), (0.4, "#c6dbef"), (0.6, "#6baed6"), (0.75, "#2171b5"), (1.0, "#08306b")]
NEGATIVE_STOPS = [(-1.0, "#a50f15"), (0.0, "#fee0d2")]


def kappa_colour(value: float | None) -> str:
    if value is None:
        return "#eef0f3"
    stops = NEGATIVE_STOPS if value < 0 else KAPPA_STOPS
    value = min(max(value, stops[0][0]), stops[-1][0])
    for (x0, c0), (x1, c1) in pairwise(stops):
        if value <= x1:
            return _mix(c0, c1, (value - x0) / (x1 - x0))
    return stops[-1][1]


def heatmap(pairs: pd.DataFrame, raters: list[str], names: Mapping[str, str], link) -> dict | None:
    """A raters x raters grid of quadratic-weighted kappa; each cell links to that pair's Bland-Altman."""
    if len(raters) < 2:
        return None
    kappas = {}
    for row in records(pairs):
        kappas[(row["rater_a"], row["rater_b"])] = kappas[(row["rater_b"], row["rater_a"])] = row
    label_width = 12 + 7.2 * max(len(names.get(r, r)) for r in raters)
    cell = max(34, min(60, 440 // len(raters)))
    top = label_width * 0.72 + 14
    left = label_width + 8
    size = cell * len(raters)
    cells = []
    for i, a in enumerate(raters):
        for j, b in enumerate(raters):
            x, y = left + j * cell, top + i * cell
            if a == b:
                cells.append({"x": x, "y": y, "diagonal": True, "title": names.get(a, a)})
                continue
            row = kappas.get((a, b))
            value = _number(row["kappa"]) if row else None
            fill = kappa_colour(value)
            dark = value is not None and value > 0.62
            title = (f"{names.get(a, a)} and {names.get(b, b)}: weighted kappa {fmt(value)}"
                     f" ({row['reading'] or 'no reading'}) on {row['n_ratings']} item scores of "
                     f"{row['n_recordings']} shared recording{'s' if row['n_recordings'] != 1 else ''}"
                     if row else f"{names.get(a, a)} and {names.get(b, b)} have rated nothing in common")
            cells.append({"x": x, "y": y, "fill": fill, "text": fmt(value) if value is not None else "",
                          "ink": "#ffffff" if dark else "#1d2433", "title": title, "href": link(a, b) if row else None})
    legend_y = top + size + 26
    legend_width = min(size, 320)
    stops = [{"offset": f"{x * 100:.0f}%", "colour": colour} for x, colour in KAPPA_STOPS]
    marks = [{"x": left + legend_width * t, "label": label} for t, label in
             ((0, "0"), (0.4, ".40"), (0.6, ".60"), (0.75, ".75"), (1, "1"))]
    bands = [{"x": left + legend_width * (lo + hi) / 2, "label": label} for lo, hi, label in
             ((0, .4, "poor"), (.4, .6, "fair"), (.6, .75, "good"), (.75, 1, "excellent"))]
    return {
        "width": max(left + size + 10, left + legend_width + 90), "height": legend_y + 44,
        "cell": cell, "left": left, "top": top, "size": size, "cells": cells,
        "rows": [{"y": top + i * cell + cell / 2, "label": names.get(r, r)} for i, r in enumerate(raters)],
        "columns": [{"x": left + j * cell + cell / 2, "label": names.get(r, r)} for j, r in enumerate(raters)],
        "legend": {"x": left, "y": legend_y, "width": legend_width, "stops": stops, "marks": marks, "bands": bands,
                   "negative_x": left + legend_width + 18},
    }


def bland_altman(totals: pd.DataFrame, ratings: pd.DataFrame, a: str, b: str, names: Mapping[str, str]) -> dict:
    """Mean against difference (a - b) of two raters' total scores on the recordings both rated, with the
    mean difference and the 95% limits of agreement (mean difference +/- 1.96 SD)."""
    name_a, name_b = names.get(a, a), names.get(b, b)
    wide = totals.pivot_table(index="recording", columns="rater", values="score", aggfunc="first")
    if a not in wide.columns or b not in wide.columns:
        shared = pd.DataFrame(columns=[a, b])
    else:
        shared = wide[[a, b]].dropna()
    mean = (shared[a] + shared[b]) / 2
    difference = shared[a] - shared[b]
    n = len(shared)
    bias = float(difference.mean()) if n else None
    sd = float(difference.std(ddof=1)) if n >= 2 else None
    limits = (bias - 1.96 * sd, bias + 1.96 * sd) if sd is not None else None
    result = {"a": a, "b": b, "name_a": name_a, "name_b": name_b, "n": n, "bias": bias, "sd": sd, "limits": limits}
    if n == 0:
        return result
    where = ratings.drop_duplicates("recording").set_index("recording")[["case", "session"]]
    width, height, left, right, top, bottom = 640, 320, 58, 150, 16, 44
    x_low, x_high = float(mean.min()), float(mean.max())
    pad = max((x_high - x_low) * 0.08, 2.0)
    x_low, x_high = x_low - pad, x_high + pad
    # Zero, every difference and both limits in view, with a margin.
    values = [0.0, *map(float, difference), *(limits or ())]
    y_low, y_high = min(values), max(values)
    margin = max((y_high - y_low) * 0.12, 1.0)
    y_low, y_high = y_low - margin, y_high + margin
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(value: float) -> float:
        return left + (value - x_low) / (x_high - x_low) * plot_w

    def sy(value: float) -> float:
        return top + (y_high - value) / (y_high - y_low) * plot_h

    points = []
    for recording, m, d in zip(shared.index, mean, difference):
        case, session = where.loc[recording] if recording in where.index else ("?", "?")
        points.append({
            "x": sx(m), "y": sy(d),
            "title": (f"Recording {recording} ({case} session {session}): {name_a} {fmt(shared.at[recording, a], 1)}, "
                      f"{name_b} {fmt(shared.at[recording, b], 1)}; mean {fmt(m, 1)}, difference {fmt(d, 1, True)}"),
        })
    lines = [{"y": sy(0), "kind": "zero", "label": "0", "value": 0.0}]
    lines.append({"y": sy(bias), "kind": "bias", "label": f"mean {fmt(bias, 1, True)}", "value": bias})
    if limits:
        for sign, limit in (("+", limits[1]), ("−", limits[0])):
            lines.append({"y": sy(limit), "kind": "limit", "label": f"{sign}1.96 SD {fmt(limit, 1, True)}", "value": limit})
    return result | {
        "width": width, "height": height, "left": left, "top": top, "plot_w": plot_w, "plot_h": plot_h,
        "points": points, "lines": lines,
        "x_ticks": [{"x": sx(t), "label": f"{t:g}"} for t in nice_ticks(x_low, x_high, 6)],
        "y_ticks": [{"y": sy(t), "label": fmt(t, 0 if float(t).is_integer() else 1, signed=t != 0)}
                    for t in nice_ticks(y_low, y_high, 7)],
    }


def drift_chart(drift: pd.DataFrame, panel: pd.DataFrame, names: Mapping[str, str], band: float) -> dict | None:
    """Small multiples: each rater's mean difference from the others per quarter, the band shaded."""
    drift = drift.dropna(subset=["mean_difference"]) if not drift.empty else drift
    if drift.empty:
        return None
    periods = sorted(drift["period"].unique())
    raters = sorted(drift["rater"].unique(), key=lambda r: names.get(r, r).lower())
    flagged = {row["rater"] for row in records(panel) if row["flagged"]}
    extent = max(float(drift["mean_difference"].abs().max()), band * 2, 1.0)
    extent = math.ceil(extent * 2) / 2
    columns = min(4, len(raters))
    panel_w, panel_h, gap_x, gap_y, left, top, label_h = 220, 110, 52, 46, 40, 30, 28
    y_ticks = [-extent, 0.0, extent]
    charts = []
    for index, rater in enumerate(raters):
        column, row_number = index % columns, index // columns
        x0 = left + column * (panel_w + gap_x)
        y0 = top + row_number * (panel_h + gap_y + label_h)

        def sx(period: str, x0: float = x0) -> float:
            if len(periods) == 1:
                return x0 + panel_w / 2
            return x0 + 22 + periods.index(period) / (len(periods) - 1) * (panel_w - 44)

        def sy(value: float, y0: float = y0) -> float:
            return y0 + (extent - value) / (2 * extent) * panel_h

        mine = drift[drift["rater"] == rater].sort_values("period")
        points = [{"x": sx(r["period"]), "y": sy(r["mean_difference"]),
                   "title": (f"{names.get(rater, rater)}, {r['period']}: {fmt(r['mean_difference'], 2, True)} "
                             f"against the others over {r['n_recordings']} "
                             f"recording{'s' if r['n_recordings'] != 1 else ''}")}
                  for r in records(mine)]
        step = max(1, math.ceil(len(periods) / 4))
        charts.append({
            "name": names.get(rater, rater), "flagged": rater in flagged,
            "x0": x0, "y0": y0, "w": panel_w, "h": panel_h,
            "band_top": sy(band), "band_bottom": sy(-band), "zero": sy(0), "points": points,
            "path": " ".join(f"{'M' if i == 0 else 'L'}{p['x']:.1f},{p['y']:.1f}" for i, p in enumerate(points)),
            "y_ticks": [{"y": sy(t), "label": fmt(t, 1, signed=t != 0)} for t in y_ticks],
            "x_ticks": [{"x": sx(p), "label": p} for i, p in enumerate(periods)
                        if i % step == 0 or i == len(periods) - 1],
        })
    rows = math.ceil(len(raters) / columns)
    return {"width": left + columns * panel_w + (columns - 1) * gap_x + 10,
            "height": top + (rows - 1) * (panel_h + gap_y + label_h) + panel_h + 22,
            "charts": charts, "periods": periods, "extent": extent}


def agreement_rows(ratings: pd.DataFrame, scale: Scale, level: str, n_boot: int, band: float) -> dict:
    """The page's agreement table: total, per phase, per item; each row's recommended ICC and alpha."""
    tables = {name: compute_table(name, ratings, None, band=band, n_boot=n_boot)
              for name in ("total", "by-phase", "by-item")}

    def summarise(rows: pd.DataFrame, label: str, kind: str, **extra) -> dict:
        figures = {row["statistic"]: row for row in records(rows)}
        icc = next((row for row in figures.values() if row["statistic"] in ICC_FORMS and row["recommended"]), None)
        alpha = figures.get(f"alpha_{level}")
        return {"label": label, "kind": kind, "icc": icc, "alpha": alpha,
                "n_recordings": (icc or {}).get("n_recordings"), "n_raters": (icc or {}).get("n_raters"),
                "alpha_recordings": (alpha or {}).get("n_recordings"), **extra}

    rows = []
    if not tables["total"].empty:
        rows.append(summarise(tables["total"], "Total score, all phases shown", "total"))
    by_phase = tables["by-phase"]
    for phase in PHASES:
        part = by_phase[by_phase["phase"] == phase] if not by_phase.empty else by_phase
        if not part.empty:
            rows.append(summarise(part, f"Total score, {Phase(phase).label.lower()}", "phase"))
    by_item = tables["by-item"]
    titles = {item.id: item for item in scale.items}
    order = {item.id: i for i, item in enumerate(scale.items)}
    if not by_item.empty:
        for item in sorted(by_item["item"].unique(), key=lambda i: order.get(i, len(order))):
            known = titles.get(item)
            rows.append(summarise(by_item[by_item["item"] == item], known.title if known else item, "item",
                                  item=item, item_phase=known.phase if known else None))
    total = tables["total"]
    is_icc = total["statistic"].isin(ICC_FORMS) if not total.empty else None
    forms = records(total[is_icc]) if not total.empty else []
    alphas = records(total[~is_icc]) if not total.empty else []
    return {"rows": rows, "forms": forms, "alphas": alphas}


async def calibration_tapes() -> list[dict]:
    tapes = []
    calibration = Recording.filter(is_calibration=True).select_related("session__case").order_by("-id").limit(20)
    for recording in await calibration:
        assigned = await Assignment.filter(recording=recording).count()
        submitted = await Rating.filter(recording=recording, kind=RatingKind.INDIVIDUAL,
                                        status=RatingStatus.SUBMITTED).count()
        tapes.append({"id": recording.id, "case": recording.session.case.code, "session": recording.session.number,
                      "assigned": assigned, "submitted": submitted, "has_reference": bool(recording.reference_scores)})
    return tapes


async def audit_page(request: Request) -> Response:
    user = page_user(request)
    if not user.sees_everything:
        raise HTTPException(403, "The agreement audit is for course leads and admins.")
    settings: Settings = request.app.state.settings
    scale: Scale = request.app.state.scale
    params = request.query_params
    try:
        filters = parse_filters(params)
        error = None
    except HTTPException as exc:
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

    def ba_link(a: str, b: str) -> str:
        return f"/audit?{filters.query(a=a, b=b)}#bland-altman"

    # The Bland-Altman pair: the one asked for, else the pair with the most recordings in common.
    a, b = params.get("a") or "", params.get("b") or ""
    ba_note = None
    if (a or b) and (a not in raters or b not in raters or a == b):
        ba_note = ("Choose two different raters who have ratings under these filters." if a == b or not (a and b)
                   else "A rater chosen is not among those with ratings under these filters.")
        a = b = ""
    if not (a and b) and not pairs.empty:
        best = pairs.sort_values(["n_recordings", "rater_a", "rater_b"], ascending=[False, True, True]).iloc[0]
        a, b = best["rater_a"], best["rater_b"]
    ba = bland_altman(totals, ratings, a, b, names) if a and b else None
    agreement = agreement_rows(ratings, scale, filters.level, n_boot, band)
    message = shortage(ratings)
    if message is None and not (agreement["rows"] and (agreement["rows"][0]["icc"] or {}).get("value") is not None):
        message = UNCOMPUTED
    tables = [{"name": name, "description": description, "href": f"/api/agreement/tables/{name}.csv"
               + (f"?{filters.query()}" if filters.query() else "")} for name, (description, _) in TABLES.items()]
    return render(
        request, "audit.html", error=error, filters=filters, cohorts=await cohorts(), phases=list(Phase),
        levels=LEVELS, message=message, n_ratings=len(ratings),
        n_recordings=int(ratings["recording"].nunique()), n_raters=len(raters),
        n_shared=shared_recordings(ratings), agreement=agreement,
        panel=records(panel), band=band, n_flagged=int(panel["flagged"].sum()) if not panel.empty else 0,
        heatmap=heatmap(pairs, raters, names, ba_link), ba=ba, ba_note=ba_note,
        rater_options=[{"username": r, "name": names.get(r, r)} for r in raters],
        drift=drift_chart(drift, panel, names, band), tables=tables, api_href="/api/agreement"
        + (f"?{filters.query()}" if filters.query() else ""), calibration=await calibration_tapes(),
        sources={"icc": BANDS["cicchetti_1994"].source, "alpha": BANDS["krippendorff_2004"].source},
        fmt=fmt, reading=reading,
    )


routes = [
    Route("/audit", audit_page, methods=["GET"]),
    Route("/api/agreement", get_agreement, methods=["GET"]),
    Route("/api/agreement/tables/{table}.csv", get_table, methods=["GET"]),
    Route("/api/recordings/{recording_id:int}/calibration", post_calibration, methods=["POST"]),
    Route("/recordings/{recording_id:int}/calibration", calibration_page, methods=["GET"]),
    Route("/recordings/{recording_id:int}/calibration", calibration_form, methods=["POST"]),
]
