"""the staff console: an account per person (agents and privacy officers) and their sessions

The audit trail's actor grows to name a person by their login (`privacy_officer:<e-mail>`).
"""
import sqlalchemy as sa
from alembic import op

revision, down_revision = "0007", "0006"

TZ = sa.DateTime(timezone=True)
APPEND_ONLY = "audit entries are append-only: they are never changed or deleted"  # as 0002 says it


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
    _actor_length(300, 100)


def _actor_length(new: int, old: int) -> None:
    """SQLite changes a column by copying the table, which drops its triggers: the audit log's
    append-only guard (0002) is made again on the copy."""
    with op.batch_alter_table("audit_entries") as table:
        table.alter_column("actor", type_=sa.String(new), existing_type=sa.String(old), existing_nullable=False)
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER IF NOT EXISTS audit_entries_no_{verb.lower()} BEFORE {verb} ON audit_entries "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    _actor_length(100, 300)
    op.drop_table("staff_sessions")
    op.drop_table("staff_members")
