"""Account management pages: the list of users for admins and course leads, adding a user, editing
one, deactivating and reactivating, and one-time set-password links."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import access
from server.errors import DomainError
from server.models import Role, User
from server.services import accounts, mfa
from server.web.deps import checked_form, page_user, redirect, render, settings_of
from server.web.serialise import password_link_url


async def users_page(request: Request, error: str | None = None, status_code: int = 200, **extra) -> Response:
    user = page_user(request)
    people = await accounts.visible_users(user)
    settings = settings_of(request)
    return render(request, "users.html", status_code=status_code, error=error, people=people, roles=list(Role),
                  can_manage=access.may_manage_accounts(user),
                  current={p.id: access.accreditation_is_current(p, settings) for p in people}, **extra)


async def add_user_form(request: Request) -> Response:
    user = page_user(request)
    form = await checked_form(request)
    access.require_may_manage_accounts(user)
    try:
        role = Role(str(form.get("role", "")))
    except ValueError:
        return await users_page(request, error="Choose the new user's role.", status_code=400)
    new = accounts.NewUser(username=str(form.get("username", "")), name=str(form.get("name", "")), role=role,
                           cohort=str(form.get("cohort", "")) or None)
    try:
        created, secret = await accounts.add_user(user, new)
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        return await users_page(request, error=exc.detail, status_code=exc.status_code)
    return render(request, "user_link.html", person=created, link=password_link_url(request, secret), new=True)


async def user_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    user = page_user(request)
    person = await accounts.account(user, request.path_params["user_id"])
    supervisors = await User.filter(role=Role.SUPERVISOR, is_active=True).order_by("name")
    return render(request, "user.html", status_code=status_code, error=error, person=person, roles=list(Role),
                  supervisors=supervisors, chosen={s.id for s in person.supervisors},
                  can_manage=access.may_manage_accounts(user),
                  accreditation_current=access.accreditation_is_current(person, settings_of(request)))


async def user_form(request: Request) -> Response:
    user = page_user(request)
    person = await accounts.account(user, request.path_params["user_id"])
    form = await checked_form(request)
    changes = {"accredited": form.get("accredited") == "on",
               "accredited_on": str(form.get("accredited_on", "")) or None}
    if person.role == Role.TRAINEE:
        changes["supervisors"] = [str(name) for name in form.getlist("supervisors")]
    if access.may_manage_accounts(user):
        changes.update(name=str(form.get("name", "")), role=str(form.get("role", "")),
                       cohort=str(form.get("cohort", "")))
    try:
        await accounts.update_user(user, person, changes)
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        return await user_page(request, error=exc.detail, status_code=exc.status_code)
    return redirect(request, "user", user_id=person.id)


async def account_action(request: Request, action, shown=None) -> Response:
    """A button on a user's page: `action(admin, user)`; a refusal is shown on the page. Then back to the
    user's page, or `shown(user, result)` when the action has something to show once."""
    user = page_user(request)
    person = await accounts.account(user, request.path_params["user_id"])
    await checked_form(request)
    try:
        result = await action(user, person)
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        return await user_page(request, error=exc.detail, status_code=exc.status_code)
    return shown(person, result) if shown else redirect(request, "user", user_id=person.id)


async def deactivate_form(request: Request) -> Response:
    return await account_action(request, accounts.deactivate)


async def reactivate_form(request: Request) -> Response:
    return await account_action(request, accounts.reactivate)


async def mfa_reset_form(request: Request) -> Response:
    return await account_action(request, mfa.reset)


async def link_form(request: Request) -> Response:
    return await account_action(request, accounts.password_link, lambda person, secret: render(
        request, "user_link.html", person=person, link=password_link_url(request, secret), new=False))


USER = "/users/{user_id:int}"

routes = [
    Route("/users", users_page, methods=["GET"], name="users"),
    Route("/users", add_user_form, methods=["POST"], name="user_create"),
    Route(USER, user_page, methods=["GET"], name="user"),
    Route(USER, user_form, methods=["POST"], name="user_update"),
    Route(f"{USER}/deactivate", deactivate_form, methods=["POST"], name="user_deactivate"),
    Route(f"{USER}/reactivate", reactivate_form, methods=["POST"], name="user_reactivate"),
    Route(f"{USER}/password-link", link_form, methods=["POST"], name="user_password_link"),
    Route(f"{USER}/mfa-reset", mfa_reset_form, methods=["POST"], name="user_mfa_reset"),
]
