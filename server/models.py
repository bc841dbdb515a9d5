"""Database tables. Clinical content (transcripts) lives only in Transcript.data."""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model

from rating.phases import Phase, phase_of


class Role(str, Enum):
    TRAINEE = "trainee"
    SUPERVISOR = "supervisor"
    COURSE_LEAD = "course_lead"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class JobStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    role = fields.CharEnumField(Role, max_length=16)
    password_hash = fields.CharField(max_length=255)
    is_active = fields.BooleanField(default=True)
    accredited = fields.BooleanField(default=False)
    accredited_on = fields.DateField(null=True)
    # The training group a trainee belongs to (e.g. "2026 spring"), for the agreement audit's filters.
    cohort = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_sign_in_at = fields.DatetimeField(null=True)
    deactivated_at = fields.DatetimeField(null=True)
    # TOTP: the shared secret once enrolment is confirmed, the last time step used (a code is good
    # once), and the SHA-256 of each unused recovery code.
    mfa_secret = fields.CharField(max_length=64, null=True)
    mfa_enabled_at = fields.DatetimeField(null=True)
    mfa_last_counter = fields.BigIntField(null=True)
    recovery_codes = fields.JSONField(default=list, db_default=[])
    supervisors: fields.ManyToManyRelation[User] = fields.ManyToManyField(
        "models.User", related_name="supervisees", through="supervision"
    )

    class Meta:
        table = "user"

    # Starlette's AuthenticationMiddleware puts this object on request.user.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.name


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="tokens")
    # Only a hash is stored: a leaked database does not leak working tokens.
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_from = fields.CharField(max_length=64, null=True)
    last_used_at = fields.DatetimeField(null=True)
    last_used_from = fields.CharField(max_length=64, null=True)
    # A token without an expiry (made before tokens expired) is refused.
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)


class EndReason(str, Enum):
    """Why a signed-in session ended before its time."""

    SIGNED_OUT = "signed_out"
    REVOKED = "revoked"
    PASSWORD_CHANGED = "password_changed"
    DEACTIVATED = "deactivated"


class UserSession(Model):
    """One sign-in to the pages. The cookie carries a random id whose SHA-256 is kept here, so that a
    session can be listed and ended at once (sign-out, revocation, password change, deactivation)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="sessions")
    key_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    address = fields.CharField(max_length=64, null=True)
    user_agent = fields.CharField(max_length=255, default="")
    ended_at = fields.DatetimeField(null=True)
    end_reason = fields.CharEnumField(EndReason, max_length=16, null=True)

    class Meta:
        table = "user_session"


class SignInAttempt(Model):
    """Every sign-in attempt, kept in the database so that every web process throttles alike."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, db_index=True)
    address = fields.CharField(max_length=64, db_index=True)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    succeeded = fields.BooleanField()

    class Meta:
        table = "sign_in_attempt"


class PasswordLink(Model):
    """A one-time link to set a password: for a new account, or after a reset. Only its hash is kept."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="password_links")
    secret_hash = fields.CharField(max_length=64, unique=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="password_links_made", null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "password_link"


class Case(Model):
    id = fields.IntField(primary_key=True)
    # Pseudonymous: a code the trainee chooses, never the patient's name.
    code = fields.CharField(max_length=32, unique=True)
    trainee: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="cases")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "training_case"


class TherapySession(Model):
    id = fields.IntField(primary_key=True)
    case: fields.ForeignKeyRelation[Case] = fields.ForeignKeyField("models.Case", related_name="sessions")
    number = fields.SmallIntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "therapy_session"
        unique_together = (("case", "number"),)

    @property
    def phase(self) -> Phase:
        return phase_of(self.number)


class Recording(Model):
    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[TherapySession] = fields.ForeignKeyField(
        "models.TherapySession", related_name="recordings"
    )
    uploaded_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="uploads")
    # Files live under recordings/<storage_key>/; the uploaded file name is never used as a path.
    storage_key = fields.CharField(max_length=36, unique=True)
    original_file = fields.CharField(max_length=32)
    media_type = fields.CharField(max_length=64)
    size_bytes = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)
    duration = fields.FloatField()
    has_video = fields.BooleanField(default=False)
    channels = fields.SmallIntField()
    sample_rate = fields.IntField()
    is_current = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # The trainee puts a tape forward for assessment; feedback is shown to them only once released.
    submitted_for_assessment_at = fields.DatetimeField(null=True)
    feedback_released_at = fields.DatetimeField(null=True)
    # A calibration tape is rated by every supervisor; reference scores, when given, are the
    # course's agreed answer that each rater's scores are compared with.
    is_calibration = fields.BooleanField(default=False)
    reference_scores = fields.JSONField(null=True)
    # A senior supervisor a course lead names to settle this tape's double rating, as leads can.
    adjudicator: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="adjudications", null=True
    )
    # People's corrections of who is speaking, kept by time so they are applied again after re-transcription.
    # The database default fills the rows that existed before the column: without one, a NOT NULL
    # column cannot be added to a table that has rows.
    speaker_corrections = fields.JSONField(default=list, db_default=[])


class TranscriptionJob(Model):
    id = fields.IntField(primary_key=True)
    recording: fields.ForeignKeyRelation[Recording] = fields.ForeignKeyField(
        "models.Recording", related_name="jobs"
    )
    status = fields.CharEnumField(JobStatus, max_length=8, default=JobStatus.QUEUED)
    progress = fields.FloatField(default=0.0)
    error = fields.TextField(null=True)
    engine = fields.CharField(max_length=32)
    model = fields.CharField(max_length=255)
    attempts = fields.SmallIntField(default=0)
    worker = fields.CharField(max_length=64, null=True)
    heartbeat_at = fields.DatetimeField(null=True)
    # A queued job waits until then after a failed attempt (backoff), so that a fault that passes
    # (storage unreachable, a worker short of memory) does not use up every attempt at once.
    not_before = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "transcription_job"


class Worker(Model):
    """A transcription worker that is running, or was: it beats every few seconds, so a readiness
    check can tell live workers from ones that stopped (`server.jobs.workers.fresh_workers`)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    started_at = fields.DatetimeField()
    heartbeat_at = fields.DatetimeField(db_index=True)
    job: fields.ForeignKeyNullableRelation[TranscriptionJob] = fields.ForeignKeyField(
        "models.TranscriptionJob", related_name="workers", null=True, on_delete=fields.SET_NULL)

    class Meta:
        table = "worker"


