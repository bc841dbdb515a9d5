"""What a load balancer, an orchestrator and Prometheus ask: whether the process lives (GET /healthz), whether
it can serve (GET /readyz) and how it is doing (GET /metrics). None of them is asked by a user."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.services.readiness import readiness
from server.web.metrics import metrics


async def healthz(request: Request) -> JSONResponse:
    """Alive: answered without touching the database, so a slow database does not get the process restarted."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready: 200 when every check passes, 503 naming those that failed (each with its exception's type only)."""
    checks = await readiness(request.app.state.settings)
    failing = sorted(name for name, outcome in checks.items() if outcome != "ok")
    if failing:
        return JSONResponse({"status": "unavailable", "failing": failing, "checks": checks}, status_code=503)
    return JSONResponse({"status": "ok", "checks": checks})


routes = [
    Route("/healthz", healthz, methods=["GET"], name="healthz"),
    Route("/readyz", readyz, methods=["GET"], name="readyz"),
    Route("/metrics", metrics, methods=["GET"], name="metrics"),
]
# Probes and the scraper are not users: authentication leaves these paths alone (no session or token lookup in
# the database; /metrics checks DIT_METRICS_TOKEN itself).
UNAUTHENTICATED_PATHS = frozenset(route.path for route in routes)
