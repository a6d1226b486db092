"""one-time codes: the keyed hash of the typed address, so its limits count every ask for it,
a customer's address or not

Codes asked for before this revision have no address key: they no longer count against any address.
"""
import sqlalchemy as sa
from alembic import op

revision, down_revision = "0011", "0010"


def upgrade() -> None:
    with op.batch_alter_table("verification_attempts") as table:
        table.add_column(sa.Column("address_key", sa.String(64)))
    op.create_index("ix_verification_attempts_address", "verification_attempts", ["address_key", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_verification_attempts_address", "verification_attempts")
    with op.batch_alter_table("verification_attempts") as table:
        table.drop_column("address_key")
