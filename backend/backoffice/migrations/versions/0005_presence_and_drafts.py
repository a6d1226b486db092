"""verification bound to where it happened (channel, connection hashes); request drafts awaiting a "yes"

Bindings made before this revision have no channel, so they match no message: those conversations
verify again (safe, and at most IDENTITY_MINUTES of inconvenience).
"""
import sqlalchemy as sa
from alembic import op

revision, down_revision = "0005", "0004"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("conversation_identities") as table:
        table.add_column(sa.Column("channel", sa.String(40), nullable=False, server_default=""))
        table.add_column(sa.Column("connections", sa.JSON, nullable=False, server_default="[]"))
    op.create_table(
        "request_drafts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("conversation_id", sa.String(200), nullable=False, index=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("categories", sa.JSON),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("knowledge_version", sa.String(50)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("request_id", sa.String(40), sa.ForeignKey("privacy_requests.id")),
        sa.Column("filed_at", TZ),
    )


def downgrade() -> None:
    op.drop_table("request_drafts")
    with op.batch_alter_table("conversation_identities") as table:
        table.drop_column("connections")
        table.drop_column("channel")
