"""privacy requests: the privacy team's decision on an objection (Art. 21(1)), and when the customer was told of it"""
import sqlalchemy as sa
from alembic import op

revision, down_revision = "0012", "0011"


def upgrade() -> None:
    with op.batch_alter_table("privacy_requests") as table:
        table.add_column(sa.Column("decision", sa.String(20)))
        table.add_column(sa.Column("decided_at", sa.DateTime(timezone=True)))
        table.add_column(sa.Column("outcome_told_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("privacy_requests") as table:
        table.drop_column("outcome_told_at")
        table.drop_column("decided_at")
        table.drop_column("decision")
