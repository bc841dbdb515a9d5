"""The course lead's rater-agreement audit: does a 'pass' from one supervisor mean the same as a pass
from another?

It works on the individual ratings that supervisors submitted (never the consensus of an adjudication),
loaded into the long format of `rating.agreement` (one row per recording, item and rater) and filtered
by the trainee's cohort, the period the ratings were submitted in and the session's phase. From there,
the agreement report (what `dit agreement` prints), the rater panel (each rater's bias against the
others and against calibration reference scores, flagged by `rating.agreement`'s rule), pairwise
weighted kappa, drift and trend, each as a table of `TABLES`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

import numpy as np
import pandas as pd

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
    total_scores,
)
from rating.phases import Phase
from rating.scale import Scale
from server.errors import Invalid
from server.models import Rating, RatingKind, RatingStatus, Recording, User
from server.services.parsing import query_date

PHASES = tuple(phase.value for phase in Phase)


DEFAULT_BOOTSTRAP = 1000  # as `dit agreement`


MAX_BOOTSTRAP = 10_000


# A longer filter is no cohort, and the database field would refuse to be compared with it.
COHORT_LENGTH = User._meta.fields_map["cohort"].max_length


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
                "n_reference_recordings", "reference_mean_difference", "reference_ci95_low", "reference_ci95_high",
                "reference_direction", "agreement_with_reference", "flagged", "flag"]),
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


def parse_filters(params: Mapping[str, str]) -> Filters:
    """The audit's filters from a query string; 400 with the reason for a value that cannot be used."""
    phase = (params.get("phase") or "").strip() or None
    if phase is not None and phase not in PHASES:
        raise Invalid(f"'phase' is one of {', '.join(PHASES)}, not {phase!r}.")
    level = (params.get("level") or "").strip() or "interval"
    if level not in LEVELS:
        raise Invalid(f"'level' is one of {', '.join(LEVELS)}, not {level!r}.")
    start, end = query_date(params, "from"), query_date(params, "to")
    if start and end and start > end:
        raise Invalid(f"'from' ({start}) is after 'to' ({end}).")
    cohort = (params.get("cohort") or "").strip() or None
    if cohort is not None and len(cohort) > COHORT_LENGTH:
        raise Invalid(f"'cohort' is at most {COHORT_LENGTH} characters, not {len(cohort)}.")
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
        raise Invalid(f"'bootstrap' is a whole number of resamples from 0 to {MAX_BOOTSTRAP}, not {raw!r}.")
    return value


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
    if filters.end and filters.end < date.max:  # no day follows the last one: nothing to bound
        query = query.filter(submitted_at__lt=_utc_midnight(filters.end + timedelta(days=1)))
    ratings = await query.select_related("rater", "recording__session__case__trainee").order_by("recording_id", "id")
    rows = []
    for rating in ratings:
        recording = rating.recording
        case = recording.session.case
        for item, score in rating.scores.items():
            if score is None:
                continue
            rows.append((str(recording.id), item, rating.rater.username, float(score), rating.phase.value,
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


def _quiet(function, *args, **kwargs):
    """Run a statistic without numpy's warnings about empty or constant groups (they end up as NaN)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return function(*args, **kwargs)


def number(value) -> float | None:
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


# Below this many tapes rated by two raters or more, agreement coefficients and their intervals say
# nothing a course should act on (an alpha from one tape is 0.00 "0.00 to 0.00"): the audit page says
# what it needs instead of showing them.
MIN_SHARED_TAPES = 5


def shortage(ratings: pd.DataFrame) -> str | None:
    """Why there is too little to measure agreement on, or None."""
    if ratings.empty:
        return "No submitted ratings match these filters, so there is no agreement to report."
    n_shared, n_recordings = shared_recordings(ratings), ratings["recording"].nunique()
    if n_shared < MIN_SHARED_TAPES:
        return (f"Too few ratings to measure agreement: it needs at least {MIN_SHARED_TAPES} tapes rated by two "
                f"raters or more, and {n_shared} of the {n_recordings} tape{'s' if n_recordings != 1 else ''} "
                f"matching these filters {'is' if n_shared == 1 else 'are'}. Assign a second rater to more tapes, "
                "or make one a calibration tape.")
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
                clean[key] = number(value)
            elif value is None or (not isinstance(value, str) and pd.isna(value)):
                clean[key] = None
            else:
                clean[key] = value
        rows.append(clean)
    return rows


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
