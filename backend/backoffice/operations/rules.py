"""What an operator's tools read, decided without the web or the database: the labels of the HTTP
latency histogram, and who may read /metrics."""
from __future__ import annotations

import hmac

# The route label of a call no route matched (a scan, a typo): never its raw path, which may hold
# anything a caller sent.
UNMATCHED = "unmatched"
# Seconds until an answer starts (its status line): a live stream of the staff console counts until it
# opens, not for the minutes it stays open.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def route_label(template: str | None) -> str:
    """A route's template ("/api/requests/{request_id}"), never the path it was called with: the ids in
    a path (a conversation's, a request's) are no label."""
    return template or UNMATCHED


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """The HTTP method, or "other" for one a client made up (each would be a series of its own)."""
    return method if method in METHODS else "other"


def status_class(status: int) -> str:
    """200 -> "2xx": five values at most."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "5xx"


def may_read_metrics(token: str, authorization: str) -> bool:
    """Without METRICS_TOKEN anyone who reaches /metrics reads it; with it, only `Bearer <token>` (in constant time)."""
    if not token:
        return True
    return hmac.compare_digest(authorization.encode("utf-8", "surrogateescape"), f"Bearer {token}".encode())
