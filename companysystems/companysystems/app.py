"""The company systems' HTTP layer: the system contract the back office calls, one route set per system.

Thin on purpose: it checks the token, parses the request, calls `data_operations.CompanySystems` and maps its
errors to status codes. The database is opened (migrated, seeded) at start-up, not at import, so the
OpenAPI document can be generated without one.
"""

import asyncio
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Query, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy import text

from .config import Settings
from .data_operations import (
    FIELDS,
    OPERATIONS,
    PREFERENCES,
    RECTIFIABLE,
    SYSTEMS,
    CompanySystems,
    Conflict,
    Invalid,
    KeyReused,
    NotFound,
    Operation,
    RectifiableField,
    Refused,
)
from .db import connect
from .seed import seed

DESCRIPTION = """\
The contract between the privacy back office and a company's own systems, answered here by
Voltera's demo systems. Each system (crm, orders, loyalty, marketing, wifi, service) exports and
erases the data categories it holds, marks them restricted, and, where it makes sense, rectifies
them or changes marketing preferences.

Every call needs `Authorization: Bearer <token>`. Every call that changes data needs an
`Idempotency-Key`: repeating a key returns the stored response (header `Idempotent-Replayed: true`)
and changes nothing; reusing a key for a different request is refused with 422.
Times are UTC in ISO 8601; amounts are integer cents in EUR.
"""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    detail: str


class LookupOut(BaseModel):
    customer_id: str


class RestrictionOut(BaseModel):
    category: str
    since: str = Field(description="when processing was restricted (UTC)")


class StoppedOut(BaseModel):
    purpose: str = Field(description="the purpose (register id) this system no longer uses the customer's data for")
    categories: list[str]
    since: str = Field(description="when the processing stopped (UTC)")


class ExportOut(BaseModel):
    system: str
    customer_id: str
    exported_at: str
    categories: dict[str, list[dict[str, Any]]] = Field(
        description="every category this system holds, each a list of records (empty if none)"
    )
    restricted: list[RestrictionOut]
    stopped_processing: list[StoppedOut] = Field(description="processings stopped after an upheld objection (Art. 21(1))")


class KeptOut(BaseModel):
    category: str
    reason: str = Field(description="why these records were not erased, in words fit to pass on to the customer")
    count: int
    retained_until: str | None = Field(description="the date the last of them may be erased")


class EraseOut(BaseModel):
    status: Literal["done"]
    system: str
    customer_id: str
    erased: dict[str, int] = Field(description="records erased (or anonymised) per category, in the units of the export")
    kept: list[KeptOut]


class StopIn(Strict):
    purpose: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="the purpose (register id) to stop")
    categories: list[Annotated[str, Field(max_length=40)]] | None = Field(
        None, max_length=20, description="the categories that purpose uses here; null for all this system holds"
    )


class StopOut(BaseModel):
    status: Literal["done"]
    system: str
    customer_id: str
    stopped_processing: StoppedOut


class RestrictOut(BaseModel):
    status: Literal["done"]
    system: str
    customer_id: str
    restricted: list[RestrictionOut]


# Bounded before the data operations look at it: a name, an address's parts, an e-mail address or a phone number.
RectifyText = Annotated[str, Field(max_length=500)]
RectifyValue = RectifyText | Annotated[dict[Annotated[str, Field(max_length=40)], RectifyText], Field(max_length=10)]


class RectifyIn(Strict):
    field: RectifiableField
    value: RectifyValue = Field(
        description=(
            "name: 'First Last' or {first_name, last_name}; address: {street, house_number, postcode, city, country?}; "
            "email and phone: text"
        )
    )


class RectifyOut(BaseModel):
    status: Literal["done"]
    system: str
    customer_id: str
    field: str
    value: RectifyValue


class PreferencesIn(Strict):
    newsletter: bool | None = None
    personalised_offers: bool | None = None
    wifi_counting: bool | None = None


class ConsentOut(BaseModel):
    granted: bool
    changed_at: str | None


class PreferencesOut(BaseModel):
    status: Literal["done"]
    system: str
    customer_id: str
    preferences: dict[str, ConsentOut]


