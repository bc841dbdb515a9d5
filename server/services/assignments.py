"""Who rates a tape: assigning supervisors (with the blind second rater of a share of tapes), naming
a senior supervisor to adjudicate, and each supervisor's queue."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from server import access
from server.config import Settings
from server.errors import Conflict, Invalid, NotFound
from server.models import Assignment, NotificationKind, Rating, RatingKind, RatingStatus, Recording, Role, User
from server.services import notifications
from server.services.recordings import note_quality_warning, quality_flag


async def assigned_ids(recording: Recording) -> set[int]:
    return set(await Assignment.filter(recording=recording).values_list("supervisor_id", flat=True))


async def assignments_of(recording: Recording) -> list[Assignment]:
    return await Assignment.filter(recording=recording).select_related("supervisor").order_by("id")


async def current_supervisors(settings: Settings, *, exclude: set[int] = frozenset()) -> list[User]:
    """Active supervisors whose accreditation is current, by name, but those in `exclude`."""
    return [s for s in await User.filter(role=Role.SUPERVISOR, is_active=True).order_by("name")
            if s.id not in exclude and access.accreditation_is_current(s, settings)]


async def assign(user: User, recording: Recording, username: str, settings: Settings) -> tuple[User, User | None]:
    """Assign the recording to `username`; returns that supervisor and the second rater added for blind
    double rating (`add_second_rater`), or None."""
    access.require_lead(user)
    supervisor = await User.get_or_none(username=username, is_active=True)
    if supervisor is None or supervisor.role != Role.SUPERVISOR:
        raise Invalid(f"'{username}' is not a supervisor.")
    if not access.accreditation_is_current(supervisor, settings):
        raise Invalid(f"{supervisor.name}'s DIT supervisor accreditation is not current.")
    if supervisor.id == recording.session.case.trainee_id:
        raise Invalid("Nobody rates their own recording.")
    if await Assignment.exists(recording=recording, supervisor=supervisor):
        raise Conflict(f"The recording is already assigned to {supervisor.name}.")
    if supervisor.id == recording.adjudicator_id:
        raise Invalid(f"{supervisor.name} adjudicates this tape, so cannot also rate it.")
    await Assignment.create(recording=recording, supervisor=supervisor, assigned_by=user)
    second = await add_second_rater(user, recording, supervisor, settings)
    await note_quality_warning(recording, user, f"assigned to {supervisor.username}")
    await notifications.notify(settings, [supervisor, second], NotificationKind.ASSIGNED,
                               f"/recordings/{recording.id}/rate")
    notifications.schedule(settings)
    return supervisor, second


async def unassign(user: User, recording: Recording, username: str) -> User:
    """Take the tape from a rater who has not submitted (their draft is kept, unseen); returns them."""
    access.require_lead(user)
    assignment = await Assignment.get_or_none(recording=recording, supervisor__username=username).select_related(
        "supervisor")
    if assignment is None:
        raise NotFound(f"'{username[:64]}' is not assigned to rate this recording.")
    if await Rating.exists(recording=recording, rater=assignment.supervisor, kind=RatingKind.INDIVIDUAL,
                           status=RatingStatus.SUBMITTED):
        raise Conflict(f"{assignment.supervisor.name} has submitted their rating: reopen it instead.")
    await assignment.delete()
    return assignment.supervisor


def chosen_for_double_rating(recording_id: int, share: float) -> bool:
    """Whether an ordinary tape gets a second, blind rater: the first byte of the SHA-256 of its id is
    below `share` x 256. Reproducible and auditable (anyone can recompute it), and about `share` of
    all tapes: 0 picks none, 1 picks every one."""
    return hashlib.sha256(str(recording_id).encode()).digest()[0] < share * 256


async def add_second_rater(user: User, recording: Recording, first: User, settings: Settings) -> User | None:
    """On an ordinary tape's first assignment, when the tape is chosen for double rating, assign a second
    accredited supervisor: not the first rater nor the trainee, the one with the fewest open assignments
    (not yet submitted), ties broken by username. Returns them, or None."""
    if recording.is_calibration or not chosen_for_double_rating(recording.id, settings.double_rating_share):
        return None
    if await Assignment.filter(recording=recording).count() != 1:
        return None
    candidates = await current_supervisors(settings, exclude={first.id, recording.session.case.trainee_id})
    if not candidates:
        return None
    ids = [s.id for s in candidates]
    submitted = set(await Rating.filter(rater_id__in=ids, kind=RatingKind.INDIVIDUAL, status=RatingStatus.SUBMITTED)
                    .values_list("recording_id", "rater_id"))
    open_counts = dict.fromkeys(ids, 0)
    for recording_id, supervisor_id in await Assignment.filter(supervisor_id__in=ids).values_list(
            "recording_id", "supervisor_id"):
        if (recording_id, supervisor_id) not in submitted:
            open_counts[supervisor_id] += 1
    second = min(candidates, key=lambda s: (open_counts[s.id], s.username))
    await Assignment.create(recording=recording, supervisor=second, assigned_by=user)
    return second


async def name_adjudicator(user: User, recording: Recording, username: str, settings: Settings) -> User:
    access.require_lead(user)
    supervisor = await User.get_or_none(username=username, role=Role.SUPERVISOR, is_active=True)
    if supervisor is None or not access.accreditation_is_current(supervisor, settings):
        raise Invalid(f"'{username}' is not a supervisor whose DIT accreditation is current.")
    if await Assignment.exists(recording=recording, supervisor=supervisor):
        raise Invalid(f"{supervisor.name} rates this tape, so cannot also adjudicate it.")
    await Recording.filter(id=recording.id).update(adjudicator=supervisor)
    return supervisor


@dataclass(frozen=True)
class QueueEntry:
    """A tape awaiting this supervisor's rating."""

    assignment: Assignment
    recording: Recording
    my_rating: Rating | None
    quality_flag: str | None


async def queue_for(user: User) -> list[QueueEntry]:
    """What awaits the supervisor's rating (not yet submitted), oldest assignment first."""
    assignments = await Assignment.filter(supervisor=user).select_related("recording__session__case").order_by(
        "created_at", "id")
    queue = []
    for assignment in assignments:
        recording = assignment.recording
        mine = await Rating.get_or_none(recording=recording, rater=user, kind=RatingKind.INDIVIDUAL)
        if mine is not None and mine.status == RatingStatus.SUBMITTED:
            continue
        queue.append(QueueEntry(assignment, recording, mine, await quality_flag(recording.id)))
    return queue
