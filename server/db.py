"""Database start-up and the first-start demo accounts."""

from __future__ import annotations

import contextlib
import secrets
from datetime import date

from tortoise import Tortoise

from server.config import Settings
from server.models import Case, CaseIpaf, Role, User
from server.security import hash_password

MODELS = {"models": ["server.models"]}


async def open_database(settings: Settings) -> None:
    # Request handlers run in tasks that do not inherit the lifespan's context, so the ORM's
    # context must be the process-wide fallback (as tortoise.contrib.starlette sets it).
    await Tortoise.init(db_url=settings.database_url, modules=MODELS, _enable_global_fallback=True)
    await Tortoise.generate_schemas(safe=True)


async def close_database() -> None:
    await Tortoise.close_connections()


@contextlib.asynccontextmanager
async def database(settings: Settings):
    """The database open for a command-line task."""
    await open_database(settings)
    try:
        yield
    finally:
        await close_database()


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
    logins_file = settings.data_dir / "demo-logins.txt"
    logins_file.touch(mode=0o600)
    logins_file.write_text("".join(f"{role.value:12} {username:12} {password}\n" for username, password, role in logins))
    return logins


def format_demo_logins(logins: list[tuple[str, str, Role]], url: str) -> str:
    lines = [f"Demo accounts created (also saved in the data directory's demo-logins.txt). Log in at {url}"]
    lines += [f"  {role.label:12} user: {username:12} password: {password}" for username, password, role in logins]
    return "\n".join(lines)
