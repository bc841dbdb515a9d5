"""One's own notifications, and which of them come by email."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.errors import Invalid
from server.services import notifications
from server.web.deps import api_user, json_body


async def get_notifications(request: Request) -> JSONResponse:
    """
    summary: The caller's notifications, newest first, and how many are unread.
    responses:
      200: {description: "{unread, notifications: [{id, kind, title, text, at, read, link}]}"}
    """
    return JSONResponse(await notifications.listing(api_user(request)))


async def post_read(request: Request) -> JSONResponse:
    """
    summary: Mark one of the caller's notifications read.
    responses:
      200: {description: "{unread}"}
      404: {description: Not one of the caller's.}
    """
    user = api_user(request)
    await notifications.mark_read(user, request.path_params["notification_id"])
    return JSONResponse({"unread": await notifications.unread_count(user)})


async def post_all_read(request: Request) -> JSONResponse:
    """
    summary: Mark all of the caller's notifications read.
    responses:
      200: {description: "{unread: 0}"}
    """
    user = api_user(request)
    await notifications.mark_read(user)
    return JSONResponse({"unread": 0})


async def put_email(request: Request) -> JSONResponse:
    """
    summary: The caller's email address for notifications, and the kinds they do not want by email.
    requestBody:
      content:
        application/json:
          schema: {type: object, properties: {email: {type: string, nullable: true}, opt_out: {type: array, items: {type: string, enum: [assigned, reopened, adjudication_needed, released, deadline, transcription_failed]}}}}
    responses:
      200: {description: "{email, opt_out}"}
      400: {description: Not an email address, or an unknown kind.}
    """
    body = await json_body(request)
    opt_out = body.get("opt_out", [])
    if not isinstance(opt_out, list) or not all(isinstance(k, str) for k in opt_out):
        raise Invalid("'opt_out' is a list of kinds of notification.")
    email = body.get("email")
    if email is not None and not isinstance(email, str):
        raise Invalid("'email' is an email address, or null.")
    user = await notifications.set_email_choices(api_user(request), email, opt_out)
    return JSONResponse({"email": user.email, "opt_out": user.email_opt_out})


routes = [
    Route("/notifications", get_notifications, methods=["GET"], name="notifications"),
    Route("/notifications/read", post_all_read, methods=["POST"], name="notifications_read"),
    Route("/notifications/{notification_id:int}/read", post_read, methods=["POST"], name="notification_read"),
    Route("/me/email", put_email, methods=["PUT"], name="email"),
]