class Transcript(Model):
    id = fields.IntField(primary_key=True)
    recording: fields.OneToOneRelation[Recording] = fields.OneToOneField(
        "models.Recording", related_name="transcript"
    )
    language = fields.CharField(max_length=16)
    engine = fields.CharField(max_length=32)
    model = fields.CharField(max_length=255)
    data = fields.JSONField()
    # Who is speaking (transcription.roles.Labelling.to_dict: roles, quality gates and flag, voice
    # prints; plus the speaker encoder used), or {"flag": ...} alone when that could not be worked out.
    speakers = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)


class RatingKind(str, Enum):
    INDIVIDUAL = "individual"
    CONSENSUS = "consensus"


class RatingStatus(str, Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class RatingAction(str, Enum):
    """What a rating's history records."""

    SUBMITTED = "submitted"
    REOPENED = "reopened"
    RELEASED = "released"


class Assignment(Model):
    """A recording given to a supervisor to rate."""

    id = fields.IntField(primary_key=True)
    recording: fields.ForeignKeyRelation[Recording] = fields.ForeignKeyField(
        "models.Recording", related_name="assignments"
    )
    supervisor: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="assignments")
    assigned_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="assignments_made")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        unique_together = (("recording", "supervisor"),)


class Rating(Model):
    """One rater's scoring of one recording, or the adjudicated consensus. Never deleted."""

    id = fields.IntField(primary_key=True)
    recording: fields.ForeignKeyRelation[Recording] = fields.ForeignKeyField("models.Recording", related_name="ratings")
    rater: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="ratings")
    kind = fields.CharEnumField(RatingKind, max_length=12, default=RatingKind.INDIVIDUAL)
    status = fields.CharEnumField(RatingStatus, max_length=10, default=RatingStatus.DRAFT)
    scale_version = fields.CharField(max_length=64)
    phase = fields.CharEnumField(Phase, max_length=8)
    # {item_id: score or null}, {item_id: comment}, {item_id: [segment index, ...]}
    scores = fields.JSONField(default=dict)
    comments = fields.JSONField(default=dict)
    evidence = fields.JSONField(default=dict)
    overall_comment = fields.TextField(default="")
    total = fields.IntField(null=True)
    mean = fields.FloatField(null=True)
    passed = fields.BooleanField(null=True)
    reasons = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    submitted_at = fields.DatetimeField(null=True)

    class Meta:
        unique_together = (("recording", "rater", "kind"),)


class RatingEvent(Model):
    """The audit trail of a rating: submitted, reopened (with the reason), released."""

    id = fields.IntField(primary_key=True)
    rating: fields.ForeignKeyRelation[Rating] = fields.ForeignKeyField("models.Rating", related_name="events")
    actor: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="rating_events")
    action = fields.CharEnumField(RatingAction, max_length=16)
    reason = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)


class SupervisionLog(Model):
    """Hours of DIT supervision a trainee received, counted towards accreditation."""

    id = fields.IntField(primary_key=True)
    trainee: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="supervision_logs")
    supervisor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="supervision_given", null=True
    )
    held_on = fields.DateField()
    hours = fields.FloatField()
    note = fields.TextField(default="")
    logged_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="supervision_logged")
    created_at = fields.DatetimeField(auto_now_add=True)


class TrainingRecord(Model):
    """Dates on a trainee's route to accreditation that are not tapes or supervision."""

    id = fields.IntField(primary_key=True)
    trainee: fields.OneToOneRelation[User] = fields.OneToOneField("models.User", related_name="training_record")
    training_completed_on = fields.DateField(null=True)
    roleplay_certificate_on = fields.DateField(null=True)
    case_study_on = fields.DateField(null=True)


class CaseIpaf(Model):
    """One version of a case's interpersonal-affective focus. It is refined during therapy, so each
    version applies from a session onwards and a session is judged against the version current then."""

    id = fields.IntField(primary_key=True)
    case: fields.ForeignKeyRelation[Case] = fields.ForeignKeyField("models.Case", related_name="ipafs")
    version = fields.SmallIntField()
    from_session = fields.SmallIntField(default=1)
    self_representation = fields.TextField()
    other_representation = fields.TextField()
    affect = fields.TextField()
    summary = fields.TextField(default="")
    created_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="ipafs_recorded")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "case_ipaf"
        unique_together = (("case", "version"),)


class ClassifierJudgement(Model):
    """A supervisor agreeing or disagreeing with one suggestion: training data for the classifier."""

    id = fields.IntField(primary_key=True)
    recording: fields.ForeignKeyRelation[Recording] = fields.ForeignKeyField(
        "models.Recording", related_name="classifier_judgements"
    )
    segment_index = fields.IntField()
    label = fields.CharField(max_length=32)
    value = fields.BooleanField()
    judged_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField("models.User", related_name="classifier_judgements")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        unique_together = (("recording", "segment_index", "label", "judged_by"),)
