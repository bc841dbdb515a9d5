"""The course lead's work list page: their home."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import access
from server.services import worklist
from server.services.parsing import query_text
from server.services.worklist import COHORT_LENGTH
from server.web.deps import page_user, render, settings_of


async def worklist_page(request: Request) -> Response:
    access.require_lead(page_user(request))
    cohort = query_text(request.query_params, "cohort", COHORT_LENGTH)
    work = await worklist.worklist(settings_of(request), cohort)
    return render(request, "worklist.html", work=work, cohorts=await worklist.cohorts(), labels=worklist.LABELS,
                  Stage=worklist.Stage)


routes = [Route("/worklist", worklist_page, methods=["GET"], name="worklist")]
