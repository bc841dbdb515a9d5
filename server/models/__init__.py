"""Database tables, one module per part of the service; every model is importable from here, where
Tortoise (server.db.APPS) finds them. Clinical content (transcripts) lives only in Transcript.data."""

from server.models.accounts import ApiToken, EndReason, PasswordLink, Role, SignInAttempt, User, UserSession
from server.models.audit import AuditAction, AuditEvent, AuditObject, AuditOutcome
from server.models.cases import Case, CaseIpaf, Recording, TherapySession, Transcript
from server.models.jobs import JobStatus, TranscriptionJob, Worker
from server.models.notifications import EmailState, Notification, NotificationKind
from server.models.progress import SupervisionLog, TrainingRecord
from server.models.ratings import (
    Assignment,
    ClassifierJudgement,
    Rating,
    RatingAction,
    RatingEvent,
    RatingKind,
    RatingStatus,
    SuggestedVerdict,
)

__all__ = [
    "ApiToken", "Assignment", "AuditAction", "AuditEvent", "AuditObject", "AuditOutcome", "Case", "CaseIpaf", "ClassifierJudgement", "EmailState", "EndReason", "JobStatus",
    "Notification", "NotificationKind", "PasswordLink",
    "Rating", "RatingAction", "RatingEvent", "RatingKind", "RatingStatus", "Recording", "Role", "SignInAttempt",
    "SuggestedVerdict", "SupervisionLog", "TherapySession", "TrainingRecord", "Transcript", "TranscriptionJob", "User", "UserSession",
    "Worker",
]
