"""Who may see and do what. Every route goes through these functions.

Something a user may not see answers 404, so that its existence is not disclosed;
something they may see but not change answers 403.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException

from server.models import Assignment, Case, Recording, Role, User


async def visible_trainee_ids(user: User) -> set[int] | None:
    """The trainees whose work this user may read; None means everyone's."""
    if user.sees_everything:
        return None
    if user.role == Role.TRAINEE:
        return {user.id}
    if user.role == Role.SUPERVISOR:
        return set(await user.supervisees.all().values_list("id", flat=True))
    return set()


async def visible_cases(user: User) -> list[Case]:
    trainee_ids = await visible_trainee_ids(user)
    cases = Case.all() if trainee_ids is None else Case.filter(trainee_id__in=trainee_ids)
    return await cases.select_related("trainee").order_by("code")


async def can_read_trainee(user: User, trainee_id: int) -> bool:
    trainee_ids = await visible_trainee_ids(user)
    return trainee_ids is None or trainee_id in trainee_ids


async def readable_case(user: User, case_id: int) -> Case:
    case = await Case.get_or_none(id=case_id).select_related("trainee")
    if case is None or not await can_read_trainee(user, case.trainee_id):
        raise HTTPException(404, "No such case.")
    return case


async def readable_recording(user: User, recording_id: int) -> Recording:
    """A recording of a trainee this user may read, or one they are assigned to rate or adjudicate
    (a second rater or an adjudicator may come from outside the trainee's own supervision)."""
    recording = await Recording.get_or_none(id=recording_id).select_related("session__case__trainee")
    if recording is None or not (
        await can_read_trainee(user, recording.session.case.trainee_id)
        or recording.adjudicator_id == user.id
        or await Assignment.exists(recording=recording, supervisor_id=user.id)
    ):
        raise HTTPException(404, "No such recording.")
    return recording


def require_uploader(user: User, case: Case) -> None:
    """Recordings are the treating trainee's: only they add or replace one."""
    if case.trainee_id != user.id:
        raise HTTPException(403, "Only the trainee treating this case can upload its recordings.")


def require_can_retry(user: User, recording: Recording) -> None:
    if recording.session.case.trainee_id != user.id and not user.sees_everything:
        raise HTTPException(403, "Only the case's trainee, a course lead or an admin can retry a transcription.")


def require_can_create_case(user: User) -> None:
    if user.role not in (Role.TRAINEE, Role.COURSE_LEAD, Role.ADMIN):
        raise HTTPException(403, "Supervisors do not open training cases; the trainee or a course lead does.")
