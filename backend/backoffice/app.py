"""The back office as one web application: each feature's routes, and the parts they share, made once
per process here."""
from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from .catalogue import Catalogue
from .demo import routes as demo
from .demo.service import DemoCustomers
from .handoff import routes as handoff
from .handoff.service import Handoff
from .identity import routes as identity
from .identity.service import SmtpConfig, Verification
from .knowledge import routes as knowledge
from .knowledge.rules import register_mismatches
from .knowledge.service import CatalogueProblems, load_knowledge
from .my_data import routes as my_data
from .my_data.service import DataSources
from .objections import routes as objections
from .operations import routes as operations
from .requests import routes as requests
from .requests.service.receipts import RequestReceipts
from .settings import Settings
from .shared.company_systems import CompanySystems
from .shared.database import open_database
from .shared.dependencies import Clock, Process, utcnow
from .shared.inputs import RefuseNul
from .shared.logs import RequestContext
from .staff import routes as staff
from .staff.service import ensure_demo_accounts


def validation_problems(exc: RequestValidationError) -> list[dict]:
    """What was wrong with a request. FastAPI's default answer repeats every input, which fails to
    serialise for a number like 1e999 (infinity: a 500) and mirrors a big body back; here only a
    short text, a whole number or a truth value is repeated."""
    problems = []
    for error in exc.errors()[:20]:
        problem: dict[str, Any] = {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", "")),
                                   "type": str(error.get("type", ""))}
        given = error.get("input")
        if isinstance(given, bool) or (isinstance(given, int) and abs(given) < 10 ** 15) or (isinstance(given, str) and len(given) <= 100):
            problem["input"] = given
        problems.append(problem)
    return problems


def create_app(settings: Settings | None = None, clock: Clock = utcnow) -> FastAPI:
    """The application; `clock` is the time every route reads (a test passes one it can move)."""
    settings = settings or Settings.from_env()
    kb = load_knowledge(settings.knowledge_dir)
    catalogue = Catalogue.load(settings.catalogue_file)
    engine, sessions = open_database(settings.database_url)
    systems = CompanySystems(catalogue, settings.catalogue_variables(), settings.my_data_timeout_seconds)
    # What the catalogue and the register disagree on is known at once; what the systems say of
    # themselves once they answer (they may start after the back office).
    register = kb.current_at(clock())
    problems = CatalogueProblems(register_mismatches(catalogue, register))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        checking = threading.Thread(target=problems.check_systems, args=(systems, register), daemon=True, name="catalogue-check")
        checking.start()
        app.state.handoff.run_upkeep(clock)
        app.state.receipts.start()
        yield
        app.state.receipts.close()
        app.state.handoff.close()
        problems.stop.set()
        systems.close()
        app.state.my_data.tracker.close()
        engine.dispose()

    # Every body is capped (MAX_REQUEST_BODY_BYTES): a bigger one gets 413 before it is read whole or parsed.
    app = FastAPI(title="Transparency assistant back office", version="1.0", max_body_size=settings.max_body_bytes,
                  lifespan=lifespan)
    app.state.process = Process(settings, kb, catalogue, sessions, clock)
    app.state.catalogue_problems = problems
    app.state.verification = Verification.start(settings, sessions, systems, clock)
    app.state.my_data = DataSources.start(settings, systems, problems)
    app.state.receipts = RequestReceipts(sessions, systems, SmtpConfig.from_settings(settings), kb,
                                         app.state.verification.otp_secret, clock)
    app.state.demo_customers = DemoCustomers()
    app.state.handoff = Handoff.start(settings, sessions, clock)
    app.state.objection_notices = objections.OutcomeNotices(sessions, systems, SmtpConfig.from_settings(settings), kb, clock)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> Response:
        # ASCII-escaped: a lone surrogate ("\ud800") in the input is valid JSON but no UTF-8.
        return Response(json.dumps({"detail": validation_problems(exc)}), status_code=422, media_type="application/json")

    for router in (knowledge.router, requests.router, requests.privacy_router, identity.router, my_data.router, staff.router,
                   demo.website, demo.widget, handoff.router, objections.router):
        app.include_router(router)
    if settings.demo_mode:
        app.include_router(demo.router)
        ensure_demo_accounts(settings, sessions, clock(), kb.current_at(clock()).company.dpo.name)
    app.mount("/static", StaticFiles(directory=settings.web_dir / "static"), name="static")
    # The client's address (the sign-in throttle's source) is the TCP peer's, unless that peer is one
    # of TRUSTED_PROXIES: then the nearest untrusted address in its X-Forwarded-For. The server itself
    # believes no forwarding header (`__main__`), so this is the one place that decides.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list())
    app.add_middleware(RefuseNul)
    # Health, readiness and /metrics, with the latency of every call (operations); outermost, each
    # call's request id and conversation reference for its log lines (shared.logs).
    operations.instrument(app, app.state.process)
    app.add_middleware(RequestContext)
    return app
