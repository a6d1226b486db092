"""handing chats to a person: the queue, agents' notes, the handoff's audit log, tickets, agents' presence"""
import sqlalchemy as sa
from alembic import op

revision, down_revision = "0008", "0007"

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "queue_entries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("reason", sa.String(30), nullable=False),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("verified_by", sa.String(10)),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("claimed_by", sa.Integer),
        sa.Column("claimed_by_name", sa.String(100)),
        sa.Column("agent_seen_at", TZ),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("claimed_at", TZ),
        sa.Column("ended_at", TZ),
        sa.Column("ended_because", sa.String(200)),
        sa.Column("customer_away_at", TZ),
        sa.Column("last_event_id", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_queue_entries_conversation_id", "queue_entries", ["conversation_id"])
    op.create_index("ix_queue_entries_state", "queue_entries", ["state"])
    op.create_table(
        "agent_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entry_id", sa.String(40), nullable=False),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("staff_id", sa.Integer, nullable=False),
        sa.Column("staff_name", sa.String(100), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_index("ix_agent_notes_entry_id", "agent_notes", ["entry_id"])
    op.create_index("ix_agent_notes_conversation_id", "agent_notes", ["conversation_id"])
    op.create_table(
        "handoff_audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entry_id", sa.String(40), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(150), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_handoff_audit_entry_id", "handoff_audit", ["entry_id"])
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("reason", sa.String(30), nullable=False),
        sa.Column("transcript", sa.JSON, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("answer_by", sa.Date, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
    )
    op.create_index("ix_tickets_conversation_id", "tickets", ["conversation_id"])
    op.create_index("ix_tickets_customer_id", "tickets", ["customer_id"])
    op.create_table(
        "agent_presence",
        sa.Column("staff_id", sa.Integer, primary_key=True),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("seen_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in ("agent_presence", "tickets", "handoff_audit", "agent_notes", "queue_entries"):
        op.drop_table(table)