class SystemOut(BaseModel):
    system: str
    categories: list[str] = Field(description="the data categories this system holds (ids shared with the back office)")
    operations: list[Operation] = Field(
        description=(
            "the calls this system answers: lookup (customer id by e-mail), export, erase, restrict (Art. 18), "
            "rectify (see rectifiable_fields), preferences (see preferences), stop_processing (an upheld objection, Art. 21(1))"
        )
    )
    rectifiable_fields: list[str] = Field(description="the fields rectify corrects; empty when the system does not rectify")
    preferences: list[str] = Field(description="the purposes preferences sets; empty when the system holds no consents")
    fields: dict[str, list[str]] = Field(description="per category, the fields its export records hold")


class CatalogueOut(BaseModel):
    systems: list[SystemOut]


class FaultIn(Strict):
    mode: Literal["down", "429", "slow", "slow_answer", "ok"]
    retry_after: int = Field(1, ge=0, le=3600, description="seconds, sent as Retry-After with 503 and 429")
    delay: float = Field(
        2.0,
        ge=0,
        le=120,
        description="seconds a 'slow' call waits before it is carried out, a 'slow_answer' one after it was carried out",
    )
    count: int | None = Field(1, ge=1, description="how many calls the fault affects; null until mode 'ok'")


@dataclass
class Fault:
    mode: str
    retry_after: int
    delay: float
    remaining: int | None


class FaultBoard:
    """Faults waiting for the next calls to each system. Only the event loop touches it, so no lock."""

    def __init__(self) -> None:
        self.faults: dict[str, Fault] = {}

    def set(self, system: str, fault: FaultIn) -> None:
        if fault.mode == "ok":
            self.faults.pop(system, None)
        else:
            self.faults[system] = Fault(fault.mode, fault.retry_after, fault.delay, fault.count)

    def take(self, system: str) -> Fault | None:
        fault = self.faults.get(system)
        if fault is not None and fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self.faults[system]
        return fault


IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key", min_length=1, max_length=200, description="unique per intended action; repeat it to retry safely"
    ),
]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing or wrong bearer token"},
    404: {"model": ErrorOut, "description": "no such customer"},
}
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "Idempotent-Replayed": {
                "description": (
                    "true when this is the stored answer to an earlier call with the same Idempotency-Key "
                    "(nothing was done again)"
                ),
                "schema": {"type": "string", "enum": ["true", "false"]},
            }
        }
    },
    409: {"model": ErrorOut, "description": "the data is not in a state to carry this out"},
    422: {"description": "invalid request, or the Idempotency-Key was used for a different request"},
}
STATUS = {NotFound: 404, Invalid: 422, KeyReused: 422, Conflict: 409}


def systems_of(request: Request) -> CompanySystems:
    return request.app.state.systems


Systems = Annotated[CompanySystems, Depends(systems_of)]
CustomerId = Annotated[str, Path(max_length=32, description="the customer id the systems share, e.g. C0001")]


def replay_header(response: Response, replayed: bool) -> None:
    response.headers["Idempotent-Replayed"] = "true" if replayed else "false"


