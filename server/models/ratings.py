"""Ratings of recordings against the DIT scale: assignments, ratings and their history, supervisors'
judgements of the classifier's suggestions."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from rating.phases import Phase

if TYPE_CHECKING:  # the related models, for annotations only
    from server.models.accounts import User
    from server.models.cases import Recording


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


class SuggestedVerdict(Model):
    """The on-model suggestion's session verdict on a tape, as last made: by which model, judged against
    which IPAF version. Kept so that the suggestions can be checked against the supervisors' official
    results (`services.suggestions.verdict_agreement`); it holds no words of the session, so, like the
    ratings, it outlives the transcript."""

    id = fields.IntField(primary_key=True)
    recording: fields.OneToOneRelation[Recording] = fields.OneToOneField(
        "models.Recording", related_name="suggested_verdict"
    )
    verdict = fields.CharField(max_length=12)  # rating.classifier_session.VERDICTS
    phase = fields.CharEnumField(Phase, max_length=8)
    model_version = fields.CharField(max_length=64)
    ipaf_version = fields.IntField()
    made_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "suggested_verdict"
