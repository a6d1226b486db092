"""Command line of the back office: `validate` the knowledge base, `publish` it, or `serve` the API."""
from __future__ import annotations

import argparse
import sys

from .config import Settings
from .knowledge import KnowledgeBase, KnowledgeError


def main() -> int:
    parser = argparse.ArgumentParser(prog="backoffice")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("validate", help="check every version in the knowledge folder against the schema")
    sub.add_parser("publish", help="record the hash of newly published versions in published.lock")
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    settings = Settings.from_env()

    try:
        if args.command == "publish":
            lock = KnowledgeBase.publish_lock(settings.knowledge_dir)
            print(f"published versions: {', '.join(sorted(lock))}")
        kb = KnowledgeBase.load(settings.knowledge_dir)
    except KnowledgeError as exc:
        print(f"knowledge base invalid: {exc}", file=sys.stderr)
        return 1
    if args.command in ("validate", "publish"):
        print(f"knowledge base valid: {len(kb.versions)} versions, current {kb.current().version.id}")
        return 0

    import uvicorn

    from .app import create_app

    try:
        app = create_app(settings)
    except KnowledgeError as exc:
        print(f"knowledge base invalid: {exc}", file=sys.stderr)
        return 1
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
