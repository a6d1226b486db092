"""The back office's HTTP layer: the knowledge API, the answer record, and the demo website; with the
request ledger (ledger_api), identity verification (identity_api) and a customer's own data (my_data_api)."""
from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Literal, Optional

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy import select

from .shared.service_auth import service_token_required
from .settings import Settings
from .shared.database import AnswerRecord, connect
from .identity.routes import identity_router
from .knowledge.rules import KnowledgeBase, KnowledgeVersion, diff, pick_language
from .requests.routes import ledger_router
from .my_data.routes import my_data_router

Language = Optional[Literal["nl", "en"]]
# Ids in the address are bounded like the ids they name (a knowledge version, a topic, a conversation).
VersionId = Annotated[str, Path(max_length=50)]
EntryId = Annotated[str, Path(max_length=80)]
ConversationId = Annotated[str, Path(max_length=200)]


class AnswerIn(BaseModel):
    knowledge_version: str = Field(max_length=50)
    topic: str = Field(max_length=80)
    language: Literal["nl", "en"]


def validation_problems(exc: RequestValidationError) -> list[dict]:
    """What was wrong with a request. FastAPI's default answer repeats every input, which fails to
    serialise for a number like 1e999 (infinity: a 500) and mirrors a big body back; here only a
    short text, a whole number or a truth value is repeated."""
    problems = []
    for error in exc.errors()[:20]:
        problem = {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}
        given = error.get("input")
        if isinstance(given, bool) or (isinstance(given, int) and abs(given) < 10 ** 15) or (isinstance(given, str) and len(given) <= 100):
            problem["input"] = given
        problems.append(problem)
    return problems


def create_app(settings: Optional[Settings] = None) -> FastAPI:
    settings = settings or Settings.from_env()
    kb = KnowledgeBase.load(settings.knowledge_dir)
    _, Session = connect(settings.database_url)

    # Every body is capped (MAX_REQUEST_BODY_BYTES): a bigger one gets 413 before it is read whole or parsed.
    app = FastAPI(title="Transparency assistant back office", version="1.0", max_body_size=settings.max_body_bytes)
    app.state.kb = kb

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # ASCII-escaped: a lone surrogate ("\ud800") in the input is valid JSON but no UTF-8.
        return Response(json.dumps({"detail": validation_problems(exc)}), status_code=422, media_type="application/json")

    def version_or_404(version_id: str) -> KnowledgeVersion:
        version = kb.current() if version_id == "current" else kb.get(version_id)
        if version is None:
            raise HTTPException(404, f"no knowledge version '{version_id}'")
        return version

    def render(data: dict, language: Language) -> dict:
        return pick_language(data, language) if language else data

    require_service = service_token_required(settings)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "knowledge_version": kb.current().version.id}

    @app.get("/api/knowledge/versions")
    def list_versions() -> dict:
        now = dt.datetime.now(dt.timezone.utc)
        until = kb.current_until(now)
        return {
            "current": kb.current_at(now).version.id,
            # A client caching `current` keeps it no longer than this, by the back office's clock.
            "current_until": until.isoformat() if until else None,
            "current_for_seconds": (until - now).total_seconds() if until else None,
            "versions": [v.version.model_dump(mode="json") for v in kb.versions.values()],
        }

    @app.get("/api/knowledge/versions/{version_id}")
    def get_version(version_id: VersionId, lang: Language = None) -> JSONResponse:
        version = version_or_404(version_id)
        body = version.localized(lang) if lang else version.model_dump(mode="json")
        # A published version never changes, so clients may cache it for good.
        cache = "public, max-age=31536000, immutable" if version.version.status == "published" and version_id != "current" else "no-cache"
        return JSONResponse(body, headers={"Cache-Control": cache})

    @app.get("/api/knowledge/versions/{version_id}/topics/{topic}")
    def get_topic(version_id: VersionId, topic: EntryId, lang: Language = None) -> dict:
        version = version_or_404(version_id)
        texts = {**version.topics.topics, **{f"rights.{k}": v for k, v in version.topics.rights.items()}}
        if topic not in texts:
            raise HTTPException(404, f"no topic '{topic}' in version {version.version.id}")
        return {"version": version.version.id, "topic": topic, "text": render(texts[topic].model_dump(), lang)}

    @app.get("/api/knowledge/versions/{version_id}/{section}/{entry_id}")
    def get_entry(version_id: VersionId, section: Literal["categories", "purposes", "not_collected"], entry_id: EntryId, lang: Language = None) -> dict:
        version = version_or_404(version_id)
        entry = next((e for e in getattr(version, section) if e.id == entry_id), None)
        if entry is None:
            raise HTTPException(404, f"no entry '{entry_id}' in {section} of version {version.version.id}")
        body = entry.model_dump(mode="json")
        if section == "categories":
            body["purposes"] = [p.id for p in version.purposes_for(entry_id)]
        return {"version": version.version.id, section: render(body, lang)}

    @app.get("/api/knowledge/diff")
    def get_diff(from_version: Annotated[str, Query(max_length=50)], to_version: Annotated[str, Query(max_length=50)] = "current") -> dict:
        return diff(version_or_404(from_version), version_or_404(to_version))

    @app.api_route("/api/knowledge/versions/{version_id}", methods=["PUT", "PATCH", "DELETE", "POST"])
    def refuse_write(version_id: VersionId) -> None:
        raise HTTPException(405, "knowledge versions are read-only here; publish a new version in knowledge/")

    @app.post("/api/conversations/{conversation_id}/answers", status_code=201, dependencies=[Depends(require_service)])
    def record_answer(conversation_id: ConversationId, answer: AnswerIn) -> dict:
        if kb.get(answer.knowledge_version) is None:
            raise HTTPException(422, f"unknown knowledge version '{answer.knowledge_version}'")
        with Session.begin() as session:
            session.add(AnswerRecord(conversation_id=conversation_id, **answer.model_dump()))
        return {"recorded": True}

    @app.get("/api/conversations/{conversation_id}/answers", dependencies=[Depends(require_service)])
    def list_answers(conversation_id: ConversationId) -> dict:
        with Session() as session:
            rows = session.scalars(
                select(AnswerRecord).where(AnswerRecord.conversation_id == conversation_id).order_by(AnswerRecord.id)
            ).all()
        return {
            "conversation_id": conversation_id,
            "answers": [
                {"knowledge_version": r.knowledge_version, "topic": r.topic, "language": r.language, "answered_at": r.answered_at.isoformat()}
                for r in rows
            ],
        }

    @app.get("/config.js")
    def config_js() -> Response:
        body = "window.ASSISTANT_CONFIG = " + json.dumps({"socketUrl": settings.socket_url, "socketPath": "/socket.io/"}) + ";\n"
        return Response(body, media_type="application/javascript")

    @app.get("/vendor/socket.io.min.js")
    def socketio_client() -> FileResponse:
        client = settings.web_dir / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
        if not client.is_file():  # not installed (make deps runs npm ci in web/): a clear 404, not a 500
            raise HTTPException(404, "the chat client (socket.io-client) is not installed: run `make deps`")
        return FileResponse(client, media_type="application/javascript")

    @app.get("/")
    def index(request: Request) -> FileResponse:
        return FileResponse(settings.web_dir / "index.html")

    app.include_router(ledger_router(settings, kb))
    app.include_router(identity_router(settings))
    app.include_router(my_data_router(settings, kb))
    app.mount("/static", StaticFiles(directory=settings.web_dir / "static"), name="static")
    return app