def system_router(system: str, auth: Any) -> APIRouter:
    """The routes of one system: export, erase, restrict, and lookup / rectify / preferences where it has them."""
    held = SYSTEMS[system]
    router = APIRouter(prefix=f"/systems/{system}", tags=[system], dependencies=[auth], responses=ERRORS)
    # The body's model is made here, per system, so that its schema lists this system's categories.
    # mypy takes neither a Literal of a run-time tuple nor a model made at run time as a type: hence
    # the ignores on the lines that make and use it.
    Categories = create_model(
        f"{system.capitalize()}Categories",
        __config__=ConfigDict(extra="forbid"),
        categories=(list[Literal[held]] | None, Field(None, description=f"null for all: {', '.join(held)}")),  # type: ignore[valid-type, arg-type]
    )

    if "lookup" in OPERATIONS[system]:

        @router.get("/customers/lookup", operation_id="crm_lookup", summary="Find a customer id by e-mail address")
        def lookup(email: Annotated[str, Query(max_length=254)], systems: Systems) -> LookupOut:
            return LookupOut(customer_id=systems.lookup(email))

    @router.get(
        "/customers/{customer_id}/export",
        operation_id=f"{system}_export",
        summary=f"Export what {system} holds ({', '.join(held)})",
    )
    def export(customer_id: CustomerId, systems: Systems) -> ExportOut:
        return ExportOut(**systems.export(system, customer_id))

    @router.post(
        "/customers/{customer_id}/erase",
        operation_id=f"{system}_erase",
        summary=f"Erase {', '.join(held)}, reporting what must be kept and why",
        responses=CHANGE_ERRORS,
    )
    def erase(
        customer_id: CustomerId,
        idempotency_key: IdempotencyKey,
        systems: Systems,
        response: Response,
        body: Categories | None = None,  # type: ignore[valid-type]
    ) -> EraseOut:
        outcome = systems.erase(system, customer_id, body.categories if body else None, idempotency_key)  # type: ignore[attr-defined]
        replay_header(response, outcome.replayed)
        return EraseOut(**outcome.result)

    @router.post(
        "/customers/{customer_id}/restrict",
        operation_id=f"{system}_restrict",
        summary="Restrict processing (Art. 18): store only",
        responses=CHANGE_ERRORS,
    )
    def restrict(
        customer_id: CustomerId,
        idempotency_key: IdempotencyKey,
        systems: Systems,
        response: Response,
        body: Categories | None = None,  # type: ignore[valid-type]
    ) -> RestrictOut:
        outcome = systems.restrict(system, customer_id, body.categories if body else None, idempotency_key)  # type: ignore[attr-defined]
        replay_header(response, outcome.replayed)
        return RestrictOut(**outcome.result)

    @router.post(
        "/customers/{customer_id}/stop_processing",
        operation_id=f"{system}_stop_processing",
        summary="Stop one processing (a purpose) after an upheld objection (Art. 21(1)); the rest goes on",
        responses=CHANGE_ERRORS,
    )
    def stop_processing(
        customer_id: CustomerId, body: StopIn, idempotency_key: IdempotencyKey, systems: Systems, response: Response
    ) -> StopOut:
        outcome = systems.stop_processing(system, customer_id, body.purpose, body.categories, idempotency_key)
        replay_header(response, outcome.replayed)
        return StopOut(**outcome.result)

    if "rectify" in OPERATIONS[system]:

        @router.post(
            "/customers/{customer_id}/rectify",
            operation_id=f"{system}_rectify",
            summary=f"Correct one field ({', '.join(RECTIFIABLE[system])})",
            responses=CHANGE_ERRORS,
        )
        def rectify(
            customer_id: CustomerId, body: RectifyIn, idempotency_key: IdempotencyKey, systems: Systems, response: Response
        ) -> RectifyOut:
            outcome = systems.rectify(system, customer_id, body.field, body.value, idempotency_key)
            replay_header(response, outcome.replayed)
            return RectifyOut(**outcome.result)

    if "preferences" in OPERATIONS[system]:

        @router.put(
            "/customers/{customer_id}/preferences",
            operation_id="marketing_preferences",
            summary="Set consents; a withdrawal or objection takes effect at once",
            responses=CHANGE_ERRORS,
        )
        def preferences(
            customer_id: CustomerId, body: PreferencesIn, idempotency_key: IdempotencyKey, systems: Systems, response: Response
        ) -> PreferencesOut:
            outcome = systems.set_preferences(customer_id, body.model_dump(exclude_none=True), idempotency_key)
            replay_header(response, outcome.replayed)
            return PreferencesOut(**outcome.result)

    return router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine, Session = connect(settings.database_url)
        if settings.seed_on_start:
            seed(Session)
        app.state.systems = CompanySystems(Session)
        yield
        engine.dispose()

    # Every body is capped (MAX_REQUEST_BODY_BYTES): a bigger one gets 413 before it is read whole or parsed.
    app = FastAPI(
        title="Voltera company systems",
        version="1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
    )
    bearer = HTTPBearer(auto_error=False, scheme_name="systemsToken", description="COMPANY_SYSTEMS_TOKEN")

    def require_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> None:
        given = credentials.credentials.encode() if credentials else b""
        if not hmac.compare_digest(given, settings.token.encode()):
            raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})

    auth = Depends(require_token)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> Response:
        """What was wrong. FastAPI's default repeats every input and fails on a number like 1e999 (a 500);
        here only a short text, a whole number or a truth value is repeated."""
        problems = []
        for error in exc.errors()[:20]:
            problem: dict[str, Any] = {
                "loc": [str(p) for p in error.get("loc", ())],
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
            given = error.get("input")
            if (
                isinstance(given, bool)
                or (isinstance(given, int) and abs(given) < 10**15)
                or (isinstance(given, str) and len(given) <= 100)
            ):
                problem["input"] = given
            problems.append(problem)
        # ASCII-escaped: a lone surrogate ("\ud800") in the input is valid JSON but no UTF-8.
        return Response(json.dumps({"detail": problems}), status_code=422, media_type="application/json")

    @app.exception_handler(Refused)
    async def refused(_request: Request, exc: Refused) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=STATUS.get(type(exc), 400))

    @app.get("/healthz", operation_id="healthz", summary="Liveness and database check (no token)")
    def healthz(systems: Systems) -> dict:
        try:
            with systems.Session() as s:
                s.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure means: not healthy
            raise HTTPException(503, f"database unavailable: {type(exc).__name__}") from exc
        return {"status": "ok"}

    @app.get(
        "/systems",
        dependencies=[auth],
        responses={401: ERRORS[401]},
        operation_id="catalogue",
        summary="Which system holds which categories and answers which operations",
    )
    def catalogue() -> CatalogueOut:
        return CatalogueOut(
            systems=[
                SystemOut(
                    system=name,
                    categories=list(held),
                    operations=list(OPERATIONS[name]),
                    rectifiable_fields=list(RECTIFIABLE.get(name, ())),
                    preferences=list(PREFERENCES) if "preferences" in OPERATIONS[name] else [],
                    fields={category: list(FIELDS[category]) for category in held},
                )
                for name, held in SYSTEMS.items()
            ]
        )

    for name in SYSTEMS:
        app.include_router(system_router(name, auth))

    if settings.faults:
        mount_faults(app, auth)
    return app


