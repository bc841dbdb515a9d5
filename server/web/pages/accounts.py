"""Signing in and out of the pages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.services.accounts import authenticate
from server.web.deps import checked_form, redirect, render

HOME = "/cases"


async def home(request: Request) -> Response:
    return redirect(request, "cases" if request.user.is_authenticated else "login")


async def login_page(request: Request) -> Response:
    if request.user.is_authenticated:
        return redirect(request, "cases")
    return render(request, "login.html", next=request.query_params.get("next", ""))


def safe_next(target: str) -> str:
    """Only redirect within this site after log-in."""
    return target if target.startswith("/") and not target.startswith("//") else HOME


async def login(request: Request) -> Response:
    form = await checked_form(request)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    user = await authenticate(username, password)
    if user is None:
        return render(request, "login.html", status_code=401, error="Wrong username or password.", username=username)
    request.session.clear()
    request.session["user_id"] = user.id
    return RedirectResponse(safe_next(str(form.get("next", ""))), status_code=303)


async def logout(request: Request) -> Response:
    await checked_form(request)
    request.session.clear()
    return redirect(request, "login")


routes = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/login", login_page, methods=["GET"], name="login"),
    Route("/login", login, methods=["POST"], name="login_submit"),
    Route("/logout", logout, methods=["POST"], name="logout"),
]
