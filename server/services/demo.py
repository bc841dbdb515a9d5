"""Demo accounts: on an empty database, when asked for (`DIT_DEMO_ACCOUNTS`, as `scripts/serve` does),
one account per role and a demo case, so that a newcomer can sign in and look around."""

from __future__ import annotations

import secrets
from datetime import date
from pathlib import Path

from server.config import Settings
from server.models import Case, CaseIpaf, Role, User
from server.security import hash_password

DEMO_ACCOUNTS = (
    ("admin", "Ada Admin", Role.ADMIN),
    ("lead", "Lee Course-Lead", Role.COURSE_LEAD),
    ("supervisor", "Sam Supervisor", Role.SUPERVISOR),
    ("trainee", "Tia Trainee", Role.TRAINEE),
)


async def create_demo_accounts(settings: Settings) -> list[tuple[str, str, Role]] | None:
    """On an empty database, one account per role so that a newcomer can log in and look around.

    Returns (username, password, role) for each, or None when the database already had users.
    """
    if await User.exists():
        return None
    logins = []
    for username, name, role in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(9)
        await User.create(
            username=username,
            name=name,
            role=role,
            password_hash=hash_password(password),
            accredited=role == Role.SUPERVISOR,
            accredited_on=date.today() if role == Role.SUPERVISOR else None,
        )
        logins.append((username, password, role))
    trainee = await User.get(username="trainee")
    await trainee.supervisors.add(await User.get(username="supervisor"))
    case = await Case.create(code="DEMO-001", trainee=trainee)
    await CaseIpaf.create(
        case=case, version=1, from_session=1, created_by=trainee,
        self_representation="an unimportant afterthought", other_representation="dismissive, exploitative",
        affect="hopelessness, resentment",
        summary="Expects to be used and then forgotten, and swallows the resentment for fear of being dropped.",
    )
    logins_file = demo_logins_file(settings)
    logins_file.touch(mode=0o600)
    logins_file.write_text("".join(f"{role.value:12} {username:12} {password}\n" for username, password, role in logins))
    return logins


def demo_logins_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-logins.txt"


def format_demo_notice(settings: Settings, url: str) -> str:
    """What the service prints: where the log-ins are, never the passwords (logs are kept and shared)."""
    return (f"Demo accounts created, one per role; their log-ins are in {demo_logins_file(settings)} "
            f"(readable by this user only). Log in at {url}")
