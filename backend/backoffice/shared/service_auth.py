"""The assistant's service token: every call the action server makes carries it (`Authorization: Bearer ...`)."""
from __future__ import annotations

import hmac

from fastapi import Header, HTTPException

from .dependencies import SettingsDep


def require_service(settings: SettingsDep, authorization: str = Header(default="")) -> None:
    """A FastAPI dependency that refuses (401) a call without the service token, in constant time."""
    if not hmac.compare_digest(authorization.encode(), f"Bearer {settings.service_token}".encode()):
        raise HTTPException(401, "a valid service token is required")
