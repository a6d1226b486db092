"""Command line of the company systems: `serve` the contract, `seed` the demo customers, print the `openapi` document."""

from __future__ import annotations

import argparse
import asyncio
import sys

import h11
import yaml
from uvicorn.protocols.http.h11_impl import H11Protocol

from .config import DEFAULT_TOKEN, Settings


def openapi_document() -> str:
    """The contract as YAML, from the app itself (faults off: they are no part of the contract)."""
    from .app import create_app

    schema = create_app(Settings(database_url="sqlite://", faults=False)).openapi()
    return yaml.dump(schema, Dumper=BlockDumper, sort_keys=False, allow_unicode=True, width=120)


class BlockDumper(yaml.SafeDumper):
    """Multi-line texts as readable `|` blocks."""


BlockDumper.add_representer(
    str, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)
)


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for a request's head, which uvicorn lacks: `header_timeout`
    seconds from connecting, or from the end of the previous response, to send the request line and
    headers, else the connection is closed (the back office's `shared/http_protocol.py` does the same)."""

    header_timeout = 10.0
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE and self._head_deadline is not None:  # the request's head is in
            self._head_deadline.cancel()
            self._head_deadline = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE:
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        if self._head_deadline is None and not self.transport.is_closing():
            self._head_deadline = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE:
            self.transport.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="companysystems")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP service (migrates and seeds the database first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8100)
    serve.add_argument("--header-timeout", dest="header_timeout", type=float, default=10.0,
                       help="seconds a client has to send a request's line and headers (default 10)")
    seed_cmd = sub.add_parser("seed", help="add the demo customers if the database has none")
    seed_cmd.add_argument("--reset", action="store_true", help="empty every table first, then seed again")
    sub.add_parser("openapi", help="print the OpenAPI document (YAML)")
    args = parser.parse_args()

    if args.command == "openapi":
        sys.stdout.write(openapi_document())
        return 0

    settings = Settings.from_env()
    if args.command == "seed":
        from .db import connect
        from .seed import reset, seed

        _, Session = connect(settings.database_url)
        if args.reset:
            reset(Session)
        added = seed(Session)
        print(f"seeded {added} customers" if added else "already seeded; nothing added")
        return 0

    import uvicorn

    from .app import create_app

    if settings.token == DEFAULT_TOKEN:
        print("warning: COMPANY_SYSTEMS_TOKEN is the default; set a secret one outside a laptop demo", file=sys.stderr)
    if settings.faults:
        print("warning: fault injection is on (COMPANY_SYSTEMS_FAULTS=1)", file=sys.stderr)
    protocol = type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": args.header_timeout})
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning", http=protocol)
    return 0


if __name__ == "__main__":
    sys.exit(main())
