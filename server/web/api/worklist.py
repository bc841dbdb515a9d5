"""The course lead's work list."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server import access
from server.services import worklist
from server.services.parsing import query_text
from server.services.worklist import COHORT_LENGTH
from server.web.deps import api_user, settings_of


async def get_worklist(request: Request) -> JSONResponse:
    """
    summary: What needs doing, stage by stage (course leads and admins).
    parameters:
      - {name: cohort, in: query, schema: {type: string}, description: Only the trainees of this cohort.}
    responses:
      200: {description: "{stages: {put_forward, awaiting_raters, awaiting_adjudication, ready_to_release, recently_released}: [{recording, case, case_code, session, trainee, cohort, stage, since, overdue, raters: [{name, username, assigned_at, submitted_at}]}], quality_flags: [...], deadlines: [{trainee, name, cohort, what, due, days_left, status}], overdue_days, to_do}"}
      403: {description: Not a course lead or an admin.}
    """
    access.require_lead(api_user(request))
    cohort = query_text(request.query_params, "cohort", COHORT_LENGTH)
    return JSONResponse(await worklist.worklist(settings_of(request), cohort))


routes = [Route("/worklist", get_worklist, methods=["GET"], name="worklist")]