def mount_faults(app: FastAPI, auth: Any) -> None:
    """Fault injection for reliability tests (COMPANY_SYSTEMS_FAULTS=1 only): the next calls to a system fail or stall."""
    board = FaultBoard()
    app.state.faults = board

    @app.middleware("http")
    async def inject(request: Request, call_next: Any) -> Response:
        parts = request.url.path.split("/")
        if len(parts) > 3 and parts[1] == "systems" and parts[2] in SYSTEMS:
            fault = board.take(parts[2])
            if fault is not None and fault.mode in ("down", "429"):
                status, detail = (
                    (503, "system unavailable (injected)") if fault.mode == "down" else (429, "too many requests (injected)")
                )
                return JSONResponse({"detail": detail}, status_code=status, headers={"Retry-After": str(fault.retry_after)})
            if fault is not None and fault.mode == "slow":
                await asyncio.sleep(fault.delay)
            if fault is not None and fault.mode == "slow_answer":
                answer = await call_next(request)
                await asyncio.sleep(fault.delay)
                return answer
        return await call_next(request)

    # A Literal of the systems' names, so an unknown system is refused with 422; mypy cannot take it as a type.
    SystemName = Literal[tuple(SYSTEMS)]  # type: ignore[valid-type]

    @app.post("/_faults/{system}", dependencies=[auth], include_in_schema=False)
    def set_fault(system: SystemName, fault: FaultIn) -> dict:  # type: ignore[valid-type]
        board.set(system, fault)
        return {"system": system, "fault": board.faults.get(system).__dict__ if system in board.faults else None}

    @app.get("/_faults", dependencies=[auth], include_in_schema=False)
    def list_faults() -> dict:
        return {system: fault.__dict__ for system, fault in board.faults.items()}
