"""Accounts for admins (and, to read and for accreditation and supervision links, course leads)."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server import access
from server.errors import Invalid
from server.models import Role, User
from server.services import accounts, mfa
from server.web.deps import api_user, json_body, settings_of
from server.web.serialise import account_json, password_link_url


def _json(request: Request, user: User) -> dict:
    return account_json(user, accreditation_current=access.accreditation_is_current(user, settings_of(request)))


async def list_users(request: Request) -> JSONResponse:
    """
    summary: Every account (admins and course leads).
    responses:
      200: {description: "{users: [{id, username, name, role, active, cohort, supervisors, accredited_on, accreditation_current, last_sign_in_at, mfa}]}"}
    """
    people = await accounts.visible_users(api_user(request))
    return JSONResponse({"users": [_json(request, user) for user in people]})


async def create_user(request: Request) -> JSONResponse:
    """
    summary: Add an account (admins); the answer carries its one-time set-password link (72 hours), shown once.
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [username, name, role], properties: {username: {type: string}, name: {type: string}, role: {type: string, enum: [trainee, supervisor, course_lead, admin]}, cohort: {type: string}, supervisor: {type: string}, accredited_on: {type: string, format: date}}}
    responses:
      201: {description: "The account, with password_link."}
      409: {description: The username is taken.}
    """
    user = api_user(request)
    access.require_may_manage_accounts(user)
    body = await json_body(request)
    try:
        role = Role(body.get("role"))
    except ValueError:
        raise Invalid(f"'role' is one of {', '.join(r.value for r in Role)}.") from None
    accredited_on = body.get("accredited_on")
    try:
        accredited_on = date.fromisoformat(accredited_on) if isinstance(accredited_on, str) and accredited_on else None
    except ValueError:
        raise Invalid("'accredited_on' must be a date as YYYY-MM-DD.") from None
    new = accounts.NewUser(username=str(body.get("username", "")), name=str(body.get("name", "")), role=role,
                           cohort=body.get("cohort"), supervisor=body.get("supervisor"), accredited_on=accredited_on)
    created, secret = await accounts.add_user(user, new)
    created = await accounts.account(user, created.id)
    return JSONResponse({**_json(request, created), "password_link": password_link_url(request, secret)},
                        status_code=201)


async def get_user(request: Request) -> JSONResponse:
    """
    summary: One account (admins and course leads).
    responses:
      200: {description: The account.}
    """
    person = await accounts.account(api_user(request), request.path_params["user_id"])
    return JSONResponse(_json(request, person))


async def patch_user(request: Request) -> JSONResponse:
    """
    summary: Change an account. Admins change name, role and cohort; admins and course leads accreditation and supervisors.
    requestBody:
      content:
        application/json:
          schema: {type: object, properties: {name: {type: string}, role: {type: string}, cohort: {type: string}, accredited: {type: boolean}, accredited_on: {type: string, format: date}, supervisors: {type: array, items: {type: string}}}}
    responses:
      200: {description: The account.}
    """
    user = api_user(request)
    person = await accounts.account(user, request.path_params["user_id"])
    await accounts.update_user(user, person, await json_body(request))
    return JSONResponse(_json(request, await accounts.account(user, person.id)))


async def on_account(request: Request, action) -> JSONResponse:
    """`action(admin, user)` on the account in the path; answers with the account."""
    user = api_user(request)
    person = await accounts.account(user, request.path_params["user_id"])
    await action(user, person)
    return JSONResponse(_json(request, person))


async def deactivate(request: Request) -> JSONResponse:
    """
    summary: Deactivate an account (admins); its sessions and tokens end at once, its history stays.
    responses:
      200: {description: The account.}
    """
    return await on_account(request, accounts.deactivate)


async def reactivate(request: Request) -> JSONResponse:
    """
    summary: Reactivate an account (admins).
    responses:
      200: {description: The account.}
    """
    return await on_account(request, accounts.reactivate)


async def password_link(request: Request) -> JSONResponse:
    """
    summary: A one-time set-password link for the account (admins), valid 72 hours; earlier links stop working.
    responses:
      201: {description: "{password_link}"}
    """
    user = api_user(request)
    person = await accounts.account(user, request.path_params["user_id"])
    secret = await accounts.password_link(user, person)
    return JSONResponse({"password_link": password_link_url(request, secret)}, status_code=201)


async def reset_mfa(request: Request) -> JSONResponse:
    """
    summary: Turn off an account's multi-factor sign-in (admins), for a lost phone; they set it up again.
    responses:
      200: {description: The account.}
    """
    return await on_account(request, mfa.reset)


USER = "/users/{user_id:int}"

routes = [
    Route("/users", list_users, methods=["GET"], name="users"),
    Route("/users", create_user, methods=["POST"], name="user_create"),
    Route(USER, get_user, methods=["GET"], name="user"),
    Route(USER, patch_user, methods=["PATCH"], name="user_update"),
    Route(f"{USER}/deactivate", deactivate, methods=["POST"], name="user_deactivate"),
    Route(f"{USER}/reactivate", reactivate, methods=["POST"], name="user_reactivate"),
    Route(f"{USER}/password-link", password_link, methods=["POST"], name="user_password_link"),
    Route(f"{USER}/mfa-reset", reset_mfa, methods=["POST"], name="user_mfa_reset"),
]
