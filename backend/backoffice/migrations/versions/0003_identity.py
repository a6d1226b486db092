"""identity verification: verification attempts (one-time codes, session tokens) and conversation identities"""
import sqlalchemy as sa
from alembic import op

revision, down_revision = "0003", "0002"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "verification_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("code_hash", sa.String(64)),
        sa.Column("salt", sa.String(64)),
        sa.Column("usable", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("expires_at", TZ),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("wrong_attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", TZ),
        sa.Column("verified_at", TZ),
        sa.Column("sent_at", TZ),
        sa.Column("last_attempt_at", TZ),
        sa.Column("outcome", sa.String(40)),
        sa.Column("created_at", TZ, nullable=False),
        sa.CheckConstraint("channel IN ('email', 'session')", name="ck_verification_attempts_channel"),
    )
    op.create_index("ix_verification_attempts_conversation", "verification_attempts", ["conversation_id", "created_at"])
    op.create_index("ix_verification_attempts_customer", "verification_attempts", ["customer_id", "created_at"])
    op.create_table(
        "conversation_identities",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(200), nullable=False, unique=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("verified_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("attempt_id", sa.Integer, sa.ForeignKey("verification_attempts.id")),
        sa.CheckConstraint("method IN ('email', 'session')", name="ck_conversation_identities_method"),
    )


def downgrade() -> None:
    op.drop_table("conversation_identities")
    op.drop_index("ix_verification_attempts_customer", table_name="verification_attempts")
    op.drop_index("ix_verification_attempts_conversation", table_name="verification_attempts")
    op.drop_table("verification_attempts")
