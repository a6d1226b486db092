"""The headers every answer about a customer, and every page, carries: nothing of it is cached, and a
page loads nothing from elsewhere, is never framed and sends no referrer. The staff console's pages
load their style and scripts from the back office itself and run no inline script at all; the demo
website has the console's headers, its chat widget also reaching the chat server (`allowing`)."""
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


def allowing(headers: dict[str, str], **sources: str) -> dict[str, str]:
    """`headers` whose Content-Security-Policy also allows `sources` per directive, e.g.
    `allowing(CONSOLE_PAGE, connect_src="https://chat.example wss://chat.example")`."""
    directives = {name: value for name, _, value in (d.strip().partition(" ") for d in headers["Content-Security-Policy"].split(";"))}
    for name, extra in sources.items():
        directive = name.replace("_", "-")
        directives[directive] = f"{directives.get(directive, '')} {extra}".strip()
    return {**headers, "Content-Security-Policy": "; ".join(f"{k} {v}" for k, v in directives.items())}
