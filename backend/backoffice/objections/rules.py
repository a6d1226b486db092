"""Objections to a processing on legitimate interest (GDPR Art. 21(1)), as the law has them.

An objection names one processing (a purpose in the register). It is not absolute, unlike an
objection to direct marketing (Art. 21(2)-(3), `requests.rules.takes_effect_immediately`): a person on the
privacy team weighs it. Upheld, the systems that carry that purpose are told to stop it, for that
customer and that purpose only; refused, with the compelling grounds as the reason. Either way the
customer is told, in their language, with the right to complain to the Autoriteit Persoonsgegevens.
Never a blanket restriction (that is Art. 18, another right).

Pure: no web, database or network code. The ledger's rules (`requests.rules`) move the request; which
processings a customer can object to is the register's (`knowledge.rules.objectable_purposes`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..requests.rules import AuditEntry, RequestRuleError, RightsRequest, SystemTask, transition
from ..sentences import Texts
from ..vocabulary import RequestType, Status

STOP = "stop_processing"  # the operation a system carries out for an upheld objection
UPHELD, REFUSED = "upheld", "refused"


class DecisionRefused(RequestRuleError):
    """A decision the rules do not allow: not an objection, already decided, or nothing to stop."""


def awaiting_decision(request: RightsRequest) -> bool:
    """An objection the privacy team has not decided yet: filed and verified, nothing sent to a system."""
    return request.type is RequestType.OBJECTION and request.status is Status.VERIFIED


@dataclass(frozen=True)
class StopPlan:
    """What an upheld objection asks: a task per system that carries the purpose (`stop_processing`), and
    the systems that hold its data but cannot be asked, which the privacy team tells by hand."""

    tasks: tuple[SystemTask, ...]
    by_hand: tuple[str, ...]


def stop_plan(request_id: str, purpose_categories: Iterable[str], routed: Mapping[str, Iterable[str]],
              able: Iterable[str]) -> StopPlan:
    """`routed`: the systems holding the purpose's categories, each with its share (the catalogue's route);
    `able`: the systems that answer stop_processing. Only systems that carry this purpose get a task."""
    wanted = set(purpose_categories)
    able = set(able)
    tasks, by_hand = [], []
    for system, categories in routed.items():
        share = [c for c in categories if c in wanted]
        if not share:
            continue
        if system in able:
            tasks.append(SystemTask.for_request(request_id, system, share))
        else:
            by_hand.append(system)
    return StopPlan(tuple(tasks), tuple(by_hand))


def decide(request: RightsRequest, upheld: bool, reason: str | None, actor: str, now: dt.datetime,
           plan: StopPlan | None = None) -> tuple[RightsRequest, AuditEntry]:
    """The privacy team's decision. Upheld: the request moves on to the systems (in_progress) with the
    stop tasks of `plan`; refused: denied, and the reason (the compelling grounds) is what the customer is told."""
    if request.type is not RequestType.OBJECTION:
        raise DecisionRefused(f"request {request.id} is a {request.type.value} request; only an objection (Art. 21(1)) is weighed")
    if not awaiting_decision(request):
        raise DecisionRefused(f"request {request.id} is {request.status.value}: it was decided already")
    if not upheld:
        return transition(request, Status.DENIED, actor, reason, now=now)
    if plan is None or not plan.tasks:
        raise DecisionRefused(f"request {request.id}: no connected system carries this processing; stop it by hand and note it")
    systems = ", ".join(t.system for t in plan.tasks)
    note = f"objection upheld; {systems} told to stop this processing" + (f": {reason.strip()}" if reason and reason.strip() else "")
    return transition(request, Status.IN_PROGRESS, actor, note, now=now)


def outcome(decision: str, language: str, purpose: str, reason: str | None, request_id: str,
            authority: Mapping[str, Any], texts: Texts) -> str:
    """The message that tells the customer the decision, in their language, with the authority to complain to.
    `texts`: the catalogue (its back_office.objection_email), `authority`: the register's {name, url}."""
    language = language if language in ("nl", "en") else "nl"
    key = UPHELD if decision == UPHELD else REFUSED
    return texts(language, f"back_office.objection_email.{key}", request=request_id, purpose=purpose,
                 reason=(reason or "").strip() or "-", authority=authority["name"][language], authority_url=authority["url"])
