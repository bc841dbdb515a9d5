"""Who may see and do what: every permission decision of the service, as named predicates.

Each rule is a `may_*` predicate (what pages use for their `can_*` flags) and, where a route enforces
it, a `require_*` form that raises. Something a user may not see raises `NotFound`, so that its
existence is not disclosed; something they may see but not change raises `Forbidden`. Handlers and
services call these and never decide access themselves.
"""

from __future__ import annotations

import hmac
import ipaddress
from datetime import date

from server import audit_trail
from server.config import Settings
from server.errors import Forbidden, NotFound
from server.models import Assignment, Case, Rating, RatingStatus, Recording, Role, User

# --- reading ---------------------------------------------------------------------------------

# Primary keys are IntFields: an id beyond PostgreSQL's integer (SQLite's ends at 2**63 - 1) names no row,
# and the database would refuse the query rather than find nothing.
LARGEST_ID = 2**31 - 1


def possible_id(id_: int) -> bool:
    return 0 < id_ <= LARGEST_ID


def sees_everything(user: User) -> bool:
    """Course leads and admins read every case and run the course."""
    return user.role in (Role.COURSE_LEAD, Role.ADMIN)


async def visible_trainee_ids(user: User) -> set[int] | None:
    """The trainees whose work this user may read; None means everyone's."""
    if sees_everything(user):
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


async def may_read_trainee(user: User, trainee_id: int) -> bool:
    trainee_ids = await visible_trainee_ids(user)
    return trainee_ids is None or trainee_id in trainee_ids


async def readable_case(user: User, case_id: int) -> Case:
    case = await Case.get_or_none(id=case_id).select_related("trainee") if possible_id(case_id) else None
    audit_trail.note(case_id=case.id if case else None)
    if case is None or not await may_read_trainee(user, case.trainee_id):
        raise NotFound("No such case.")
    return case


async def readable_trainee(user: User, trainee_id: int) -> User:
    trainee = await User.get_or_none(id=trainee_id, role=Role.TRAINEE) if possible_id(trainee_id) else None
    if trainee is None or not await may_read_trainee(user, trainee.id):
        raise NotFound("No such trainee.")
    return trainee


async def is_rater(user: User, recording: Recording) -> bool:
    return await Assignment.exists(recording=recording, supervisor_id=user.id)


async def _recording(recording_id: int) -> Recording | None:
    """The recording with its session, case and trainee, noted on the audit trail's entry (if any)."""
    recording = (await Recording.get_or_none(id=recording_id).select_related("session__case__trainee")
                 if possible_id(recording_id) else None)
    if recording is not None:
        audit_trail.note(case_id=recording.session.case_id, recording_id=recording.id)
    return recording


async def readable_recording(user: User, recording_id: int) -> Recording:
    """A recording of a trainee this user may read, or one they are assigned to rate or adjudicate
    (a second rater or an adjudicator may come from outside the trainee's own supervision). Its
    transcript, with corrections, and its media are readable to the same people."""
    recording = await _recording(recording_id)
    if recording is None or not (
        await may_read_trainee(user, recording.session.case.trainee_id)
        or recording.adjudicator_id == user.id
        or await is_rater(user, recording)
    ):
        raise NotFound("No such recording.")
    return recording


async def rateable_recording(user: User, recording_id: int) -> Recording:
    """The recording, if this user is assigned to rate it."""
    recording = await _recording(recording_id)
    if recording is None or not await is_rater(user, recording):
        if recording is not None and await may_read_trainee(user, recording.session.case.trainee_id):
            raise Forbidden("You are not assigned to rate this recording.")
        raise NotFound("No such recording.")
    return recording


def is_treating_trainee(user: User, case: Case) -> bool:
    return case.trainee_id == user.id


# --- the course lead's powers ------------------------------------------------------------------


def require_lead(user: User, message: str = "Only a course lead or an admin can do this.") -> None:
    if not sees_everything(user):
        raise Forbidden(message)


# --- accounts ----------------------------------------------------------------------------------


def may_view_accounts(user: User) -> bool:
    return sees_everything(user)


def require_may_view_accounts(user: User) -> None:
    if not may_view_accounts(user):
        raise Forbidden("Accounts are managed by admins; course leads can see them.")


def may_manage_accounts(user: User) -> bool:
    """Adding people, changing roles and names, deactivating, reset links: admins only."""
    return user.role == Role.ADMIN


def require_may_manage_accounts(user: User) -> None:
    if not may_manage_accounts(user):
        raise Forbidden("Only an admin adds, changes or deactivates accounts.")


def may_manage_training_links(user: User) -> bool:
    """Supervision links and supervisors' accreditation: course leads run the course, admins too."""
    return sees_everything(user)


