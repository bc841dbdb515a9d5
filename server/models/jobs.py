"""Transcription jobs and the workers that run them."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:  # the related models, for annotations only
    from server.models.cases import Recording


class JobStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


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
