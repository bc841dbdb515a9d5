"""Training cases, their sessions and recordings, transcripts and IPAF versions. Clinical content
(transcripts) lives only in Transcript.data, sealed under the recording's data key when a master key
is configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from rating.phases import Phase, phase_of

if TYPE_CHECKING:  # the related models, for annotations only
    from server.models.accounts import User


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
    # The official result as released to the trainee (ratings.rating_json): what they keep seeing while a
    # course lead has its rating reopened for revision, until a new result is released. When the lead
    # withdraws it instead, why, for the trainee.
    released_result = fields.JSONField(null=True)
    withdrawn_reason = fields.TextField(default="", db_default="")
    # A calibration tape is rated by every supervisor; reference scores, when given, are the
    # course's agreed answer that each rater's scores are compared with.
    is_calibration = fields.BooleanField(default=False)
    reference_scores = fields.JSONField(null=True)
    # A senior supervisor a course lead names to settle this tape's double rating, as leads can.
    adjudicator: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="adjudications", null=True
    )
    # People's corrections of who is speaking (each with who made it and when), kept by time so they are
    # applied again after re-transcription. The database default fills the rows that existed before the
    # column: without one, a NOT NULL column cannot be added to a table that has rows.
    speaker_corrections = fields.JSONField(default=list, db_default=[])
    # The patient's written consent to being recorded for training and assessment, as the uploading trainee
    # confirmed it (recordings from before consent was asked have none).
    consent_date = fields.DateField(null=True)
    consent_confirmed_at = fields.DatetimeField(null=True)
    consent_withdrawn_at = fields.DatetimeField(null=True)
    # When a newer upload for the same session took this one's place: its media is kept for a while after.
    replaced_at = fields.DatetimeField(null=True)
    # Each time someone put the recording forward or assigned it despite a failed quality check the page
    # warned them of: {action, by, at, flag}.
    quality_warnings = fields.JSONField(default=list, db_default=[])
    # What is gone, and when: the media and the transcript may go separately (retention), or the whole
    # recording (deleted on demand, or its consent withdrawn). The row stays as the tombstone.
    media_deleted_at = fields.DatetimeField(null=True)
    transcript_deleted_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)
    deleted_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="deletions", null=True, on_delete=fields.SET_NULL
    )
    deletion_reason = fields.TextField(default="", db_default="")
    # Encryption at rest (server/services/encryption.py): the recording's own data key, wrapped by the master
    # key `key_id` names. Both null: stored in the clear. Data key null under a key id: destroyed on deletion.
    key_id = fields.CharField(max_length=16, null=True)
    data_key = fields.BinaryField(null=True)


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
    # People's corrections of the text, {"edits": [transcription.edits.LineEdit.to_dict(), ...]} in the
    # order made, sealed like `data`: kept to make again after a new transcription.
    edits = fields.JSONField(default=dict, db_default={})
    created_at = fields.DatetimeField(auto_now_add=True)


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
