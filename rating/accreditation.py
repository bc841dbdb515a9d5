"""A trainee's progress towards DIT practitioner accreditation, against configurable targets.

The defaults follow the DIT training route: two supervised training cases of sixteen sessions,
four tapes rated as passing across the phases, sixteen hours of supervision within a year of the
training, the cases completed within two years, plus a role-play certificate and a case study.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from rating.phases import SESSIONS_PER_CASE, Phase


@dataclass(frozen=True)
class AccreditationTargets:
    training_cases: int = 2
    sessions_per_case: int = SESSIONS_PER_CASE
    passed_tapes: int = 4
    supervision_hours: float = 16.0
    supervision_within_days: int = 365
    cases_within_days: int = 730
    warn_days: int = 60


@dataclass(frozen=True)
class TapeResult:
    """The official result of one rated tape."""

    case: str
    session: int
    phase: str
    passed: bool


@dataclass(frozen=True)
class Deadline:
    what: str
    due: date | None
    met: bool
    status: str  # "met", "ok", "approaching", "overdue", "unknown"
    days_left: int | None


def _deadline(what: str, start: date | None, within_days: int, met: bool, today: date, warn_days: int) -> Deadline:
    if start is None:
        return Deadline(what, None, met, "met" if met else "unknown", None)
    due = start + timedelta(days=within_days)
    days_left = (due - today).days
    if met:
        status = "met"
    elif days_left < 0:
        status = "overdue"
    elif days_left <= warn_days:
        status = "approaching"
    else:
        status = "ok"
    return Deadline(what, due, met, status, days_left)


def accreditation_progress(
    targets: AccreditationTargets,
    *,
    today: date,
    training_completed_on: date | None,
    sessions_recorded: Mapping[str, int],
    tapes: Iterable[TapeResult],
    supervision_hours: float,
    roleplay_certificate_on: date | None,
    case_study_on: date | None,
) -> dict:
    """A JSON-ready summary: each requirement with what is done and the target, the deadlines, and warnings."""
    tapes = list(tapes)
    passed = [t for t in tapes if t.passed]
    complete_cases = [code for code, n in sessions_recorded.items() if n >= targets.sessions_per_case]
    phases_covered = sorted({t.phase for t in passed}, key=[p.value for p in Phase].index)
    requirements = [
        {"id": "training_cases", "label": "Training cases", "done": len(sessions_recorded),
         "target": targets.training_cases},
        {"id": "complete_cases", "label": f"Cases with all {targets.sessions_per_case} sessions recorded",
         "done": len(complete_cases), "target": targets.training_cases},
        {"id": "passed_tapes", "label": "Tapes rated and passed", "done": len(passed), "target": targets.passed_tapes,
         "rated": len(tapes), "phases": phases_covered},
        {"id": "supervision_hours", "label": "Supervision hours", "done": round(supervision_hours, 2),
         "target": targets.supervision_hours},
        {"id": "roleplay_certificate", "label": "Role-play certificate", "done": int(roleplay_certificate_on is not None),
         "target": 1, "date": roleplay_certificate_on.isoformat() if roleplay_certificate_on else None},
        {"id": "case_study", "label": "Case study", "done": int(case_study_on is not None), "target": 1,
         "date": case_study_on.isoformat() if case_study_on else None},
    ]
    for requirement in requirements:
        requirement["met"] = requirement["done"] >= requirement["target"]
    met = {r["id"]: r["met"] for r in requirements}
    deadlines = [
        _deadline("Supervision hours within a year of the training", training_completed_on,
                  targets.supervision_within_days, met["supervision_hours"], today, targets.warn_days),
        _deadline("Training cases completed within two years of the training", training_completed_on,
                  targets.cases_within_days, met["complete_cases"] and met["passed_tapes"], today, targets.warn_days),
    ]
    warnings = [
        f"{d.what}: due {d.due.isoformat()}, {'overdue by ' + str(-d.days_left) + ' days' if d.status == 'overdue' else str(d.days_left) + ' days left'}."
        for d in deadlines if d.status in ("approaching", "overdue")
    ]
    if training_completed_on is None:
        warnings.append("The training completion date is not recorded, so deadlines cannot be worked out.")
    return {
        "targets": asdict(targets),
        "requirements": requirements,
        "tapes": [asdict(t) for t in tapes],
        "deadlines": [{**asdict(d), "due": d.due.isoformat() if d.due else None} for d in deadlines],
        "warnings": warnings,
        "accreditable": all(met.values()),
    }
