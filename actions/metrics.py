"""The action server's figures for /metrics (actions/server.py serves them): how long each action
takes, and how often its calls of the back office fail, by the action's name only (a conversation's
id or anything a customer typed is never a label).

`running` is the action the current call runs (set by the server for the call's task), so the
back-office client (actions/backoffice.py) can count a failure against it without being told.
"""
from __future__ import annotations

from contextvars import ContextVar

from prometheus_client import CollectorRegistry, Counter, Histogram

# An action's name outside the action server's own list (a call for an action it does not have).
UNKNOWN = "unknown"
# Seconds until the action server answered Rasa: most actions call the back office once or twice
# (a timeout of 3 s each); Rasa waits at most its lock's 60 s.
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

registry = CollectorRegistry()
action_seconds = Histogram("actions_action_duration_seconds", "Seconds an action call took, by action.", ["action"],
                           buckets=BUCKETS, registry=registry)
backoffice_errors = Counter("actions_backoffice_errors", "Calls of the back office that failed, by action and kind "
                            "(unavailable: no answer, a timeout or a 5xx; refused: a 4xx).", ["action", "kind"],
                            registry=registry)
running: ContextVar[str] = ContextVar("running_action", default=UNKNOWN)


def backoffice_error(kind: str) -> None:
    """Count a failed call of the back office against the action running now."""
    backoffice_errors.labels(running.get(), kind).inc()
