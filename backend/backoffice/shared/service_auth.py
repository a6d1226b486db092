"""The assistant's service token: every call the action server makes carries it (`Authorization: Bearer ...`)."""
from __future__ import annotations

import hmac
from typing import Callable

from fastapi import Header, HTTPException

from ..settings import Settings


def service_token_required(settings: Settings) -> Callable[[str], None]:
    """A FastAPI dependency that refuses (401) a call without the service token, in constant time."""
    expected = f"Bearer {settings.service_token}".encode()

    def require_service(authorization: str = Header(default="")) -> None:
        if not hmac.compare_digest(authorization.encode(), expected):
            raise HTTPException(401, "a valid service token is required")

    return require_service
