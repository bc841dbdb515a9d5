"""Accounts: adding people, changing what they are, deactivating leavers, supervision links, and a
user's own password.

Only admins add, change or deactivate accounts; course leads see them and manage supervision links
and accreditation (`access`). A new account has no usable password until its owner sets one through
a one-time link; deactivation ends the user's sessions and tokens at once and keeps their history.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from tortoise.transactions import in_transaction

from server import access, audit_trail
from server.clock import now
from server.config import Settings
from server.errors import Conflict, Forbidden, Invalid, NotFound, Unprocessable
from server.models import EndReason, PasswordLink, Role, User
from server.security import hash_password, hash_secret, new_secret, password_problem, verify_password
from server.services import sign_in

LINK_HOURS = 72
MAX_NAME = 200
MAX_COHORT = 64


@dataclass(frozen=True)
class NewUser:
    username: str
    name: str
    role: Role
    accredited: bool = False
    accredited_on: date | None = None
    supervisor: str | None = None
    cohort: str | None = None


def _check_username(username: str) -> str:
    username = (username or "").strip()
    if not 2 <= len(username) <= 64 or not all(ch.isalnum() or ch in "._-" for ch in username):
        raise Invalid("A username is 2-64 letters, digits, '.', '_' or '-'.")
    return username


def _check_text(value, field: str, limit: int, *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid(f"'{field}' is required.")
        return None
    if not isinstance(value, str):
        raise Invalid(f"'{field}' must be text.")
    if len(value.strip()) > limit:
        raise Invalid(f"'{field}' has at most {limit} characters.")
    return value.strip()


def check_new_password(password: str, user: User) -> None:
    if problem := password_problem(password, username=user.username, name=user.name):
        raise Unprocessable(problem, {"new_password": problem})


async def add_user(actor: User | None, new: NewUser, password: str | None = None,
                   settings: Settings | None = None) -> tuple[User, str | None]:
    """A new account; returns it and, unless a password was given (the command line), the secret of
    its one-time set-password link. `actor` None is the command line, which needs no permission."""
    if actor is not None:
        access.require_may_manage_accounts(actor)
    username = _check_username(new.username)
    if await User.exists(username=username):
        raise Conflict(f"A user named '{username}' already exists.")
    name = _check_text(new.name, "name", MAX_NAME) or username
    supervisor = None
    if new.supervisor:
        supervisor = await User.get_or_none(username=new.supervisor, role=Role.SUPERVISOR)
        if supervisor is None:
            raise Invalid(f"No supervisor named '{new.supervisor}'.")
    user = User(username=username, name=name, role=new.role, cohort=_check_text(new.cohort, "cohort", MAX_COHORT),
                accredited=bool(new.accredited or new.accredited_on),
                accredited_on=new.accredited_on or (date.today() if new.accredited else None))
    if password is not None:
        check_new_password(password, user)
    # Until its owner sets one, the account's password is a random one nobody knows.
    user.password_hash = await asyncio.to_thread(hash_password, password or secrets.token_urlsafe(32))
    async with in_transaction():
        await user.save()
        if supervisor is not None:
            await user.supervisors.add(supervisor)
        secret = None if password is not None else await _new_link(user, actor)
    return user, secret


async def all_users() -> list[User]:
    return await User.all().order_by("role", "username").prefetch_related("supervisors")


async def visible_users(actor: User) -> list[User]:
    access.require_may_view_accounts(actor)
    return await all_users()


async def account(actor: User, user_id: int) -> User:
    access.require_may_view_accounts(actor)
    user = await User.get_or_none(id=user_id).prefetch_related("supervisors") if access.possible_id(user_id) else None
    if user is None:
        raise NotFound("No such user.")
    return user


def _parse_date(value, field: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"'{field}' must be a date as YYYY-MM-DD.") from None


ADMIN_FIELDS = {"name", "role", "cohort"}
TRAINING_FIELDS = {"accredited", "accredited_on", "supervisors"}


async def update_user(actor: User, user: User, changes: dict) -> User:
    """Change an account. Admins change anything; course leads accreditation and supervision links."""
    unknown = set(changes) - ADMIN_FIELDS - TRAINING_FIELDS
    if unknown:
        raise Invalid(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
    if set(changes) & ADMIN_FIELDS:
        access.require_may_manage_accounts(actor)
    elif not access.may_manage_training_links(actor):
        raise Forbidden("Only a course lead or an admin changes accreditation and supervision.")
    if "role" in changes:
        try:
            role = Role(changes["role"])
        except ValueError:
            raise Invalid(f"'role' is one of {', '.join(r.value for r in Role)}.") from None
        if user.id == actor.id and role != user.role:
            raise Conflict("You cannot change your own role; ask another admin.")
        user.role = role
    if "name" in changes:
        user.name = _check_text(changes["name"], "name", MAX_NAME, required=True)
    if "cohort" in changes:
        user.cohort = _check_text(changes["cohort"], "cohort", MAX_COHORT)
    if "accredited" in changes:
        if not isinstance(changes["accredited"], bool):
            raise Invalid("'accredited' is true or false.")
        user.accredited = changes["accredited"]
    if "accredited_on" in changes:
        user.accredited_on = _parse_date(changes["accredited_on"], "accredited_on")
    supervisors = None
    if "supervisors" in changes:
        names = changes["supervisors"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise Invalid("'supervisors' is a list of supervisors' usernames.")
        supervisors = await User.filter(username__in=names, role=Role.SUPERVISOR)
        if missing := set(names) - {s.username for s in supervisors}:
            raise Invalid(f"Not supervisors: {', '.join(sorted(missing))}.")
        if supervisors and user.role != Role.TRAINEE:
            raise Invalid("Only a trainee has supervisors.")
    async with in_transaction():
        await user.save()
        if supervisors is not None:
            await user.supervisors.clear()
            if supervisors:
                await user.supervisors.add(*supervisors)
    return user


async def deactivate(actor: User | None, user: User) -> None:
    """A leaver: they can no longer sign in, and their sessions and tokens end at once; their ratings
    and history stay."""
    if actor is not None:
        access.require_may_manage_accounts(actor)
        if actor.id == user.id:
            raise Conflict("You cannot deactivate your own account; ask another admin.")
    async with in_transaction():
        await User.filter(id=user.id).update(is_active=False, deactivated_at=now())
        await sign_in.end_sessions(user, EndReason.DEACTIVATED)
        await sign_in.revoke_tokens(user)
    user.is_active = False


async def reactivate(actor: User, user: User) -> None:
    access.require_may_manage_accounts(actor)
    await User.filter(id=user.id).update(is_active=True, deactivated_at=None)
    user.is_active = True


async def supervise(supervisor_username: str, trainee_username: str) -> tuple[User, User]:
    """Let a supervisor read a trainee's cases."""
    supervisor = await User.get_or_none(username=supervisor_username, role=Role.SUPERVISOR)
    trainee = await User.get_or_none(username=trainee_username, role=Role.TRAINEE)
    if supervisor is None or trainee is None:
        raise Invalid("Name an existing supervisor and an existing trainee.")
    await trainee.supervisors.add(supervisor)
    return supervisor, trainee


