"""Accreditation progress per trainee, and the supervision hours and dates it is built from."""

from __future__ import annotations

from datetime import date

from rating.accreditation import TapeResult, accreditation_progress
from server import access
from server.clock import now
from server.errors import Conflict, Invalid, NotFound
from server.models import Case, Recording, Role, SupervisionLog, TherapySession, TrainingRecord, User
from server.services.ratings import official_ratings


async def trainee_progress(trainee: User, settings, today: date | None = None) -> dict:
    cases = await Case.filter(trainee=trainee).order_by("code")
    sessions_recorded = {}
    tapes = []
    for case in cases:
        sessions_recorded[case.code] = await TherapySession.filter(
            case=case, recordings__is_current=True).distinct().count()
        # Every attempt at a session counts, not only the current recording: replacing a rated tape makes a
        # new attempt and leaves the rated one's result standing. A session passed once stays passed.
        results: dict[int, TapeResult] = {}
        recordings = await Recording.filter(session__case=case).select_related("session").order_by("created_at")
        officials = await official_ratings(r.id for r in recordings)
        for recording in recordings:
            official = officials.get(recording.id)
            if official is None:
                continue
            number = recording.session.number
            if not (number in results and results[number].passed):
                results[number] = TapeResult(case.code, number, recording.session.phase.value, bool(official.passed))
        tapes += results.values()
    record = await TrainingRecord.get_or_none(trainee=trainee)
    # A trainee's own entry counts once their supervisor (or a course lead) has confirmed it.
    hours = sum(await SupervisionLog.filter(trainee=trainee, awaiting_confirmation=False).values_list("hours", flat=True))
    progress = accreditation_progress(
        settings.targets,
        today=today or date.today(),
        training_completed_on=record.training_completed_on if record else None,
        sessions_recorded=sessions_recorded,
        tapes=sorted(tapes, key=lambda t: (t.case, t.session)),
        supervision_hours=hours,
        roleplay_certificate_on=record.roleplay_certificate_on if record else None,
        case_study_on=record.case_study_on if record else None,
    )
    return {"training_completed_on": (
        record.training_completed_on.isoformat() if record and record.training_completed_on else None), **progress}


def parse_date(value, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise Invalid(f"'{name}' must be a date as YYYY-MM-DD.") from exc


async def log_supervision(user: User, trainee: User, body: dict) -> SupervisionLog:
    access.require_may_log_supervision(user, trainee)
    held_on = parse_date(body.get("held_on"), "held_on")
    if held_on is None:
        raise Invalid("Give the date the supervision was held: 'held_on' as YYYY-MM-DD.")
    if held_on > date.today():
        raise Invalid("Supervision cannot be logged for a future date.")
    try:
        hours = float(body.get("hours"))
    except (TypeError, ValueError) as exc:
        raise Invalid("'hours' must be a number, e.g. 1.5.") from exc
    if not 0 < hours <= 8:
        raise Invalid("'hours' must be more than 0 and at most 8 for one session.")
    own = user.id == trainee.id
    return await SupervisionLog.create(
        trainee=trainee, supervisor=user if user.role == Role.SUPERVISOR else None, held_on=held_on,
        hours=hours, note=str(body.get("note", ""))[:2000], logged_by=user,
        awaiting_confirmation=own, confirmed_by=None if own else user, confirmed_at=None if own else now())


async def confirm_supervision(user: User, trainee: User, entry_id: int) -> SupervisionLog:
    """A supervisor of the trainee (or a course lead) confirms hours the trainee logged themselves."""
    await access.require_may_confirm_supervision(user, trainee)
    entry = (await SupervisionLog.get_or_none(id=entry_id, trainee=trainee) if access.possible_id(entry_id)
             else None)
    if entry is None:
        raise NotFound("No such supervision entry.")
    if not entry.awaiting_confirmation:
        raise Conflict("This entry counts already.")
    entry.awaiting_confirmation, entry.confirmed_by, entry.confirmed_at = False, user, now()
    await entry.save(update_fields=["awaiting_confirmation", "confirmed_by_id", "confirmed_at"])
    return entry


async def save_training_record(user: User, trainee: User, body: dict) -> None:
    access.require_may_record_training(user)
    names = ("training_completed_on", "roleplay_certificate_on", "case_study_on")
    dates = {name: parse_date(body.get(name), name) for name in names if name in body}
    if any(d and d > date.today() for d in dates.values()):
        raise Invalid("These dates cannot be in the future.")
    record, _ = await TrainingRecord.get_or_create(trainee=trainee)
    for name, value in dates.items():
        setattr(record, name, value)
    await record.save()
