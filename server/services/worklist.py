"""Where each tape stands, from recorded to released, and the course lead's work list built from it.

A tape's stage is worked out from what is stored (put forward, assignments, ratings, release), never
kept as a state of its own, so it cannot drift from the ratings it describes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum

from tortoise.expressions import Q

from server.clock import now
from server.config import Settings
from server.models import Assignment, Rating, RatingKind, RatingStatus, Recording, Role, Transcript, User
from server.services.progress import trainee_progress

# As long as a user's cohort can be (server/models/accounts.py).
COHORT_LENGTH = 64
# Released results stay on the work list this long, so a lead sees what just went out.
RECENT_DAYS = 14


class Stage(str, Enum):
    RECORDED = "recorded"
    PUT_FORWARD = "put_forward"
    AWAITING_RATERS = "awaiting_raters"
    AWAITING_ADJUDICATION = "awaiting_adjudication"
    READY_TO_RELEASE = "ready_to_release"
    RELEASED = "released"

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {
    Stage.RECORDED: "Recorded",
    Stage.PUT_FORWARD: "Put forward, no rater yet",
    Stage.AWAITING_RATERS: "Being rated",
    Stage.AWAITING_ADJUDICATION: "Awaiting adjudication",
    Stage.READY_TO_RELEASE: "Ready to release",
    Stage.RELEASED: "Released",
}
# What the trainee does, or waits for, next.
NEXT_STEP = {
    Stage.RECORDED: "Put it forward for assessment when you are ready.",
    Stage.PUT_FORWARD: "Waiting for a course lead to assign a rater.",
    Stage.AWAITING_RATERS: "Being rated.",
    Stage.AWAITING_ADJUDICATION: "The raters differ; a result is being agreed.",
    Stage.READY_TO_RELEASE: "Rated; the result is being released.",
    Stage.RELEASED: "Feedback released: read it.",
}
# The stages at which someone other than the trainee has something to do.
WAITING = (Stage.PUT_FORWARD, Stage.AWAITING_RATERS, Stage.AWAITING_ADJUDICATION, Stage.READY_TO_RELEASE)


@dataclass
class Rater:
    name: str
    username: str
    assigned_at: datetime
    submitted_at: datetime | None


@dataclass
class Standing:
    """Where one tape stands: its stage, since when, and (once assigned) its raters."""

    stage: Stage
    since: datetime
    raters: list[Rater] = field(default_factory=list)

    def overdue(self, settings: Settings, at: datetime) -> bool:
        return self.stage in WAITING and self.since <= at - timedelta(days=settings.overdue_days)


async def standings(recordings: list[Recording]) -> dict[int, Standing]:
    """Each recording's standing, in three queries whatever the number of recordings."""
    ids = [r.id for r in recordings]
    assigned = defaultdict(list)
    for a in await Assignment.filter(recording_id__in=ids).select_related("supervisor").order_by("created_at"):
        assigned[a.recording_id].append(a)
    ratings = defaultdict(list)
    for rating in await Rating.filter(recording_id__in=ids):
        ratings[rating.recording_id].append(rating)
    return {r.id: _standing(r, assigned[r.id], ratings[r.id]) for r in recordings}


def _standing(recording: Recording, assignments: list[Assignment], ratings: list[Rating]) -> Standing:
    place = _rated(recording, assignments, ratings)
    released = recording.released_result
    # Released, unless the result ready now is not the one released (a reopened rating revised since).
    if recording.feedback_released_at is not None and place.stage == Stage.READY_TO_RELEASE and (
            released is None or released.get("submitted_at") == place.since.isoformat()):
        return Standing(Stage.RELEASED, recording.feedback_released_at, place.raters)
    if recording.feedback_released_at is not None and not place.raters:
        return Standing(Stage.RELEASED, recording.feedback_released_at)
    return place


def _rated(recording: Recording, assignments: list[Assignment], ratings: list[Rating]) -> Standing:
    """The stage the ratings alone put the tape at."""
    submitted = {r.rater_id: r for r in ratings
                 if r.kind == RatingKind.INDIVIDUAL and r.status == RatingStatus.SUBMITTED}
    raters = [Rater(a.supervisor.name, a.supervisor.username, a.created_at,
                    submitted[a.supervisor_id].submitted_at if a.supervisor_id in submitted else None)
              for a in assignments]
    consensus = next((r for r in ratings if r.kind == RatingKind.CONSENSUS and r.status == RatingStatus.SUBMITTED), None)
    if consensus is not None:
        return Standing(Stage.READY_TO_RELEASE, consensus.submitted_at or consensus.updated_at, raters)
    if raters and all(r.submitted_at for r in raters):
        last = max(r.submitted_at for r in raters)
        stage = Stage.READY_TO_RELEASE if len(raters) == 1 else Stage.AWAITING_ADJUDICATION
        return Standing(stage, last, raters)
    if raters:
        return Standing(Stage.AWAITING_RATERS, min(r.assigned_at for r in raters if not r.submitted_at), raters)
    if recording.submitted_for_assessment_at is not None:
        return Standing(Stage.PUT_FORWARD, recording.submitted_for_assessment_at)
    return Standing(Stage.RECORDED, recording.created_at)


