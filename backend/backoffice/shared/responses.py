"""The headers every answer about a customer, and every page, carries: nothing of it is cached, and a
page loads nothing from elsewhere, is never framed and sends no referrer. The staff console's pages
load their style and scripts from the back office itself and run no inline script at all."""
from __future__ import annotations

PRIVATE = {"Cache-Control": "no-store"}
PAGE = {
    **PRIVATE,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
CONSOLE_PAGE = {
    **PAGE,
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
}
