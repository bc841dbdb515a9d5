"""A trainee's route to accreditation besides tapes: supervision hours and training dates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:  # the related models, for annotations only
    from server.models.accounts import User


class SupervisionLog(Model):
    """Hours of DIT supervision a trainee received, counted towards accreditation once confirmed: an entry a
    supervisor or course lead logs is confirmed by them; a trainee's own waits for their supervisor."""

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
    # Entries from before confirmation was asked for count as they did (the database default).
    awaiting_confirmation = fields.BooleanField(default=False, db_default=False)
    confirmed_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="supervision_confirmed", null=True
    )
    confirmed_at = fields.DatetimeField(null=True)


class TrainingRecord(Model):
    """Dates on a trainee's route to accreditation that are not tapes or supervision."""

    id = fields.IntField(primary_key=True)
    trainee: fields.OneToOneRelation[User] = fields.OneToOneField("models.User", related_name="training_record")
    training_completed_on = fields.DateField(null=True)
    roleplay_certificate_on = fields.DateField(null=True)
    case_study_on = fields.DateField(null=True)
