"""privacy request ledger: requests, system tasks (the outbox), append-only audit log, consent states"""
import sqlalchemy as sa
from alembic import op

revision, down_revision = "0002", "0001"

TZ = sa.DateTime(timezone=True)
APPEND_ONLY = "audit entries are append-only: they are never changed or deleted"


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False, index=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("regime", sa.String(10), nullable=False, server_default="GDPR"),
        sa.Column("status", sa.String(30), nullable=False, index=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("due_on", sa.Date, nullable=False, index=True),
        sa.Column("original_due_on", sa.Date, nullable=False),
        sa.Column("extended", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("extension_reason", sa.Text),
        sa.Column("denial_reason", sa.Text),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("channel", sa.String(40)),
        sa.Column("conversation_id", sa.String(200), index=True),
        sa.Column("client_request_id", sa.String(200), nullable=False, unique=True),
        sa.Column("knowledge_version", sa.String(50)),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("closed_at", TZ),
    )
    op.create_table(
        "system_tasks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.String(40), sa.ForeignKey("privacy_requests.id"), nullable=False, index=True),
        sa.Column("system", sa.String(20), nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("operation", sa.String(20), nullable=False),
        sa.Column("payload", sa.JSON),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ),
        sa.Column("last_error", sa.Text),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("locked_by", sa.String(100)),
        sa.Column("locked_until", TZ),
        sa.Column("completed_at", TZ),
        sa.Column("result", sa.JSON),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("request_id", "system", name="uq_system_tasks_request_system"),
    )
    op.create_index("ix_system_tasks_due", "system_tasks", ["state", "next_attempt_at"])
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.String(40), sa.ForeignKey("privacy_requests.id"), nullable=False, index=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("from_status", sa.String(30)),
        sa.Column("to_status", sa.String(30)),
        sa.Column("reason", sa.Text),
        sa.Column("detail", sa.JSON),
    )
    op.create_table(
        "consent_states",
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("purpose", sa.String(40), primary_key=True),
        sa.Column("granted", sa.Boolean, nullable=False),
        sa.Column("changed_at", TZ, nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
    )

    # The database itself refuses to change or delete an audit entry, whatever code connects to it.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries "
            "FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entries_no_{verb.lower()} BEFORE {verb} ON audit_entries "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries")
        op.execute("DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries")
        op.execute("DROP FUNCTION IF EXISTS audit_entries_append_only()")
    op.drop_table("consent_states")
    op.drop_table("audit_entries")
    op.drop_index("ix_system_tasks_due", table_name="system_tasks")
    op.drop_table("system_tasks")
    op.drop_table("privacy_requests")
