"""What the knowledge base's service does around its rules: reading `knowledge/` (each version's files,
and `published.lock`, which publication writes); the check, at start, of the system catalogue against
the register and against what each system says of itself, whose findings the privacy team sees; and
the record of which version answered a conversation."""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import httpx2
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..shared.company_systems import CompanySystems
from .rules import (
    FILES,
    PUBLISHED_LOCK,
    KnowledgeBase,
    KnowledgeError,
    KnowledgeVersion,
    content_hash,
    undeclared_fields,
    version_from_files,
)
from .tables import AnswerRecord

log = logging.getLogger(__name__)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KnowledgeError(f"{path}: file is missing") from None


def _files(folder: Path) -> dict[str, bytes]:
    return {name: _read(folder / name) for name in FILES}


def _parsed(folder: Path, files: dict[str, bytes]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for name, content in files.items():
        try:
            parsed[name] = yaml.safe_load(content.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise KnowledgeError(f"{folder / name}: not valid YAML: {exc}") from None
    return parsed


def read_version(folder: Path) -> KnowledgeVersion:
    """One version folder, read and checked."""
    return version_from_files(str(folder), _parsed(folder, _files(folder)))


def _lock(root: Path) -> dict[str, str]:
    lock_path = root / PUBLISHED_LOCK
    return json.loads(lock_path.read_text()) if lock_path.exists() else {}


def load_knowledge(root: Path) -> KnowledgeBase:
    """Every version in the folder `root`, read and checked (the published ones against published.lock)."""
    root = Path(root)
    if not root.is_dir():
        raise KnowledgeError(f"{root}: knowledge folder is missing")
    versions: dict[str, KnowledgeVersion] = {}
    hashes: dict[str, str] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = _files(folder)
        versions[folder.name] = version_from_files(str(folder), _parsed(folder, files))
        hashes[folder.name] = content_hash(files)
    return KnowledgeBase.checked(str(root), versions, _lock(root), hashes)


def publish_lock(root: Path) -> dict[str, str]:
    """Record the hash of every published version in published.lock (it never forgets or rewrites an entry)."""
    root = Path(root)
    lock = _lock(root)
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if read_version(folder).version.status == "published" and folder.name not in lock:
            lock[folder.name] = content_hash(_files(folder))
    (root / PUBLISHED_LOCK).write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    return lock


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
