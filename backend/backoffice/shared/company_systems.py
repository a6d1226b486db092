"""The back office's client of the company systems: one per process, with the systems' token and a
timeout on every call (a caller that must answer a chat sooner passes a shorter one)."""
from __future__ import annotations

import httpx2

from ..settings import Settings


def company_systems_client(settings: Settings, timeout: float) -> httpx2.Client:
    return httpx2.Client(
        base_url=settings.company_systems_url.rstrip("/"),
        timeout=httpx2.Timeout(timeout),
        headers={"Authorization": f"Bearer {settings.company_systems_token}"},
    )