# --- cases and recordings ----------------------------------------------------------------------


def may_create_case(user: User) -> bool:
    return user.role in (Role.TRAINEE, Role.COURSE_LEAD, Role.ADMIN)


def require_may_create_case(user: User) -> None:
    if not may_create_case(user):
        raise Forbidden("Supervisors do not open training cases; the trainee or a course lead does.")


def may_upload(user: User, case: Case) -> bool:
    """Recordings are the treating trainee's: only they add or replace one."""
    return is_treating_trainee(user, case)


def require_uploader(user: User, case: Case) -> None:
    if not may_upload(user, case):
        raise Forbidden("Only the trainee treating this case can upload its recordings.")


def may_retry(user: User, recording: Recording) -> bool:
    return is_treating_trainee(user, recording.session.case) or sees_everything(user)


def require_may_retry(user: User, recording: Recording) -> None:
    if not may_retry(user, recording):
        raise Forbidden("Only the case's trainee, a course lead or an admin can retry a transcription.")


def require_may_put_forward(user: User, recording: Recording) -> None:
    if not is_treating_trainee(user, recording.session.case):
        raise Forbidden("Only the treating trainee puts a recording forward for assessment.")


def may_delete_recording(user: User, recording: Recording, *, rated: bool) -> bool:
    """The treating trainee, until someone rates the tape; a course lead or admin at any time."""
    return sees_everything(user) or (is_treating_trainee(user, recording.session.case) and not rated)


def require_may_delete_recording(user: User, recording: Recording, *, rated: bool) -> None:
    if may_delete_recording(user, recording, rated=rated):
        return
    if is_treating_trainee(user, recording.session.case):
        raise Forbidden("This recording has been rated: ask a course lead to delete it.")
    raise Forbidden("Only the case's trainee (before the recording is rated) or a course lead deletes a recording.")


def may_withdraw_consent(user: User, recording: Recording) -> bool:
    return is_treating_trainee(user, recording.session.case) or sees_everything(user)


def require_may_withdraw_consent(user: User, recording: Recording) -> None:
    if not may_withdraw_consent(user, recording):
        raise Forbidden("The case's trainee or a course lead records that the patient withdrew consent.")


def may_correct_transcript(user: User, recording: Recording) -> bool:
    """The case's trainee, supervisors (their own or the tape's raters) and course leads."""
    return user.role != Role.TRAINEE or is_treating_trainee(user, recording.session.case)


def require_may_correct_transcript(user: User, recording: Recording) -> None:
    """Its speakers and its text."""
    if not may_correct_transcript(user, recording):
        raise Forbidden("Only the case's trainee, its supervisors and course leads correct the transcript.")


def may_record_ipaf(user: User, case: Case) -> bool:
    return is_treating_trainee(user, case) or sees_everything(user) or user.role == Role.SUPERVISOR


def require_may_record_ipaf(user: User, case: Case) -> None:
    if not may_record_ipaf(user, case):
        raise Forbidden("The IPAF is recorded by the trainee, their supervisor or a course lead.")


# --- rating ------------------------------------------------------------------------------------


def accreditation_is_current(user: User, settings: Settings, today: date | None = None) -> bool:
    """An accredited supervisor, with an accreditation date no older than the configured number of years."""
    today = today or date.today()
    if user.role != Role.SUPERVISOR or not user.accredited or user.accredited_on is None:
        return False
    try:
        expires = user.accredited_on.replace(year=user.accredited_on.year + settings.accreditation_years)
    except ValueError:  # 29 February
        expires = user.accredited_on.replace(year=user.accredited_on.year + settings.accreditation_years, day=28)
    return user.accredited_on <= today < expires


def require_may_rate(user: User, settings: Settings) -> None:
    if not accreditation_is_current(user, settings):
        raise Forbidden("Only a supervisor whose DIT accreditation is current can rate.")


def may_adjudicate(user: User, recording: Recording) -> bool:
    return sees_everything(user) or recording.adjudicator_id == user.id


def require_adjudicator(user: User, recording: Recording) -> None:
    if not may_adjudicate(user, recording):
        raise Forbidden("Only a course lead, an admin or the senior supervisor named for this tape adjudicates.")


