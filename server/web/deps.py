"""What every handler needs from a request: the signed-in user, the settings, the scale, the body.

API callers authenticate with a bearer token or the page's cookie session; a cookie-authenticated
write must also carry the CSRF token (header for the API, form field for pages).
"""

from __future__ import annotations

import csv
import io
import json

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response

from rating.scale import Scale
from server import access
from server.config import Settings
from server.errors import Forbidden, Invalid, TooLarge
from server.models import User
from server.security import csrf_matches, csrf_token
from server.services.sign_in import require_mfa_enrolled

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def bearer_of(conn: HTTPConnection) -> str | None:
    """The credentials of an `Authorization: Bearer <credentials>` header; None without one."""
    scheme, _, credentials = conn.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def scale_of(request: Request) -> Scale:
    return request.app.state.scale


def api_user(request: Request, *, enrolling: bool = False) -> User:
    """The caller, or 401. Cookie-authenticated writes must also carry the CSRF token header. A user
    whose role needs a second factor and who has none yet may only set one up (`enrolling`)."""
    if not request.user.is_authenticated:
        raise HTTPException(401, "Log in first: POST /api/token, then send 'Authorization: Bearer <token>'.")
    if (
        "session" in request.auth.scopes
        and request.method not in SAFE_METHODS
        and not csrf_matches(request.session, request.headers.get("x-csrf-token"))
    ):
        raise Forbidden("Missing or wrong X-CSRF-Token header for a cookie-authenticated request.")
    if not enrolling:
        require_mfa_enrolled(request.user, settings_of(request))
    return request.user


def page_user(request: Request, *, enrolling: bool = False) -> User:
    if not request.user.is_authenticated:
        raise HTTPException(401, "Please log in.")
    if not enrolling:
        require_mfa_enrolled(request.user, settings_of(request))
    return request.user


async def capped_body(request: Request, limit: int) -> None:
    """Read the body, refusing one over `limit` bytes before it is all read: sign-in routes take no
    more than a few fields. What was read is what `request.form()` and `json_body` then parse."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"The request is larger than {limit} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"The request is larger than {limit} bytes.")
    request._body = bytes(body)  # Starlette's own cache of the body, which form() and body() read


NUL_REFUSED = "Text may not contain NUL characters."


def refuse_nul(value) -> None:
    """PostgreSQL stores no NUL character in text (SQLite does): refused at the door, on every database,
    rather than a 500 from the one that cannot store it."""
    if isinstance(value, str):
        if "\x00" in value:
            raise Invalid(NUL_REFUSED)
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key)
            refuse_nul(item)
    elif isinstance(value, list):
        for item in value:
            refuse_nul(item)


def refuse_nul_in_form(form: FormData) -> None:
    """`refuse_nul` for every text field of a form, repeated ones included (files are not text)."""
    refuse_nul([value for _, value in form.multi_items() if isinstance(value, str)])


async def json_body(request: Request) -> dict:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        refuse_nul_in_form(form)
        return dict(form)
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Invalid("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.")
    refuse_nul(body)
    return body


def check_csrf(request: Request, fields) -> None:
    if not csrf_matches(request.session, fields.get("csrf_token")):
        raise Forbidden("This form has expired or did not come from this site. Reload the page and try again.")


async def checked_form(request: Request) -> FormData:
    form = await request.form()
    check_csrf(request, form)
    refuse_nul_in_form(form)
    return form


def render(request: Request, template: str, status_code: int = 200, headers: dict | None = None,
           **context) -> Response:
    templates = request.app.state.templates
    user = request.user if request.user.is_authenticated else None
    context.setdefault("user", user)
    context.setdefault("is_lead", user is not None and access.sees_everything(user))
    context.setdefault("nav_counts", request.scope.get("nav_counts") or {})
    context["csrf_token"] = csrf_token(request.session)
    return templates.TemplateResponse(request, template, context, status_code=status_code, headers=headers)


def redirect(request: Request, name: str, *, query: str = "", fragment: str = "", **params) -> RedirectResponse:
    """303 See Other to a named page, as after every form."""
    url = request.app.url_path_for(name, **params)
    return RedirectResponse(f"{url}{'?' + query if query else ''}{'#' + fragment if fragment else ''}",
                            status_code=303)


def csv_response(columns, rows, filename: str) -> Response:
    """A table as a CSV download; None becomes an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
