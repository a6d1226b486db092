"""What the knowledge base's service does beyond reading its files: the check, at start, of the
system catalogue against the register and against what each system says of itself, whose findings
the privacy team sees; and the record of which version answered a conversation."""
from __future__ import annotations

import logging
import threading

import httpx2
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..shared.company_systems import CompanySystems
from .rules import KnowledgeVersion, undeclared_fields
from .tables import AnswerRecord

log = logging.getLogger(__name__)


def mismatches(systems: CompanySystems, version: KnowledgeVersion) -> tuple[list[str], list[str]]:
    """Where each system's own `GET /systems` disagrees with the catalogue, or lists a field of its
    exports that the register (`version`) does not declare; and the systems that could not be asked
    (not up yet, or not answering the contract)."""
    problems: list[str] = []
    unread: list[str] = []
    listings: dict[str, list | None] = {}
    for system, address in systems.addresses.items():
        base = address.url.rsplit("/systems/", 1)[0]
        if base not in listings:
            try:
                response = systems.request(system, "GET", f"{base}/systems")
                listed = response.json().get("systems") if response.status_code == 200 else None
                listings[base] = listed if isinstance(listed, list) else None
            except (httpx2.HTTPError, ValueError, AttributeError):
                listings[base] = None
        listed = listings[base]
        if listed is None:
            unread.append(system)
            continue
        served = next((s for s in listed if isinstance(s, dict) and s.get("system") == system), None)
        problems += systems.catalogue.system_mismatches(system, served)
        fields = served.get("fields") if served is not None else None
        if isinstance(fields, dict) and all(isinstance(names, list) for names in fields.values()):
            problems += undeclared_fields(systems.catalogue, version, [(system, c, names) for c, names in fields.items()])
        elif served is not None:
            problems.append(f"{system}: its GET /systems does not list the fields of its exports, so they were not "
                            "checked against the register")
    return problems, unread


class CatalogueProblems:
    """Where the system catalogue disagrees with the register or with the systems themselves: logged
    once each, and shown to the privacy team."""

    SYSTEMS_WAIT_SECONDS = 60.0

    def __init__(self, found: list[str]) -> None:
        self.found: list[str] = []
        self.stop = threading.Event()
        self.add(found)

    def add(self, found: list[str]) -> None:
        for problem in found:
            if problem not in self.found:
                log.warning("system catalogue: %s", problem)
                self.found.append(problem)

    def check_systems(self, systems: CompanySystems, version: KnowledgeVersion) -> None:
        """Ask the systems until each answered, for up to a minute; then say which did not."""
        waited = 0.0
        while not self.stop.is_set():
            found, unread = mismatches(systems, version)
            if not unread or waited >= self.SYSTEMS_WAIT_SECONDS:
                self.add(found + [f"{system}: its GET /systems could not be read, so the catalogue was not checked "
                                  "against it" for system in unread])
                return
            self.stop.wait(2.0)
            waited += 2.0


def save_answer(session: Session, conversation_id: str, knowledge_version: str, topic: str, language: str) -> None:
    """Record that `knowledge_version` answered `topic` in this conversation."""
    with session.begin():
        session.add(AnswerRecord(conversation_id=conversation_id, knowledge_version=knowledge_version, topic=topic,
                                 language=language))


def answers_of(session: Session, conversation_id: str) -> list[dict]:
    """The recorded answers of a conversation, oldest first."""
    rows = session.scalars(
        select(AnswerRecord).where(AnswerRecord.conversation_id == conversation_id).order_by(AnswerRecord.id)
    ).all()
    return [
        {"knowledge_version": r.knowledge_version, "topic": r.topic, "language": r.language, "answered_at": r.answered_at.isoformat()}
        for r in rows
    ]
