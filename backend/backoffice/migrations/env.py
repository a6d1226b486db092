from typing import Any

from alembic import context
from sqlalchemy import engine_from_config, pool

import backoffice.handoff.tables  # noqa: F401  (the handoff queue, notes, tickets)
import backoffice.identity.tables  # noqa: F401  (identity verification's tables)
import backoffice.my_data.tables  # noqa: F401  (download links of a customer's own data)
import backoffice.requests.tables  # noqa: F401  (the ledger's tables, so Base.metadata knows them)
import backoffice.staff.tables  # noqa: F401  (the staff console's accounts and sessions)
from backoffice.shared.database import Base

config = context.config
section: dict[str, Any] = config.get_section(config.config_ini_section) or {"sqlalchemy.url": config.get_main_option("sqlalchemy.url")}
connectable = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
