"""What people are reminded of without anyone acting: a trainee whose accreditation deadline is
approaching (rating.accreditation's warning window), at most once a week; and emails whose sending
failed, tried again. Run every hour by each service process (`dit serve`, `dit worker`)."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta

from server.clock import now, pause
from server.config import Settings
from server.models import Notification, NotificationKind, Role, User
from server.services import notifications
from server.services.progress import trainee_progress

log = logging.getLogger("dit.notifications")

REMIND_SECONDS = 3600
# A trainee is reminded of an approaching deadline at most this often.
REMIND_EVERY = timedelta(days=7)


async def remind_deadlines(settings: Settings, today: date | None = None) -> int:
    """Tell each trainee with a deadline approaching, unless they were told in the last week; how many."""
    told = 0
    for trainee in await User.filter(role=Role.TRAINEE, is_active=True):
        progress = await trainee_progress(trainee, settings, today)
        if not any(d["status"] == "approaching" for d in progress["deadlines"]):
            continue
        if await Notification.exists(user=trainee, kind=NotificationKind.DEADLINE,
                                     created_at__gte=now() - REMIND_EVERY):
            continue
        await notifications.notify(settings, [trainee], NotificationKind.DEADLINE, f"/trainees/{trainee.id}/progress")
        told += 1
    return told


async def keep_reminding(settings: Settings, stop: asyncio.Event, every: float = REMIND_SECONDS) -> None:
    """Remind now and every `every` seconds, sending what is pending by email each time, until `stop`.
    A failure is logged and tried again next time: it must never take the service down."""
    while not stop.is_set():
        try:
            await remind_deadlines(settings)
            if settings.smtp_url:
                await notifications.deliver(settings)
        except Exception as exc:
            log.warning("reminders failed (%s); trying again in %d s", type(exc).__name__, every)
        await pause(stop, every)
