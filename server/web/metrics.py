"""Prometheus metrics: every HTTP request, counted and timed by a middleware, and the transcription jobs, read
from the database (server/services/job_metrics.py), served at GET /metrics.

Each web process (WEB_CONCURRENCY) counts the requests it answers. With PROMETHEUS_MULTIPROC_DIR set before
prometheus-client is imported (`dit serve` sets it for several processes), each keeps its counts in files there,
and a scrape, whichever process answers it, adds up every process's files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount

from server.access import may_scrape_metrics
from server.services.job_metrics import job_metrics
from server.web.deps import bearer_of

log = logging.getLogger("dit.metrics")

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Any other method (a scanner's invention) is one label value, so no client can add series at will.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"

# Labelled by the route's name, never its path: paths carry ids, and ids lead to patients' sessions.
# Not registered in prometheus-client's global registry: each scrape builds a registry of its own (below).
REQUESTS = Counter("dit_http_requests", "HTTP requests answered, by route name, method and status class.",
                   ["route", "method", "status"], registry=None)
LATENCY = Histogram("dit_http_request_duration_seconds", "Time to answer an HTTP request, to its last byte.",
                    ["route", "method", "status"], registry=None)


def route_names(routes: list[BaseRoute], prefix: str = "") -> dict[int, str]:
    """The full name of every route (`api:recording`, as `url_path_for` knows it) by the route object's id:
    routes define equality, so cannot be dictionary keys themselves."""
    names: dict[int, str] = {}
    for route in routes:
        name = prefix + getattr(route, "name", UNMATCHED)
        names[id(route)] = name
        if isinstance(route, Mount):
            names.update(route_names(route.routes, name + ":"))
    return names


class RequestMetrics:
    """Counts and times every HTTP request by the name of the route the router matched (it leaves the route in
    the scope, which is shared down the stack); a request no route matched is `unmatched`."""

    def __init__(self, app) -> None:
        self.app = app
        self.names: dict[int, str] | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # An exception before any answer reaches the client as Starlette's 500.
        status = 500

        async def send_noting_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.record(scope, status, time.perf_counter() - started)

    def record(self, scope, status: int, seconds: float) -> None:
        if self.names is None:
            self.names = route_names(scope["app"].routes)
        route = scope.get("route")
        name = UNMATCHED if route is None else self.names.get(id(route), UNMATCHED)
        method = scope["method"] if scope["method"] in METHODS else "other"
        status_class = f"{status // 100}xx"
        REQUESTS.labels(name, method, status_class).inc()
        LATENCY.labels(name, method, status_class).observe(seconds)


async def metrics(request: Request) -> Response:
    settings = request.app.state.settings
    if not may_scrape_metrics(settings, request.client.host if request.client else None, bearer_of(request)):
        if settings.metrics_token:
            return PlainTextResponse("Send DIT_METRICS_TOKEN as 'Authorization: Bearer <token>'.", status_code=401,
                                     headers={"WWW-Authenticate": "Bearer"})
        return PlainTextResponse("Metrics answer this machine only; set DIT_METRICS_TOKEN to scrape from elsewhere.",
                                 status_code=403)
    registry = CollectorRegistry()
    if MULTIPROCESS_DIR in os.environ:
        MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    try:
        jobs = await job_metrics(settings)
    except Exception as exc:
        # The HTTP metrics matter most when the database does not answer: they are still served.
        log.warning("job metrics left out: the database did not answer (%s)", type(exc).__name__)
    else:
        registry.register(jobs)
    return Response(await asyncio.to_thread(generate_latest, registry), media_type=CONTENT_TYPE_LATEST)


@contextlib.contextmanager
def multiprocess_directory() -> Iterator[None]:
    """PROMETHEUS_MULTIPROC_DIR for web processes started inside: the configured one emptied of a previous run's
    files (prometheus-client requires it, or old counts would be added again), or a temporary one removed after."""
    configured = os.environ.get(MULTIPROCESS_DIR)
    if configured:
        Path(configured).mkdir(parents=True, exist_ok=True)
        for stale in Path(configured).glob("*.db"):
            stale.unlink()
        yield
        return
    with tempfile.TemporaryDirectory(prefix="dit-metrics-") as directory:
        os.environ[MULTIPROCESS_DIR] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIR]
