"""Telling people what needs them: a notification row per person per event, listed in the service with
an unread count, and emailed when DIT_SMTP_URL is set and the person wants that kind by email.

The rows are the outbox: `notify` writes them in the caller's transaction, and `deliver` sends the
pending ones afterwards (scheduled at once, in whichever process made them; a row a process died
holding is sent by the next delivery). An email says what kind of thing happened and links to it:
never a case, a patient, a score or a word of a transcript.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

from server import access
from server.clock import now
from server.config import Settings
from server.errors import Invalid, NotFound
from server.models import EmailState, Notification, NotificationKind, Role, User

log = logging.getLogger("dit.notifications")

# Each kind as the list and the email say it: a title, and the sentence above the link.
WORDING = {
    NotificationKind.ASSIGNED: ("A recording to rate", "A course lead has assigned you a recording to rate."),
    NotificationKind.REOPENED: ("A rating reopened", "A course lead has reopened one of your ratings for revision; "
                                                    "the reason is shown with it."),
    NotificationKind.ADJUDICATION_NEEDED: ("A double rating to adjudicate",
                                           "Every rater of a double-rated recording has submitted; the ratings "
                                           "await adjudication."),
    NotificationKind.RELEASED: ("Feedback released", "Feedback on one of your recordings has been released."),
    NotificationKind.DEADLINE: ("A deadline approaching", "A deadline for your accreditation is approaching."),
    NotificationKind.TRANSCRIPTION_FAILED: ("Transcription failed",
                                            "One of your recordings could not be transcribed; you can try again."),
}
ATTEMPTS = 3
_deliveries: set[asyncio.Task] = set()


async def notify(settings: Settings, users: Iterable[User], kind: NotificationKind, link: str) -> None:
    """One notification for each of `users` (once each); delivery is scheduled by `schedule`."""
    rows = []
    for user in {u.id: u for u in users if u is not None and u.is_active}.values():
        wanted = bool(settings.smtp_url and user.email) and kind.value not in (user.email_opt_out or [])
        rows.append(Notification(user=user, kind=kind, link=link,
                                 email=EmailState.PENDING if wanted else EmailState.SKIPPED))
    if rows:
        await Notification.bulk_create(rows)


async def course_leads() -> list[User]:
    return await User.filter(role=Role.COURSE_LEAD, is_active=True)


def schedule(settings: Settings) -> None:
    """Send what is pending, in the background of the running loop (after the caller's transaction)."""
    if not settings.smtp_url:
        return
    task = asyncio.get_running_loop().create_task(deliver(settings))
    _deliveries.add(task)
    task.add_done_callback(_deliveries.discard)


async def deliver(settings: Settings) -> int:
    """Email every pending notification; how many were sent. Each is claimed first, so two processes
    never send one twice; a failure is tried again by the next delivery, up to ATTEMPTS times."""
    sent = 0
    for row in await Notification.filter(email=EmailState.PENDING).select_related("user").order_by("id").limit(100):
        if not await Notification.filter(id=row.id, email=EmailState.PENDING).update(email=EmailState.SENDING):
            continue
        try:
            await send(settings, message(settings, row))
        except asyncio.CancelledError:
            # Stopped mid-send (the service shutting down): pending again, for the next delivery.
            await Notification.filter(id=row.id).update(email=EmailState.PENDING)
            raise
        except Exception as exc:  # the mail server's refusal or absence: logged without the address
            attempts = row.email_attempts + 1
            log.warning("notification %d: email not sent (%s), attempt %d", row.id, type(exc).__name__, attempts)
            await Notification.filter(id=row.id).update(
                email=EmailState.FAILED if attempts >= ATTEMPTS else EmailState.PENDING, email_attempts=attempts)
            continue
        await Notification.filter(id=row.id).update(email=EmailState.SENT, email_attempts=row.email_attempts + 1)
        sent += 1
    return sent


def message(settings: Settings, row: Notification) -> EmailMessage:
    title, sentence = WORDING[row.kind]
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = row.user.email
    mail["Subject"] = f"DIT supervision: {title.lower()}"
    mail.set_content(f"{sentence}\n\nOpen it: {settings.public_url}{row.link}\n\n"
                     f"Choose which emails you get on your account page: {settings.public_url}/account\n")
    return mail


async def send(settings: Settings, mail: EmailMessage) -> None:
    url = urlsplit(settings.smtp_url)
    tls = url.scheme == "smtps"
    await aiosmtplib.send(mail, hostname=url.hostname, port=url.port or (465 if tls else 25),
                          username=unquote(url.username) if url.username else None,
                          password=unquote(url.password) if url.password else None,
                          use_tls=tls, start_tls=None if not tls else False, timeout=30)


async def listing(user: User, limit: int = 50) -> dict:
    rows = await Notification.filter(user=user).order_by("-id").limit(limit)
    return {"unread": await unread_count(user), "notifications": [
        {"id": n.id, "kind": n.kind.value, "title": WORDING[n.kind][0], "text": WORDING[n.kind][1],
         "at": n.created_at.isoformat(), "read": n.read_at is not None, "link": n.link} for n in rows]}


async def mark_read(user: User, notification_id: int | None = None) -> int:
    """One of the user's notifications read (NotFound for another's), or all of them; how many changed."""
    rows = Notification.filter(user=user, read_at__isnull=True)
    if notification_id is not None:
        if not access.possible_id(notification_id) or not await Notification.exists(id=notification_id, user=user):
            raise NotFound("No such notification.")
        rows = rows.filter(id=notification_id)
    return await rows.update(read_at=now())


async def unread_count(user: User) -> int:
    return await Notification.filter(user=user, read_at__isnull=True).count()


async def set_email_choices(user: User, email: str | None, opted_out: Iterable[str]) -> User:
    email = (email or "").strip() or None
    if email is not None and (len(email) > 254 or "@" not in email or any(c.isspace() for c in email)):
        raise Invalid("Give an email address such as name@example.nhs.uk, or leave it empty.")
    kinds = {k.value for k in NotificationKind}
    unknown = set(opted_out) - kinds
    if unknown:
        raise Invalid(f"Unknown kinds of notification: {', '.join(sorted(unknown))}.")
    user.email, user.email_opt_out = email, sorted(set(opted_out))
    await user.save(update_fields=["email", "email_opt_out"])
    return user
