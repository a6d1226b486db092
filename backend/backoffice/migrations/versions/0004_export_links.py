"""download links for a customer's own data: every link issued and every download"""
import sqlalchemy as sa
from alembic import op

revision, down_revision = "0004", "0003"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "export_links",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("issued_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
    )
    op.create_table(
        "export_downloads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("jti", sa.String(64), sa.ForeignKey("export_links.jti"), nullable=False, index=True),
        sa.Column("format", sa.String(4), nullable=False),
        sa.Column("downloaded_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("export_downloads")
    op.drop_table("export_links")