async def ratings_shown(user: User, recording: Recording, *, raters: set[int], everyone_in: bool,
                        individual: list[Rating], consensus: Rating | None, official: Rating | None) -> list[Rating]:
    """Which of a recording's ratings this user may see. Blindness: a rater sees only their own rating
    until every assigned rater has submitted. The trainee (and their supervisors not rating the tape)
    see the official result once it is released, and nothing before."""
    if sees_everything(user):
        return individual + ([consensus] if consensus else [])
    if recording.adjudicator_id == user.id:
        submitted = [r for r in individual if r.status == RatingStatus.SUBMITTED]
        return (submitted + ([consensus] if consensus else [])) if everyone_in else []
    if user.id in raters:
        shown = individual if everyone_in else [r for r in individual if r.rater_id == user.id]
        shown = [r for r in shown if r.status == RatingStatus.SUBMITTED or r.rater_id == user.id]
        if everyone_in and consensus is not None and consensus.status == RatingStatus.SUBMITTED:
            shown.append(consensus)
        return shown
    if await may_read_trainee(user, recording.session.case.trainee_id):
        released = recording.feedback_released_at is not None
        return [official] if released and official is not None else []
    raise NotFound("No such recording.")


def sees_released_result_only(user: User, recording: Recording, raters: set[int]) -> bool:
    """The trainee, and their supervisors not rating the tape: the result as released, not as it stands."""
    return not sees_everything(user) and recording.adjudicator_id != user.id and user.id not in raters


async def may_see_suggestion(user: User, recording: Recording) -> bool:
    """Raters and course leads see it while rating; others (the trainee) once feedback is released."""
    if sees_everything(user) or await is_rater(user, recording):
        return True
    return recording.feedback_released_at is not None


async def require_may_see_suggestion(user: User, recording: Recording) -> None:
    if not await may_see_suggestion(user, recording):
        raise Forbidden("The suggestion is shown to raters while rating, and to the trainee with released feedback.")


async def require_may_judge_suggestion(user: User, recording: Recording) -> None:
    if not (sees_everything(user) or await is_rater(user, recording)):
        raise Forbidden("Only the recording's raters and course leads judge suggestions.")


def sees_who_corrected(user: User, by: str | None) -> bool:
    """Who corrected a transcript is shown to course leads and to the person who did: to anyone else it
    could name a tape's other rater, whom blind double rating hides."""
    return sees_everything(user) or by == user.username


def anonymise_raters_for(user: User, settings: Settings) -> bool:
    """Raters see each other as "Rater 1", "Rater 2"; course leads see names."""
    return settings.anonymise_adjudication and not sees_everything(user)


# --- accreditation progress --------------------------------------------------------------------


def may_log_supervision(user: User, trainee: User) -> bool:
    return user.id == trainee.id or sees_everything(user) or user.role == Role.SUPERVISOR


def require_may_log_supervision(user: User, trainee: User) -> None:
    if not may_log_supervision(user, trainee):
        raise Forbidden("Supervision is logged by the trainee, their supervisor or a course lead.")


async def may_confirm_supervision(user: User, trainee: User) -> bool:
    """The trainee's own supervisors, and course leads: not the trainee who logged the hours."""
    if sees_everything(user):
        return True
    return user.role == Role.SUPERVISOR and await user.supervisees.filter(id=trainee.id).exists()


async def require_may_confirm_supervision(user: User, trainee: User) -> None:
    if not await may_confirm_supervision(user, trainee):
        raise Forbidden("A trainee's supervision hours are confirmed by their supervisor or a course lead.")


def may_record_training(user: User) -> bool:
    return sees_everything(user)


def require_may_record_training(user: User) -> None:
    require_lead(user, "Only a course lead or an admin records these dates.")


# --- the audit trail ---------------------------------------------------------------------------


def may_read_audit_trail(user: User) -> bool:
    """The whole trail, every user's reads and changes: admins only."""
    return user.role == Role.ADMIN


def may_see_who_accessed(user: User, recording: Recording) -> bool:
    """Who has read or changed a recording: its own trainee, course leads and admins."""
    return sees_everything(user) or is_treating_trainee(user, recording.session.case)


def require_may_see_who_accessed(user: User, recording: Recording) -> None:
    if not may_see_who_accessed(user, recording):
        raise Forbidden("Who has accessed a recording is shown to its trainee and to course leads.")


# --- operations ----------------------------------------------------------------------------------


def may_scrape_metrics(settings: Settings, address: str | None, bearer: str | None) -> bool:
    """/metrics says how busy the service is and which routes fail: with DIT_METRICS_TOKEN, for whoever sends
    it (compared in constant time); without one, for this machine and the configured proxies' own addresses.
    A proxy's forwarded client is the address here, so the internet is refused through a proxy too; and `*`
    (believe every peer) opens nothing, as it would be everyone."""
    if settings.metrics_token:
        return bearer is not None and hmac.compare_digest(bearer.encode(), settings.metrics_token.encode())
    try:
        peer = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    peer = getattr(peer, "ipv4_mapped", None) or peer  # ::ffff:127.0.0.1 from a dual-stack socket
    networks = [ipaddress.ip_network(proxy, strict=False) for proxy in settings.trusted_proxies if proxy != "*"]
    return peer.is_loopback or any(peer in network for network in networks)
