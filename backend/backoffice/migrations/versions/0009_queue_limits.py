"""the queue's limits: which client address (keyed hash) each chat came from, and whether Rasa has
stored the turn that handed it over"""
import sqlalchemy as sa
from alembic import op

revision, down_revision = "0009", "0008"


def upgrade() -> None:
    with op.batch_alter_table("queue_entries") as table:
        table.add_column(sa.Column("source", sa.String(16)))
        # the entries already open were queued before this: their hand-over turns are long stored
        table.add_column(sa.Column("handover_stored", sa.Boolean, nullable=False, server_default=sa.true()))
    op.create_index("ix_queue_entries_source", "queue_entries", ["source"])


def downgrade() -> None:
    op.drop_index("ix_queue_entries_source", "queue_entries")
    with op.batch_alter_table("queue_entries") as table:
        table.drop_column("handover_stored")
        table.drop_column("source")
