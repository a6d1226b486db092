"""Fixtures of the operator's endpoints' tests: the ledger's (real databases, the real company systems
and workers delivering to them), and the back office as an app on such a database."""
from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from backoffice.settings import Settings

from ..requests.conftest import (  # noqa: F401 (fixtures, used by name)
    KNOWLEDGE,
    ROOT,
    SYSTEMS_TOKEN,
    Session,
    company_process,
    kb,
    knowledge,
    ledger_url,
    make_worker,
    systems,
)

SERVICE_TOKEN = "operations-service-token-0123456789abcdef"


def settings_for(database_url: str, **changes: Any) -> Settings:
    values: dict[str, Any] = dict(
        knowledge_dir=KNOWLEDGE, web_dir=ROOT / "web", database_url=database_url, service_token=SERVICE_TOKEN,
        company_systems_token=SYSTEMS_TOKEN, console_insecure_cookies=True, **changes,
    )
    return Settings(**values)


def samples(text: str) -> dict[str, float]:
    """Every sample of a Prometheus text answer, by its name and labels as written ('name{a="b"}')."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found
