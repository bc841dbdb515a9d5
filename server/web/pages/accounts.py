"""Signing in and out of the pages (with the second factor), setting a password from a one-time link,
and each user's own account page: password, sessions and tokens, multi-factor sign-in."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server import access
from server.errors import DomainError
from server.models import EndReason, Role, User
from server.services import accounts, mfa, notifications, sign_in
from server.web.auth import SESSION_KEY, client_of
from server.web.deps import capped_body, checked_form, page_user, redirect, render, settings_of

HOME = "/"
SIGN_IN_BODY_LIMIT = 16 * 1024
# How long the password step is good for while the user fetches their second factor.
PENDING_SECONDS = 300


async def home(request: Request) -> Response:
    """Each person's first page: a course lead's work list, a supervisor's rating queue, a trainee's cases."""
    if not request.user.is_authenticated:
        return redirect(request, "login")
    user = page_user(request)
    if access.sees_everything(user):
        return redirect(request, "worklist")
    return redirect(request, "queue" if user.role == Role.SUPERVISOR else "cases")


async def login_page(request: Request) -> Response:
    if request.user.is_authenticated:
        return redirect(request, "home")
    return render(request, "login.html", next=request.query_params.get("next", "")[:2000])


def safe_next(target: str) -> str:
    """Only redirect within this site after log-in."""
    return target if target.startswith("/") and not target.startswith("//") else HOME


async def begin_session(request: Request, user: User, target: str) -> Response:
    """A new server-side session (a new key: the one before sign-in is never reused)."""
    key = await sign_in.start_session(user, settings_of(request), client_of(request))
    await sign_in.signed_in(user, client_of(request))
    request.session.clear()
    request.session[SESSION_KEY] = key
    return RedirectResponse(safe_next(target), status_code=303)


async def sign_in_form(request: Request):
    await capped_body(request, SIGN_IN_BODY_LIMIT)
    return await checked_form(request)


async def login(request: Request) -> Response:
    form = await sign_in_form(request)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    target = str(form.get("next", ""))[:2000]
    try:
        user = await sign_in.check_password(username, password, client_of(request))
    except DomainError as exc:  # wrong, malformed or throttled: said on the form
        return render(request, "login.html", status_code=exc.status_code, error=exc.detail,
                      username=username[:64], next=target, headers=getattr(exc, "headers", None))
    if sign_in.mfa_enabled(user):
        request.session.clear()
        request.session.update(pending_user=user.id, pending_at=int(time.time()), pending_next=target)
        return render(request, "login_code.html")
    return await begin_session(request, user, target)


async def login_code(request: Request) -> Response:
    """The second step: a code from the authenticator app, or a recovery code."""
    form = await sign_in_form(request)
    pending, started = request.session.get("pending_user"), request.session.get("pending_at", 0)
    user = await User.get_or_none(id=pending, is_active=True) if isinstance(pending, int) else None
    if user is None or time.time() - started > PENDING_SECONDS:
        request.session.clear()
        return render(request, "login.html", status_code=401, error="Sign in again: that took too long.")
    try:
        await sign_in.check_second_factor(user, str(form.get("code", "")), client_of(request))
    except DomainError as exc:
        return render(request, "login_code.html", status_code=exc.status_code, error=exc.detail,
                      headers=getattr(exc, "headers", None))
    return await begin_session(request, user, str(request.session.get("pending_next", "")))


async def logout(request: Request) -> Response:
    await checked_form(request)
    if session := request.scope.get("user_session"):
        await sign_in.end_session(session.id, EndReason.SIGNED_OUT)
    request.session.clear()
    return redirect(request, "login")


# --- setting a password from a link --------------------------------------------------------------


async def password_link_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    _, user = await accounts.link_owner(request.path_params["secret"])
    return render(request, "set_password.html", status_code=status_code, owner=user, error=error)


async def password_link_form(request: Request) -> Response:
    form = await sign_in_form(request)
    new, again = str(form.get("new_password", "")), str(form.get("again", ""))
    if new != again:
        return await password_link_page(request, error="The two passwords differ.", status_code=400)
    try:
        await accounts.set_password_from_link(request.path_params["secret"], new)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return await password_link_page(request, error=exc.detail, status_code=exc.status_code)
    request.session.clear()
    return redirect(request, "login", query="password=set")


# --- the account page ------------------------------------------------------------------------------


async def account_page(request: Request, error: str | None = None, notice: str | None = None,
                       status_code: int = 200, **extra) -> Response:
    user = page_user(request, enrolling=True)
    settings = settings_of(request)
    current = request.scope.get("user_session")
    return render(request, "account.html", status_code=status_code, error=error, notice=notice,
                  sessions=await sign_in.live_sessions(user, settings), tokens=await sign_in.live_tokens(user),
                  current_session=current.id if current else None, mfa_on=sign_in.mfa_enabled(user),
                  mfa_required=sign_in.mfa_required(user, settings), email_kinds=notifications.WORDING,
                  mail_on=bool(settings.smtp_url), **extra)


async def password_form(request: Request) -> Response:
    user = page_user(request, enrolling=True)
    form = await checked_form(request)
    try:
        await accounts.change_password(user, str(form.get("current_password", "")),
                                       str(form.get("new_password", "")))
    except DomainError as exc:
        return await account_page(request, error=exc.detail, status_code=exc.status_code)
    # Every session ended with the change, this one too: it goes on under a new key.
    return await begin_session(request, user, request.app.url_path_for("account") + "?changed=1")


async def revoke_session_form(request: Request) -> Response:
    user = page_user(request, enrolling=True)
    await checked_form(request)
    await sign_in.end_own_session(user, request.path_params["session_id"])
    return redirect(request, "account")


async def revoke_token_form(request: Request) -> Response:
    user = page_user(request, enrolling=True)
    await checked_form(request)
    await sign_in.revoke_own_token(user, request.path_params["token_id"])
    return redirect(request, "account")


async def mfa_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    user = page_user(request, enrolling=True)
    if sign_in.mfa_enabled(user):
        return redirect(request, "account")
    return render(request, "mfa.html", status_code=status_code, error=error, enrolment=await mfa.begin(user),
                  required=sign_in.mfa_required(user, settings_of(request)))


async def mfa_form(request: Request) -> Response:
    user = page_user(request, enrolling=True)
    form = await checked_form(request)
    try:
        codes = await mfa.confirm(user, str(form.get("code", "")))
    except DomainError as exc:
        return await mfa_page(request, error=exc.detail, status_code=exc.status_code)
    return render(request, "mfa_codes.html", codes=codes)


async def mfa_off_form(request: Request) -> Response:
    user = page_user(request, enrolling=True)
    await checked_form(request)
    if sign_in.mfa_required(user, settings_of(request)):
        return await account_page(request, error="Your role signs in with a second factor, so it stays on. "
                                                 "An admin can reset it if you lose your phone.", status_code=409)
    await mfa.reset(user, user)
    return redirect(request, "account")


routes = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/login", login_page, methods=["GET"], name="login"),
    Route("/login", login, methods=["POST"], name="login_submit"),
    Route("/login/code", login_code, methods=["POST"], name="login_code"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/password/{secret}", password_link_page, methods=["GET"], name="password_link"),
    Route("/password/{secret}", password_link_form, methods=["POST"], name="password_link_submit"),
    Route("/account", account_page, methods=["GET"], name="account"),
    Route("/account/password", password_form, methods=["POST"], name="account_password"),
    Route("/account/sessions/{session_id:int}/revoke", revoke_session_form, methods=["POST"], name="session_revoke"),
    Route("/account/tokens/{token_id:int}/revoke", revoke_token_form, methods=["POST"], name="token_revoke"),
    Route("/account/mfa", mfa_page, methods=["GET"], name="mfa"),
    Route("/account/mfa", mfa_form, methods=["POST"], name="mfa_confirm"),
    Route("/account/mfa/off", mfa_off_form, methods=["POST"], name="mfa_off"),
]