async def worklist(settings: Settings, cohort: str | None = None, at: datetime | None = None) -> dict:
    """The course lead's work list: the current tapes waiting at each stage (oldest first), those
    released lately, and those put forward despite a failed quality gate. `cohort` keeps the trainees
    of one cohort."""
    at = at or now()
    query = Recording.filter(is_current=True, deleted_at__isnull=True).select_related("session__case__trainee")
    if cohort:
        query = query.filter(session__case__trainee__cohort=cohort)
    recordings = await query
    standing = await standings(recordings)
    flags = dict(await Transcript.filter(recording_id__in=[r.id for r in recordings]).values_list("recording_id",
                                                                                                  "speakers"))
    stages: dict[str, list[dict]] = {s.value: [] for s in (*WAITING, Stage.RELEASED)}
    flagged = []
    for recording in recordings:
        place = standing[recording.id]
        # A calibration tape is rated by every supervisor and never adjudicated or released: it waits only
        # on its raters.
        if recording.is_calibration and place.stage != Stage.AWAITING_RATERS:
            continue
        entry = _entry(recording, place, settings, at)
        flag = (flags.get(recording.id) or {}).get("flag")
        if place.stage in WAITING:
            stages[place.stage.value].append(entry)
            if flag:
                flagged.append({**entry, "quality_flag": flag})
        elif place.stage == Stage.RELEASED and place.since >= at - timedelta(days=RECENT_DAYS):
            stages[Stage.RELEASED.value].append(entry)
    for entries in stages.values():
        entries.sort(key=lambda e: e["since"])
    stages["recently_released"] = sorted(stages.pop(Stage.RELEASED.value), key=lambda e: e["since"], reverse=True)
    return {"stages": stages, "quality_flags": flagged, "deadlines": await deadlines(settings, cohort, at.date()),
            "overdue_days": settings.overdue_days, "cohort": cohort,
            "to_do": sum(len(stages[s.value]) for s in WAITING)}


async def deadlines(settings: Settings, cohort: str | None, today: date) -> list[dict]:
    """Trainees with an accreditation deadline approaching or passed and not met, soonest first. Only
    trainees whose training date is recorded have deadlines, so only they are worked out."""
    trainees = User.filter(role=Role.TRAINEE, is_active=True, training_record__training_completed_on__isnull=False)
    if cohort:
        trainees = trainees.filter(cohort=cohort)
    due = []
    for trainee in await trainees:
        for deadline in (await trainee_progress(trainee, settings, today))["deadlines"]:
            if deadline["status"] in ("approaching", "overdue"):
                due.append({"trainee": trainee.id, "name": trainee.name, "cohort": trainee.cohort,
                            "what": deadline["what"], "due": deadline["due"], "days_left": deadline["days_left"],
                            "status": deadline["status"]})
    return sorted(due, key=lambda d: d["due"])


def _entry(recording: Recording, place: Standing, settings: Settings, at: datetime) -> dict:
    case = recording.session.case
    return {
        "recording": recording.id, "case": case.id, "case_code": case.code, "session": recording.session.number,
        "trainee": case.trainee.name, "cohort": case.trainee.cohort, "stage": place.stage.value,
        "since": place.since.isoformat(), "overdue": place.overdue(settings, at),
        "raters": [{"name": r.name, "username": r.username, "assigned_at": r.assigned_at.isoformat(),
                    "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None} for r in place.raters],
    }


async def waiting_count() -> int:
    """How many tapes wait for someone other than their trainee (the work list's `to_do`), counted in one
    query: current, not released, and put forward or given a rater."""
    return await (Recording.filter(is_current=True, deleted_at__isnull=True, feedback_released_at__isnull=True)
                  .filter(Q(submitted_for_assessment_at__isnull=False) | Q(assignments__id__isnull=False))
                  .distinct().count())


async def cohorts() -> list[str]:
    return sorted({c for c in await User.filter(cohort__isnull=False).values_list("cohort", flat=True) if c})
