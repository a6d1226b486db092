"""Command line of the back office: `validate` the knowledge base, `publish` it, `migrate` the database, `serve` the
API, run the outbox `worker`, the demo's local `mailsink`, or add a `staff` account to the console."""
from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from .catalogue import Catalogue, CatalogueError
from .knowledge.rules import KnowledgeError
from .knowledge.service import load_knowledge, publish_lock
from .settings import Settings, demo_mode_refusal
from .shared.database import SchemaNotCurrent


def catalogue_problems(settings: Settings) -> list[str]:
    """The system catalogue must be readable, and every variable it reads set."""
    try:
        Catalogue.load(settings.catalogue_file).connect(settings.catalogue_variables())
    except CatalogueError as exc:
        return [str(exc)]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(prog="backoffice")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("validate", help="check every version in the knowledge folder against the schema")
    sub.add_parser("publish", help="record the hash of newly published versions in published.lock")
    sub.add_parser("migrate", help="bring the database schema to the migrations' head; run it before serve and worker start")
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    worker = sub.add_parser("worker", help="deliver the privacy requests' system tasks to the company systems")
    worker.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    worker.add_argument("--id", dest="worker_id", help="name of this worker in leases and the audit log")
    worker.add_argument("--poll", dest="poll_interval", type=float, help="seconds between polls (WORKER_POLL_SECONDS)")
    worker.add_argument("--timeout", type=float, help="seconds per call to a system (WORKER_TIMEOUT_SECONDS)")
    worker.add_argument("--lease", type=float, help="seconds a claimed task stays with this worker (WORKER_LEASE_SECONDS)")
    worker.add_argument("--max-attempts", dest="max_attempts", type=int, help="attempts before a task fails (WORKER_MAX_ATTEMPTS)")
    worker.add_argument("--backoff-base", dest="backoff_base", type=float,
                        help="seconds before the first retry (WORKER_BACKOFF_BASE_SECONDS)")
    worker.add_argument("--backoff-cap", dest="backoff_cap", type=float, help="longest wait between retries (WORKER_BACKOFF_CAP_SECONDS)")
    sink = sub.add_parser("mailsink", help="the demo's local SMTP server: keeps every message in var/mail/ for the demo inbox")
    sink.add_argument("--host", default="127.0.0.1")
    sink.add_argument("--port", type=int, default=8025)
    sink.add_argument("--dir", dest="folder", help="where messages are kept (MAIL_SINK_DIR, default var/mail)")
    staff = sub.add_parser("staff", help="staff accounts of the console")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_commands.add_parser("add", help="add an account; the password is read from standard input")
    add.add_argument("--email", required=True, help="the login name")
    add.add_argument("--first-name", dest="first_name", required=True, help="the name customers see in the chat")
    add.add_argument("--full-name", dest="full_name", required=True)
    add.add_argument("--role", required=True, choices=["agent", "privacy_officer"])
    args = parser.parse_args()
    try:
        settings = Settings.from_env()
    except ValidationError as exc:
        for error in exc.errors():
            print(f"{Settings.variable_of(str(error['loc'][0]))}: {error['msg']}", file=sys.stderr)
        return 1
    try:
        return run(args, settings)
    except SchemaNotCurrent as exc:
        print(f"the back office does not start: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out the command; SchemaNotCurrent when it needs the database and the database is not migrated."""
    if args.command in ("migrate", "serve", "worker"):
        from .shared.logs import configure

        configure(settings.log_format, settings.service_token)  # LOG_FORMAT; Alembic's "Running upgrade ..." lines too

    if args.command == "migrate":
        from .shared.database import migrate

        migrate(settings.database_url)
        print("the database schema is at the migrations' head")
        return 0

    if args.command in ("serve", "worker"):
        from .handoff.service import DeskConfig

        problems = settings.problems() + DeskConfig.problems(settings) + catalogue_problems(settings)
        if problems:
            print("the back office does not start: " + "; ".join(problems), file=sys.stderr)
            return 1

    if args.command == "mailsink":
        from pathlib import Path

        from .demo.service import serve as run_sink

        return run_sink(Path(args.folder) if args.folder else settings.mail_dir, host=args.host, port=args.port)

    if args.command == "staff":
        from .staff.service import add_from_command_line

        return add_from_command_line(settings, args.email, args.first_name, args.full_name, args.role)

    if args.command == "worker":
        from .worker import main as run_worker

        options = {k: v for k, v in vars(args).items() if k not in ("command", "once", "worker_id")}
        return run_worker(settings, once=args.once, worker_id=args.worker_id, **options)

    try:
        if args.command == "publish":
            lock = publish_lock(settings.knowledge_dir)
            print(f"published versions: {', '.join(sorted(lock))}")
        kb = load_knowledge(settings.knowledge_dir)
    except KnowledgeError as exc:
        print(f"knowledge base invalid: {exc}", file=sys.stderr)
        return 1
    if args.command in ("validate", "publish"):
        print(f"knowledge base valid: {len(kb.versions)} versions, current {kb.current().version.id}")
        return 0

    refusal = demo_mode_refusal(settings, args.host)
    if refusal:
        print(refusal, file=sys.stderr)
        return 1

    import uvicorn

    from .app import create_app

    try:
        app = create_app(settings)
    except KnowledgeError as exc:
        print(f"knowledge base invalid: {exc}", file=sys.stderr)
        return 1
    from .shared.http_protocol import with_header_timeout

    # An agent's console holds a live stream open for minutes: a stop waits for them this long, then closes them.
    # Forwarding headers are believed only from TRUSTED_PROXIES, by the app itself (not uvicorn's loopback default).
    # Logging is shared.logs' (no log_config of uvicorn's own), and no access log: a path holds a conversation's id.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", log_config=None, access_log=False, timeout_graceful_shutdown=5,
                proxy_headers=False, http=with_header_timeout(settings.request_header_timeout_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
