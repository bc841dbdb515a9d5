"""The Starlette application: routes, middleware, error pages, and the lifespan that opens the
database and starts the in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

import web
from rating.scale import load_scale
from server import audit_trail
from server.config import Settings
from server.db import close_database, open_database
from server.errors import DomainError, MfaEnrolmentRequired
from server.jobs import run_worker
from server.services.demo import create_demo_accounts, format_demo_notice
from server.services.encryption import check_keyring
from server.services.reminders import keep_reminding
from server.services.storage_sweep import keep_swept
from server.services.suggestions import SuggestionModel
from server.storage import storage_for
from server.web.auth import SessionCookie, TokenOrSessionBackend, on_auth_error
from server.web.deps import render
from server.web.headers import SecurityHeaders
from server.web.metrics import RequestMetrics
from server.web.refusals import RefuseNulInQuery
from server.web.routes import routes
from server.web.trail import AuditTrail
from transcription.formats import clock

log = logging.getLogger("dit")


async def error_response(request: Request, exc: HTTPException | DomainError) -> Response:
    """One answer for every refusal: `{"error": …}` (with per-field `errors`) from the API, an error
    page (or the log-in page, for a signed-out reader) from the pages. The audit trail records the error
    itself (a 401), whatever the answer (a redirect)."""
    audit_trail.note_error(exc.status_code)
    if request.url.path.startswith("/api/"):
        body = {"error": exc.detail}
        if errors := getattr(exc, "errors", None):
            body["errors"] = errors
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))
    if exc.status_code == 401 and request.method == "GET":
        login = request.app.url_path_for("login")
        return RedirectResponse(f"{login}?next={quote(request.url.path)}", status_code=303)
    if isinstance(exc, MfaEnrolmentRequired) and request.method == "GET":
        return RedirectResponse(request.app.url_path_for("mfa"), status_code=303)
    return render(request, "error.html", status_code=exc.status_code, message=exc.detail,
                  headers=getattr(exc, "headers", None))


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the on-model classifier could not be loaded", exc_info=task.exception())


def _log_worker_end(task: asyncio.Task) -> None:
    # The worker loop survives database and storage errors; should it still end, it must not be silently.
    if not task.cancelled() and task.exception() is not None:
        log.error("the in-process transcription worker stopped", exc_info=task.exception())


def create_app(settings: Settings | None = None) -> Starlette:
    settings = (settings or Settings.from_env()).prepare()
    # A key file that cannot be used stops the service before it accepts an upload it could not seal.
    check_keyring(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await open_database(settings)
        if settings.demo_accounts:
            if await create_demo_accounts(settings):
                print(format_demo_notice(settings, f"http://{settings.host}:{settings.port}/"), flush=True)
        if settings.warm_classifier:
            # Loading (on a new installation, training) the classifier takes seconds of CPU: done now,
            # in the background, rather than on the first supervisor who opens a rating page.
            warm_up = asyncio.create_task(app.state.suggestion_model.get())
            warm_up.add_done_callback(_log_failure)
        stop = asyncio.Event()
        # Half-written uploads and scratch directories of a crash, swept now and every ten minutes.
        sweeper = asyncio.create_task(keep_swept(settings, stop))
        # Deadlines approaching, and emails to try again, every hour.
        reminder = asyncio.create_task(keep_reminding(settings, stop))
        worker_task = None
        if settings.in_process_worker:
            worker_task = asyncio.create_task(run_worker(settings, stop, beside_web=True))
            worker_task.add_done_callback(_log_worker_end)
        try:
            yield
        finally:
            stop.set()
            for task in (sweeper, reminder):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if worker_task is not None:
                worker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker_task
            await close_database()

    every_route = routes()
    app = Starlette(
        routes=every_route,
        middleware=[
            # Outermost, so that a request's time includes every middleware's work.
            Middleware(RequestMetrics),
            # With S3 storage, the player is redirected to presigned addresses: its origin must be allowed.
            Middleware(SecurityHeaders, media_origin=storage_for(settings).media_origin()),
            Middleware(RefuseNulInQuery),
            # Outside the sign-in check, so that a refused token is on the trail too.
            Middleware(AuditTrail, routes=every_route),
            Middleware(
                SessionCookie,
                always_secure=settings.secure_cookies,
                secret_key=settings.secret_key,
                session_cookie="dit_session",
                same_site="lax",
                max_age=settings.session_hours * 3600,
            ),
            Middleware(AuthenticationMiddleware, backend=TokenOrSessionBackend(), on_error=on_auth_error),
        ],
        exception_handlers={HTTPException: error_response, DomainError: error_response},
        lifespan=lifespan,
    )
    templates = Jinja2Templates(directory=str(web.TEMPLATES))
    templates.env.filters["duration"] = lambda seconds: "" if seconds is None else clock(seconds)
    # Links in templates are built from the routes' names, as redirects are.
    templates.env.globals["url"] = app.url_path_for
    app.state.settings = settings
    app.state.scale = load_scale(settings.scale_file)
    app.state.suggestion_model = SuggestionModel(settings)
    app.state.templates = templates
    return app
