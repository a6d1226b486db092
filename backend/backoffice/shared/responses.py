"""The headers every answer about a customer, and every page, carries: nothing of it is cached, and a
page loads nothing from elsewhere, is never framed and sends no referrer."""
from __future__ import annotations

PRIVATE = {"Cache-Control": "no-store"}
PAGE = {
    **PRIVATE,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
