"""Accounts: signing in, adding users and supervision links, and the first-start demo accounts."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import date

from server.config import Settings
from server.errors import Conflict, Invalid
from server.models import Case, CaseIpaf, Role, User
from server.security import hash_password, verify_password


async def authenticate(username: str, password: str) -> User | None:
    """The active user with this name and password, or None. Argon2 is slow on purpose, so the hash is
    checked off the event loop."""
    user = await User.get_or_none(username=username, is_active=True)
    if not await asyncio.to_thread(verify_password, user.password_hash if user else None, password):
        return None
    return user


@dataclass(frozen=True)
class NewUser:
    username: str
    name: str
    role: Role
    password: str
    accredited: bool = False
    accredited_on: date | None = None
    supervisor: str | None = None
    cohort: str | None = None


async def add_user(new: NewUser) -> User:
    if await User.exists(username=new.username):
        raise Conflict(f"A user named '{new.username}' already exists.")
    supervisor = None
    if new.supervisor:
        supervisor = await User.get_or_none(username=new.supervisor, role=Role.SUPERVISOR)
        if supervisor is None:
            raise Invalid(f"No supervisor named '{new.supervisor}'.")
    user = await User.create(
        username=new.username,
        name=new.name,
        role=new.role,
        password_hash=hash_password(new.password),
        accredited=bool(new.accredited or new.accredited_on),
        accredited_on=new.accredited_on or (date.today() if new.accredited else None),
        cohort=new.cohort,
    )
    if supervisor is not None:
        await user.supervisors.add(supervisor)
    return user


async def all_users() -> list[User]:
    return await User.all().order_by("role", "username").prefetch_related("supervisors")


async def supervise(supervisor_username: str, trainee_username: str) -> tuple[User, User]:
    """Let a supervisor read a trainee's cases."""
    supervisor = await User.get_or_none(username=supervisor_username, role=Role.SUPERVISOR)
    trainee = await User.get_or_none(username=trainee_username, role=Role.TRAINEE)
    if supervisor is None or trainee is None:
        raise Invalid("Name an existing supervisor and an existing trainee.")
    await trainee.supervisors.add(supervisor)
    return supervisor, trainee


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
