"""Every route of the service, grouped by feature and named: `url_path_for("recording", recording_id=…)`
builds a page's URL and `url_path_for("api:recording", …)` the API's (templates call it `url`)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

import web
from server.web import health
from server.web.api import accounts as api_accounts
from server.web.api import audit as api_audit
from server.web.api import cases as api_cases
from server.web.api import notifications as api_notifications
from server.web.api import progress as api_progress
from server.web.api import ratings as api_ratings
from server.web.api import recordings as api_recordings
from server.web.api import suggestions as api_suggestions
from server.web.api import trail as api_trail
from server.web.api import users as api_users
from server.web.api import worklist as api_worklist
from server.web.api.openapi import openapi
from server.web.pages import (
    accounts,
    audit,
    cases,
    classifier,
    notifications,
    progress,
    rating,
    recordings,
    trail,
    users,
    worklist,
)


def routes() -> list[BaseRoute]:
    api = [
        *api_accounts.routes, *api_cases.routes, *api_recordings.routes, *api_ratings.routes,
        *api_suggestions.routes, *api_progress.routes, *api_audit.routes, *api_users.routes, *api_trail.routes,
        *api_worklist.routes, *api_notifications.routes,
        Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False, name="openapi"),
    ]
    pages = [
        *accounts.routes, *users.routes, *cases.routes, *recordings.routes, *rating.routes, *progress.routes,
        *audit.routes, *trail.routes, *worklist.routes, *notifications.routes, *classifier.routes,
    ]
    return [
        Mount("/api", routes=api, name="api"),
        *pages,
        *health.routes,
        Mount("/static", StaticFiles(directory=str(web.STATIC)), name="static"),
    ]
