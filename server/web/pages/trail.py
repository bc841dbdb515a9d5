"""The audit log page for admins: filter the trail, read it, take it away as CSV."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.errors import DomainError
from server.models import AuditAction
from server.services import audit_log
from server.web.deps import csv_response, page_user, render


async def audit_log_page(request: Request) -> Response:
    user = page_user(request)
    try:
        filters = audit_log.parse_filters(request.query_params)
    except DomainError as exc:
        filters, error, status = audit_log.Filters(), exc.detail, exc.status_code
    else:
        error, status = None, 200
    await audit_log.require_may_read(user, filters)
    events = await audit_log.events(filters)
    return render(request, "audit_log.html", status_code=status, error=error, events=events,
                  actions=list(AuditAction), query=request.query_params, limit=audit_log.PAGE_ROWS,
                  export=f"{request.app.url_path_for('audit_log_export')}?{request.url.query}")


async def audit_log_export(request: Request) -> Response:
    user = page_user(request)
    filters = audit_log.parse_filters(request.query_params)
    await audit_log.require_may_read(user, filters)
    rows = [audit_log.row(event) for event in await audit_log.events(filters, limit=None)]
    return csv_response(audit_log.COLUMNS, ([row[column] for column in audit_log.COLUMNS] for row in rows),
                        "audit-log.csv")


routes = [
    Route("/audit-log", audit_log_page, methods=["GET"], name="audit_log"),
    Route("/audit-log.csv", audit_log_export, methods=["GET"], name="audit_log_export"),
]
