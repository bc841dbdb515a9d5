"""The notifications page, opening a notification, and the choice of emails on the account page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.errors import DomainError
from server.models import Notification, NotificationKind
from server.services import notifications
from server.web.deps import checked_form, page_user, redirect, render
from server.web.pages.accounts import account_page


async def notifications_page(request: Request) -> Response:
    return render(request, "notifications.html", listing=await notifications.listing(page_user(request), limit=200))


async def open_notification(request: Request) -> Response:
    """Marks it read and goes where it points."""
    user = page_user(request)
    await notifications.mark_read(user, request.path_params["notification_id"])
    link = (await Notification.get(id=request.path_params["notification_id"])).link
    return RedirectResponse(link, status_code=303)


async def all_read_form(request: Request) -> Response:
    user = page_user(request)
    await checked_form(request)
    await notifications.mark_read(user)
    return redirect(request, "notifications")


async def email_form(request: Request) -> Response:
    user = page_user(request)
    form = await checked_form(request)
    wanted = set(form.getlist("email_kind"))
    try:
        await notifications.set_email_choices(user, str(form.get("email", "")),
                                              [k.value for k in NotificationKind if k.value not in wanted])
    except DomainError as exc:
        return await account_page(request, error=exc.detail, status_code=exc.status_code)
    return redirect(request, "account", query="email=saved")


routes = [
    Route("/notifications", notifications_page, methods=["GET"], name="notifications"),
    Route("/notifications/read", all_read_form, methods=["POST"], name="notifications_read"),
    Route("/notifications/{notification_id:int}", open_notification, methods=["GET"], name="notification_read"),
    Route("/account/email", email_form, methods=["POST"], name="email"),
]
