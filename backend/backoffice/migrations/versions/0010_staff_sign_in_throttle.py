"""staff sign-in without a lock: the throttle's counts shared by every back office, and the browsers
each member of staff signed in on (their sign-ins are not held by strangers' wrong passwords)

The accounts' own count of wrong passwords and their 15-minute lock are dropped.
"""
import sqlalchemy as sa
from alembic import op

revision, down_revision = "0010", "0009"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", TZ, nullable=False),
        sa.Column("wait_until", TZ),
    )
    op.create_index("ix_login_failures_last_failure_at", "login_failures", ["last_failure_at"])
    op.create_table(
        "staff_devices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("staff_id", sa.Integer, sa.ForeignKey("staff_members.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_used_at", TZ, nullable=False),
    )
    with op.batch_alter_table("staff_members") as table:
        table.drop_column("failed_logins")
        table.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("staff_members") as table:
        table.add_column(sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"))
        table.add_column(sa.Column("locked_until", TZ))
    op.drop_table("staff_devices")
    op.drop_index("ix_login_failures_last_failure_at", "login_failures")
    op.drop_table("login_failures")
