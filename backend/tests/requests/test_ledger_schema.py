"""The ledger's tables as migration 0002 creates them are the tables the models describe, on both databases."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import backoffice.requests.tables  # noqa: F401  (registers the ledger's models on Base.metadata)
from backoffice.shared.database import Base


def test_migration_and_models_agree(ledger_url):
    engine = create_engine(ledger_url)
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        tables = set(inspect(engine).get_table_names())
        assert {"privacy_requests", "system_tasks", "audit_entries", "consent_states"} <= tables
        uniques = {tuple(u["column_names"]) for u in inspect(engine).get_unique_constraints("privacy_requests")}
        indexes = {tuple(i["column_names"]) for i in inspect(engine).get_indexes("privacy_requests") if i.get("unique")}
        assert ("client_request_id",) in uniques | indexes  # de-duplication is the database's job, not luck
    finally:
        engine.dispose()