# --- passwords -------------------------------------------------------------------------------------


async def _new_link(user: User, actor: User | None) -> str:
    """A one-time set-password link valid for 72 hours; earlier unused links of the user stop working."""
    await PasswordLink.filter(user=user, used_at__isnull=True).update(used_at=now())
    secret, secret_hash = new_secret()
    await PasswordLink.create(user=user, secret_hash=secret_hash, created_by=actor,
                              expires_at=now() + timedelta(hours=LINK_HOURS))
    return secret


async def password_link(actor: User | None, user: User) -> str:
    """A reset: the secret of a new one-time link (shown once to the admin)."""
    if actor is not None:
        access.require_may_manage_accounts(actor)
    if not user.is_active:
        raise Conflict("Reactivate the account first.")
    return await _new_link(user, actor)


async def link_owner(secret: str) -> tuple[PasswordLink, User]:
    link = await PasswordLink.filter(secret_hash=hash_secret(secret[:128]), used_at__isnull=True,
                                     expires_at__gt=now()).select_related("user").first()
    if link is None or not link.user.is_active:
        raise NotFound("This link has expired or was used already. Ask an admin for a new one.")
    audit_trail.note(user=link.user)
    return link, link.user


async def set_password_from_link(secret: str, new_password: str) -> User:
    link, user = await link_owner(secret)
    check_new_password(new_password, user)
    password_hash = await asyncio.to_thread(hash_password, new_password)
    async with in_transaction():
        if not await PasswordLink.filter(id=link.id, used_at__isnull=True).update(used_at=now()):
            raise NotFound("This link was used already.")
        await User.filter(id=user.id).update(password_hash=password_hash)
        await sign_in.end_sessions(user, EndReason.PASSWORD_CHANGED)
        await sign_in.revoke_tokens(user)
    return user


async def change_password(user: User, current: str, new_password: str) -> None:
    """The user's own change: the current password is required; every session and token ends."""
    if not isinstance(current, str) or not isinstance(new_password, str):
        raise Invalid("Send 'current_password' and 'new_password' as text.")
    if len(current) > sign_in.MAX_PASSWORD or not await asyncio.to_thread(verify_password, user.password_hash,
                                                                          current):
        raise Unprocessable("The current password is not right.", {"current_password": "Not right."})
    check_new_password(new_password, user)
    password_hash = await asyncio.to_thread(hash_password, new_password)
    async with in_transaction():
        await User.filter(id=user.id).update(password_hash=password_hash)
        await sign_in.end_sessions(user, EndReason.PASSWORD_CHANGED)
        await sign_in.revoke_tokens(user)
    user.password_hash = password_hash
