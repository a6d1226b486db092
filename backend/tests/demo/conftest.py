"""Fixtures of the demo tests: the identity tests' company systems and mail sink, as real processes."""
from __future__ import annotations

from ..identity.conftest import company, sink, sink_process  # noqa: F401 (fixtures)
