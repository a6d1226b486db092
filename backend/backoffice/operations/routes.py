"""HTTP layer of what an operator watches (docs/operations.md): a liveness probe that touches nothing
but the process (a database outage is no reason to restart the back office), a readiness probe that
asks the database and its migrations each time (bounded by READINESS_TIMEOUT_SECONDS, so a database
that comes back makes the back office ready without a restart), and the Prometheus figures, behind
METRICS_TOKEN when it is set: the database's counted at each scrape (`service.GAUGES`), the latency
of the calls this process served by route template (`HttpLatency`). The knowledge base's `/healthz`
stays as it was.
"""
from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..shared.dependencies import Process
from .rules import LATENCY_BUCKETS, may_read_metrics, method_label, route_label, status_class
from .service import DatabaseGauges, Readiness

router = APIRouter(tags=["health"])


class Operations:
    """One per app (`app.state.operations`): its own registry, so each app a test makes counts alone."""

    def __init__(self, process: Process) -> None:
        settings = process.settings
        self.metrics_token = settings.metrics_token
        self.readiness = Readiness(settings.database_url, settings.readiness_timeout_seconds)
        self.registry = CollectorRegistry()
        self.registry.register(DatabaseGauges(process.sessions, process.clock, settings.readiness_timeout_seconds))
        self.latency = Histogram("backoffice_http_request_duration_seconds",
                                 "Seconds until the back office started its answer, by route template, method and status class.",
                                 ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=self.registry)


def operations(request: Request) -> Operations:
    return request.app.state.operations


OperationsDep = Annotated[Operations, Depends(operations)]


@router.get("/health/live")
def live() -> dict:
    return {"live": True}


@router.get("/health/ready", responses={503: {"description": "the database does not answer, or its schema is not current"}})
def ready(ops: OperationsDep) -> JSONResponse:
    problem = ops.readiness.problem()
    if problem is None:
        return JSONResponse({"ready": True})
    return JSONResponse({"ready": False, "reason": problem.reason, "detail": problem.detail}, status_code=503,
                        headers={"Cache-Control": "no-store"})


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 401: {}})
def metrics(ops: OperationsDep, authorization: Annotated[str, Header()] = "") -> Response:
    if not may_read_metrics(ops.metrics_token, authorization):
        raise HTTPException(401, "/metrics needs 'Authorization: Bearer <METRICS_TOKEN>'", headers={"WWW-Authenticate": "Bearer"})
    return Response(generate_latest(ops.registry), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


class HttpLatency:
    """ASGI middleware: every HTTP call's seconds until its answer starts, labelled by the route's
    template (never the path: ids and whatever a caller sends stay out of the labels)."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app, self.histogram = app, histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, observed = time.perf_counter(), False

        def observe(status: int) -> None:
            # a route's template; for a mounted app (/static) the mount's path, which Starlette makes the root path
            template = getattr(scope.get("route"), "path", None) or scope.get("root_path") or None
            self.histogram.labels(route_label(template), method_label(scope.get("method", "")),
                                  status_class(status)).observe(time.perf_counter() - started)

        async def timed(message: Message) -> None:
            nonlocal observed
            if message["type"] == "http.response.start" and not observed:
                observed = True
                observe(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, timed)
        finally:
            if not observed:  # no answer at all (an error the server answers itself, or a client gone)
                observe(500)


def instrument(app: FastAPI, process: Process) -> None:
    """The routes, the state and the latency middleware of this feature on `app`."""
    app.state.operations = Operations(process)
    app.include_router(router)
    app.add_middleware(HttpLatency, histogram=app.state.operations.latency)
