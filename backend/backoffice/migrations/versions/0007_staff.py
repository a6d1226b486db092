"""the staff console: an account per person (agents and privacy officers) and their sessions

The audit trail's actor grows to name a person by their login (`privacy_officer:<e-mail>`).
"""
import sqlalchemy as sa
from alembic import op

revision, down_revision = "0007", "0006"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_members",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("full_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", TZ),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", TZ, nullable=False),
        sa.CheckConstraint("role IN ('agent', 'privacy_officer')", name="ck_staff_members_role"),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("staff_id", sa.Integer, sa.ForeignKey("staff_members.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
    )
    with op.batch_alter_table("audit_entries") as table:
        table.alter_column("actor", type_=sa.String(300), existing_type=sa.String(100), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_entries") as table:
        table.alter_column("actor", type_=sa.String(100), existing_type=sa.String(300), existing_nullable=False)
    op.drop_table("staff_sessions")
    op.drop_table("staff_members")
