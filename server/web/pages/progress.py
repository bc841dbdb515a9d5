"""A trainee's progress towards accreditation, with the supervision log and training dates forms."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import access
from server.errors import DomainError
from server.models import SupervisionLog
from server.services import progress
from server.web.deps import checked_form, page_user, redirect, render, settings_of


async def progress_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    user = page_user(request)
    trainee = await access.readable_trainee(user, request.path_params["trainee_id"])
    logs = await SupervisionLog.filter(trainee=trainee).order_by("-held_on").select_related("supervisor",
                                                                                           "confirmed_by")
    return render(
        request, "progress.html", status_code=status_code, trainee=trainee, error=error, logs=logs,
        progress=await progress.trainee_progress(trainee, settings_of(request)),
        can_log=access.may_log_supervision(user, trainee), can_record=access.may_record_training(user),
        can_confirm=await access.may_confirm_supervision(user, trainee),
        today=date.today().isoformat(),
    )


async def progress_form(request: Request, action) -> Response:
    user = page_user(request)
    trainee = await access.readable_trainee(user, request.path_params["trainee_id"])
    form = await checked_form(request)
    try:
        await action(user, trainee, dict(form))
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return await progress_page(request, error=exc.detail, status_code=exc.status_code)
    return redirect(request, "progress", trainee_id=trainee.id)


async def supervision_form(request: Request) -> Response:
    return await progress_form(request, progress.log_supervision)


async def confirm_form(request: Request) -> Response:
    entry_id = request.path_params["entry_id"]
    return await progress_form(request, lambda user, trainee, form: progress.confirm_supervision(user, trainee, entry_id))


async def training_record_form(request: Request) -> Response:
    return await progress_form(request, progress.save_training_record)


TRAINEE = "/trainees/{trainee_id:int}"

routes = [
    Route(f"{TRAINEE}/progress", progress_page, methods=["GET"], name="progress"),
    Route(f"{TRAINEE}/supervision", supervision_form, methods=["POST"], name="supervision"),
    Route(f"{TRAINEE}/supervision/{{entry_id:int}}/confirm", confirm_form, methods=["POST"], name="supervision_confirm"),
    Route(f"{TRAINEE}/training-record", training_record_form, methods=["POST"], name="training_record"),
]
