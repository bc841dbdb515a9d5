"""`dit users`: accounts from the command line (the first admin, a lost phone, a forgotten password).

What a command reads or changes is on the audit trail as the web's requests are, attributed to the
operating-system account that ran it (`cli:<name>`)."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import date

from server.cli.service import with_database
from server.models import AuditAction, AuditObject, Role


async def _audited(action: AuditAction, command: str, user=None) -> None:
    from server.audit_trail import record_now

    await record_now(action, AuditObject.ACCOUNT, object_id=user.id if user else None,
                     username=f"cli:{getpass.getuser()}"[:64], route=f"dit users {command}")


def cmd_users_add(args: argparse.Namespace) -> int:
    from server.services.accounts import NewUser, add_user

    role = Role(args.role)
    new = NewUser(username=args.name, name=args.full_name or args.name, role=role, accredited=args.accredited,
                  accredited_on=date.fromisoformat(args.accredited_on) if args.accredited_on else None,
                  supervisor=args.supervisor, cohort=args.cohort)
    password = None if args.link else _read_password(args)

    async def add() -> int:
        user, secret = await add_user(None, new, password)
        await _audited(AuditAction.CREATE, "add", user)
        print(f"Added {role.label.lower()} '{user.username}'.")
        if secret:
            print(_link_notice(secret))
        return 0

    return with_database(add)


def _read_password(args: argparse.Namespace) -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            raise SystemExit("The passwords differ.")
    else:
        password = sys.stdin.readline().rstrip("\n")
    return password


def _link_notice(secret: str) -> str:
    return (f"One-time set-password link (valid 72 hours), on this service's address: /password/{secret}")


def _on_user(username: str, action) -> int:
    """Run `action(user)` on the account named `username` (a coroutine function)."""
    from server.models import User

    async def run() -> int:
        user = await User.get_or_none(username=username)
        if user is None:
            print(f"No user named '{username}'.", file=sys.stderr)
            return 1
        return await action(user)

    return with_database(run)


def cmd_users_deactivate(args: argparse.Namespace) -> int:
    from server.services.accounts import deactivate

    async def action(user) -> int:
        await deactivate(None, user)
        await _audited(AuditAction.UPDATE, "deactivate", user)
        print(f"Deactivated '{user.username}': their sessions and tokens have ended.")
        return 0

    return _on_user(args.username, action)


def cmd_users_reset_link(args: argparse.Namespace) -> int:
    from server.services.accounts import password_link

    async def action(user) -> int:
        secret = await password_link(None, user)
        await _audited(AuditAction.UPDATE, "reset-link", user)
        print(_link_notice(secret))
        return 0

    return _on_user(args.username, action)


def cmd_users_mfa_reset(args: argparse.Namespace) -> int:
    from server.services.mfa import reset

    async def action(user) -> int:
        await reset(None, user)
        await _audited(AuditAction.MFA, "mfa-reset", user)
        print(f"Multi-factor sign-in is off for '{user.username}'; they set it up again at their next sign-in.")
        return 0

    return _on_user(args.username, action)


def cmd_users_list(args: argparse.Namespace) -> int:
    from server.services.accounts import all_users

    async def listing() -> int:
        await _audited(AuditAction.VIEW, "list")
        for user in await all_users():
            supervisors = ", ".join(s.username for s in user.supervisors)
            extra = f" supervised by {supervisors}" if supervisors else ""
            accredited = f" accredited {user.accredited_on}" if user.accredited else ""
            cohort = f" cohort {user.cohort}" if user.cohort else ""
            print(f"{user.role.value:12} {user.username:16} {user.name}{accredited}{cohort}{extra}")
        return 0

    return with_database(listing)


def cmd_users_supervise(args: argparse.Namespace) -> int:
    from server.services.accounts import supervise

    async def link() -> int:
        supervisor, trainee = await supervise(args.supervisor, args.trainee)
        await _audited(AuditAction.UPDATE, "supervise", trainee)
        print(f"{supervisor.username} now supervises {trainee.username}.")
        return 0

    return with_database(link)


def add_commands(commands) -> None:
    users = commands.add_parser("users", help="manage accounts").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="add an account; the password is prompted for, read from stdin, or set by the user through a link (--link)")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument("--name", required=True, help="the log-in name")
    add.add_argument("--full-name", help="the name shown on pages (default: the log-in name)")
    add.add_argument("--accredited", action="store_true", help="a supervisor accredited to rate DIT tapes")
    add.add_argument("--accredited-on", help="accreditation date, YYYY-MM-DD")
    add.add_argument("--supervisor", help="for a trainee: the supervisor's log-in name")
    add.add_argument("--cohort", help="for a trainee: their training cohort, e.g. '2026 spring'")
    add.add_argument("--link", action="store_true",
                     help="no password: print a one-time link for the user to set their own")
    add.set_defaults(func=cmd_users_add)
    users.add_parser("list", help="list accounts").set_defaults(func=cmd_users_list)
    for name, func, text in (
        ("deactivate", cmd_users_deactivate, "deactivate an account; its sessions and tokens end at once"),
        ("reset-link", cmd_users_reset_link, "print a one-time set-password link for an account"),
        ("mfa-reset", cmd_users_mfa_reset, "turn off an account's multi-factor sign-in (a lost phone)"),
    ):
        command = users.add_parser(name, help=text)
        command.add_argument("username")
        command.set_defaults(func=func)
    supervise = users.add_parser("supervise", help="let a supervisor see a trainee's cases")
    supervise.add_argument("supervisor")
    supervise.add_argument("trainee")
    supervise.set_defaults(func=cmd_users_supervise)
