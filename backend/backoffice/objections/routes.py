"""HTTP layer of objections (Art. 21(1)): the privacy team upholds or refuses one, from the console page
of the request (a form) or the API; the console lists the processings a customer can object to.

A decision needs a signed-in privacy officer (and the session's CSRF token); the audit trail names them.
"""
from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, HTTPException
from fastapi import Request as HttpRequest
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import Field

from ..knowledge.rules import objectable_purposes
from ..requests.rules import RequestRuleError, local_date
from ..requests.service.privacy_team import actor, full_view
from ..requests.service.views import RequestNotFound, load
from ..shared.dependencies import CatalogueDep, ClockDep, KnowledgeDep, SessionDep
from ..shared.inputs import Incoming
from ..shared.responses import PRIVATE
from ..staff.routes import AgentOrOfficer, PrivacyOfficer
from .service import OutcomeNotices, decide

MAX_REASON = 2000
MAX_FORM_BYTES = 8000

router = APIRouter(tags=["objections"])


class DecisionIn(Incoming):
    decision: Literal["uphold", "refuse"]
    reason: str | None = Field(None, max_length=MAX_REASON,
                               description="refuse: the compelling legitimate grounds, which the customer is told; uphold: optional")


def notices_of(request: HttpRequest) -> OutcomeNotices:
    """The decision e-mails, one sender per process (made by `create_app`), sent in the background of the answer."""
    return request.app.state.objection_notices


def _decide(http: HttpRequest, request_id: str, upheld: bool, reason: str | None, officer_actor: str, session: SessionDep,
            kb: KnowledgeDep, catalogue: CatalogueDep, clock: ClockDep, background: BackgroundTasks) -> dict:
    now = clock()
    try:
        request = load(session, request_id, lock=True)
    except RequestNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    try:
        decide(session, request, upheld, reason, officer_actor, now, kb, catalogue)
    except RequestRuleError as exc:  # not an objection, decided already, a refusal without a reason
        session.rollback()
        raise HTTPException(409, str(exc)) from None
    view = full_view(session, request, local_date(now))
    session.commit()  # no read stays open while the e-mail is sent (on SQLite it would hold the writers back)
    background.add_task(notices_of(http).tell, request.id)
    return view


@router.post("/api/privacy/requests/{request_id}/decision")
def decide_objection(http: HttpRequest, request_id: str, body: DecisionIn, officer: PrivacyOfficer, session: SessionDep,
                     kb: KnowledgeDep, catalogue: CatalogueDep, clock: ClockDep, background: BackgroundTasks) -> JSONResponse:
    """Uphold (the systems that carry the processing stop it) or refuse (with the reason) an objection under Art. 21(1)."""
    view = _decide(http, request_id, body.decision == "uphold", body.reason, actor(officer), session, kb, catalogue, clock, background)
    return JSONResponse(view, headers=PRIVATE)


@router.post("/console/privacy/requests/{request_id}/decision", include_in_schema=False)
async def decide_objection_form(http: HttpRequest, request_id: str, officer: PrivacyOfficer) -> RedirectResponse:
    """The request page's form: the same decision, then back to the page."""
    body = await http.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "the form is too long")
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=10).items()}
    decision = fields.get("decision")
    reason = (fields.get("reason") or "").strip()[:MAX_REASON] or None
    if decision not in ("uphold", "refuse"):
        raise HTTPException(422, "decision must be uphold or refuse")
    process = http.app.state.process
    with process.sessions() as session:
        background = BackgroundTasks()
        _decide(http, request_id, decision == "uphold", reason, actor(officer), session, process.knowledge, process.catalogue,
                process.clock, background)
    response = RedirectResponse(f"/console/privacy/requests/{request_id}", status_code=303)
    response.background = background
    return response


@router.get("/api/console/objectable-purposes")
def objectable(_staff: AgentOrOfficer, kb: KnowledgeDep, clock: ClockDep) -> JSONResponse:
    """The processings on legitimate interest a customer can object to (Art. 21(1)), with their names, for the console's form."""
    version = kb.current_at(clock())
    allowed = objectable_purposes(version.purposes)
    return JSONResponse({"purposes": [{"id": p.id, "name": p.name.model_dump(), "categories": list(allowed[p.id])}
                                      for p in version.purposes if p.id in allowed]})
