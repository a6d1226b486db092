"""one-time codes: the source that asked (for its limits) and when the customer was told of an unused code

Codes asked for before this revision have no source: only their conversation's limits apply to them.
"""
import sqlalchemy as sa
from alembic import op

revision, down_revision = "0006", "0005"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("verification_attempts") as table:
        table.add_column(sa.Column("source", sa.String(16)))
        table.add_column(sa.Column("notified_at", TZ))
    op.create_index("ix_verification_attempts_source", "verification_attempts", ["source", "created_at"])
    op.create_index("ix_verification_attempts_unnotified", "verification_attempts", ["notified_at", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_verification_attempts_unnotified", "verification_attempts")
    op.drop_index("ix_verification_attempts_source", "verification_attempts")
    with op.batch_alter_table("verification_attempts") as table:
        table.drop_column("notified_at")
        table.drop_column("source")
