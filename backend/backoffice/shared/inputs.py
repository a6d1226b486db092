"""What any text sent to the back office may not hold, checked before a handler sees it: a NUL
character. No customer or agent types one, PostgreSQL cannot store one in text (a 500 on the
production database that SQLite would hide), and a path or query with one names nothing.

- `Incoming` is the base of every JSON body the back office takes: unknown fields refused, and no NUL
  anywhere in its text, keys included, however deep.
- `RefuseNul` is the ASGI middleware for the path and the query string of every request.
- `holds_nul` is the check itself, for the few bodies read by hand (the sign-in form).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

NUL = "\x00"
NUL_REFUSED = "text may not contain a NUL character"


def holds_nul(value: Any) -> bool:
    """Whether a NUL character is in this text, or in any text of this JSON value."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(holds_nul(v) for v in value)
    return False


class Incoming(BaseModel):
    """A request body: only the declared fields, and no NUL character in any of its text."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _without_nul(cls, data: Any) -> Any:
        if holds_nul(data):
            raise ValueError(NUL_REFUSED)
        return data


class RefuseNul:
    """422 for a request whose path or query string holds a NUL character (raw or %00)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (NUL in scope.get("path", "") or b"%00" in scope.get("query_string", b"")
                                        or b"\x00" in scope.get("query_string", b"")):
            await JSONResponse({"detail": NUL_REFUSED}, status_code=422)(scope, receive, send)
            return
        await self.app(scope, receive, send)
