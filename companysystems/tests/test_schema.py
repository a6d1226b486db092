"""The committed OpenAPI document and the Alembic migration never drift from the code."""

from pathlib import Path

import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from companysystems.__main__ import openapi_document
from companysystems.app import create_app
from companysystems.config import Settings
from companysystems.data_operations import OPERATIONS, SYSTEMS
from companysystems.db import VERSION_TABLE, Base

OPENAPI = Path(__file__).resolve().parents[1] / "openapi.yaml"
REGENERATE = "regenerate it: cd companysystems && ../.venv/backoffice/bin/python -m companysystems openapi > openapi.yaml"


def test_committed_openapi_is_the_apps_schema():
    committed = OPENAPI.read_text(encoding="utf-8")
    assert yaml.safe_load(committed) == create_app(Settings(database_url="sqlite://")).openapi(), REGENERATE
    assert committed == openapi_document(), REGENERATE


def test_openapi_documents_every_system():
    paths = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))["paths"]
    for system in SYSTEMS:
        for operation in ("export", "erase", "restrict"):
            assert any(p == f"/systems/{system}/customers/{{customer_id}}/{operation}" for p in paths), (system, operation)
    assert "/systems/crm/customers/lookup" in paths and "/systems/crm/customers/{customer_id}/rectify" in paths
    assert "put" in paths["/systems/marketing/customers/{customer_id}/preferences"]
    erase = paths["/systems/orders/customers/{customer_id}/erase"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in erase["parameters"])
    assert erase["security"] == [{"systemsToken": []}]
    assert not any(p.startswith("/_faults") for p in paths)


# Where each operation a system may name in `GET /systems` is served.
OPERATION_ROUTES = {
    "lookup": ("get", "/systems/{system}/customers/lookup"),
    "export": ("get", "/systems/{system}/customers/{customer_id}/export"),
    "erase": ("post", "/systems/{system}/customers/{customer_id}/erase"),
    "restrict": ("post", "/systems/{system}/customers/{customer_id}/restrict"),
    "rectify": ("post", "/systems/{system}/customers/{customer_id}/rectify"),
    "preferences": ("put", "/systems/{system}/customers/{customer_id}/preferences"),
    "stop_processing": ("post", "/systems/{system}/customers/{customer_id}/stop_processing"),
}


def test_each_system_serves_exactly_the_operations_the_catalogue_names():
    paths = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))["paths"]
    for system in SYSTEMS:
        served = {
            op for op, (method, path) in OPERATION_ROUTES.items() if method in paths.get(path.replace("{system}", system), {})
        }
        assert served == set(OPERATIONS[system]), system
    assert set(OPERATIONS) == set(SYSTEMS)


def test_migration_matches_the_models(database_url):
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()
