"""The audit trail: every access to clinical data and every change, for admins; one recording's rows for
its trainee and course leads."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.services import audit_log
from server.web.deps import api_user


async def get_audit_events(request: Request) -> JSONResponse:
    """
    summary: Audit events, newest first (at most 500; narrow the filters for older ones).
    description: Admins read every row; a recording's trainee and course leads read that recording's (`recording` is then required).
    parameters:
      - {name: recording, in: query, schema: {type: integer}}
      - {name: case, in: query, schema: {type: integer}}
      - {name: user, in: query, schema: {type: string}, description: A username.}
      - {name: action, in: query, schema: {type: string, enum: [view, play, download, export, create, update, delete, sign_in, sign_out, mfa]}}
      - {name: from, in: query, schema: {type: string, format: date}, description: Events on or after this day (UTC).}
      - {name: to, in: query, schema: {type: string, format: date}, description: Events on or before this day (UTC).}
    responses:
      200: {description: "{events: [{at, user, role, action, object, object_id, case, recording, outcome, status, address, user_agent}]}"}
      400: {description: A filter that is not an id, a date or an action.}
      403: {description: Not an admin, and no recording of one's own (or, for a course lead, any) named.}
    """
    user = api_user(request)
    filters = audit_log.parse_filters(request.query_params)
    await audit_log.require_may_read(user, filters)
    return JSONResponse({"events": [audit_log.row(event) for event in await audit_log.events(filters)]})


routes = [Route("/audit-events", get_audit_events, methods=["GET"], name="audit_events")]
