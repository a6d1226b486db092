"""processings stopped per customer, system and purpose after an upheld objection (Art. 21(1))"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0002", "0001"


def upgrade() -> None:
    op.create_table(
        "processing_stops",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.String(32), sa.ForeignKey("customers.id"), nullable=False, index=True),
        sa.Column("system", sa.String(20), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("customer_id", "system", "purpose"),
    )


def downgrade() -> None:
    op.drop_table("processing_stops")
