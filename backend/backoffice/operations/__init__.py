"""What an operator watches: liveness, readiness and /metrics (docs/operations.md)."""
