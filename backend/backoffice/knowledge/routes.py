"""HTTP layer of the knowledge base: its published versions, what changed between two, and the record
of which version answered a conversation."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..shared.dependencies import KnowledgeDep, SessionDep
from ..shared.service_auth import require_service
from .rules import KnowledgeBase, KnowledgeVersion, diff, pick_language
from .service import answers_of, save_answer

Language = Literal["nl", "en"] | None
# Ids in the address are bounded like the ids they name (a knowledge version, a topic, a conversation).
VersionId = Annotated[str, Path(max_length=50)]
EntryId = Annotated[str, Path(max_length=80)]
ConversationId = Annotated[str, Path(max_length=200)]

router = APIRouter(tags=["knowledge"])


class AnswerIn(BaseModel):
    knowledge_version: str = Field(max_length=50)
    topic: str = Field(max_length=80)
    language: Literal["nl", "en"]


def version_or_404(kb: KnowledgeBase, version_id: str) -> KnowledgeVersion:
    version = kb.current() if version_id == "current" else kb.get(version_id)
    if version is None:
        raise HTTPException(404, f"no knowledge version '{version_id}'")
    return version


def _render(data: dict, language: Language) -> dict:
    return pick_language(data, language) if language else data


@router.get("/healthz", tags=["health"])
def healthz(kb: KnowledgeDep) -> dict:
    return {"status": "ok", "knowledge_version": kb.current().version.id}


@router.get("/api/knowledge/versions")
def list_versions(kb: KnowledgeDep) -> dict:
    now = dt.datetime.now(dt.UTC)
    until = kb.current_until(now)
    return {
        "current": kb.current_at(now).version.id,
        # A client caching `current` keeps it no longer than this, by the back office's clock.
        "current_until": until.isoformat() if until else None,
        "current_for_seconds": (until - now).total_seconds() if until else None,
        "versions": [v.version.model_dump(mode="json") for v in kb.versions.values()],
    }


@router.get("/api/knowledge/versions/{version_id}")
def get_version(kb: KnowledgeDep, version_id: VersionId, lang: Language = None) -> JSONResponse:
    version = version_or_404(kb, version_id)
    body = version.localized(lang) if lang else version.model_dump(mode="json")
    # A published version never changes, so clients may cache it for good.
    cache = "public, max-age=31536000, immutable" if version.version.status == "published" and version_id != "current" else "no-cache"
    return JSONResponse(body, headers={"Cache-Control": cache})


@router.get("/api/knowledge/versions/{version_id}/topics/{topic}")
def get_topic(kb: KnowledgeDep, version_id: VersionId, topic: EntryId, lang: Language = None) -> dict:
    version = version_or_404(kb, version_id)
    texts = {**version.topics.topics, **{f"rights.{k}": v for k, v in version.topics.rights.items()}}
    if topic not in texts:
        raise HTTPException(404, f"no topic '{topic}' in version {version.version.id}")
    return {"version": version.version.id, "topic": topic, "text": _render(texts[topic].model_dump(), lang)}


@router.get("/api/knowledge/versions/{version_id}/{section}/{entry_id}")
def get_entry(kb: KnowledgeDep, version_id: VersionId, section: Literal["categories", "purposes", "not_collected"],
              entry_id: EntryId, lang: Language = None) -> dict:
    version = version_or_404(kb, version_id)
    entry = next((e for e in getattr(version, section) if e.id == entry_id), None)
    if entry is None:
        raise HTTPException(404, f"no entry '{entry_id}' in {section} of version {version.version.id}")
    body = entry.model_dump(mode="json")
    if section == "categories":
        body["purposes"] = [p.id for p in version.purposes_for(entry_id)]
    return {"version": version.version.id, section: _render(body, lang)}


@router.get("/api/knowledge/diff")
def get_diff(kb: KnowledgeDep, from_version: Annotated[str, Query(max_length=50)],
             to_version: Annotated[str, Query(max_length=50)] = "current") -> dict:
    return diff(version_or_404(kb, from_version), version_or_404(kb, to_version))


@router.api_route("/api/knowledge/versions/{version_id}", methods=["PUT", "PATCH", "DELETE", "POST"])
def refuse_write(version_id: VersionId) -> None:
    raise HTTPException(405, "knowledge versions are read-only here; publish a new version in knowledge/")


@router.post("/api/conversations/{conversation_id}/answers", status_code=201, dependencies=[Depends(require_service)])
def record_answer(kb: KnowledgeDep, session: SessionDep, conversation_id: ConversationId, answer: AnswerIn) -> dict:
    if kb.get(answer.knowledge_version) is None:
        raise HTTPException(422, f"unknown knowledge version '{answer.knowledge_version}'")
    save_answer(session, conversation_id, **answer.model_dump())
    return {"recorded": True}


@router.get("/api/conversations/{conversation_id}/answers", dependencies=[Depends(require_service)])
def list_answers(session: SessionDep, conversation_id: ConversationId) -> dict:
    return {"conversation_id": conversation_id, "answers": answers_of(session, conversation_id)}
