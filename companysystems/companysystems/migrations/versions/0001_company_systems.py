"""company systems: crm, orders, loyalty, marketing, wifi, service, and the contract's bookkeeping"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0001", None


def ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def customer(nullable: bool = False, primary_key: bool = False) -> sa.Column:
    return sa.Column(
        "customer_id",
        sa.String(32),
        sa.ForeignKey("customers.id"),
        nullable=nullable,
        primary_key=primary_key,
        index=not primary_key,
    )


def upgrade() -> None:
    op.create_table("customers", sa.Column("id", sa.String(32), primary_key=True), ts("created_at"))

    op.create_table(
        "crm_contacts",
        customer(primary_key=True),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("street", sa.String(120), nullable=False),
        sa.Column("house_number", sa.String(20), nullable=False),
        sa.Column("postcode", sa.String(16), nullable=False),
        sa.Column("city", sa.String(80), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("email", sa.String(254), nullable=False, index=True),
        sa.Column("phone", sa.String(32)),
        ts("updated_at"),
    )
    op.create_table(
        "crm_accounts",
        customer(primary_key=True),
        sa.Column("login_email", sa.String(254), nullable=False, index=True),
        ts("created_at"),
        ts("last_login_at", nullable=True),
        sa.Column("date_of_birth", sa.Date),
    )

    op.create_table(
        "orders_orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_number", sa.String(32), nullable=False, unique=True),
        customer(nullable=True),
        ts("ordered_at"),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("store", sa.String(80)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("delivery_name", sa.String(200)),
        sa.Column("delivery_address", sa.String(300)),
        sa.Column("total_cents", sa.Integer, nullable=False),
        ts("anonymised_at", nullable=True),
    )
    op.create_table(
        "orders_lines",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("orders_orders.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("sku", sa.String(32), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price_cents", sa.Integer, nullable=False),
    )
    op.create_table(
        "orders_invoices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("invoice_number", sa.String(32), nullable=False, unique=True),
        customer(),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("orders_orders.id", ondelete="SET NULL"), index=True),
        ts("issued_at"),
        sa.Column("billing_name", sa.String(200), nullable=False),
        sa.Column("billing_address", sa.String(300), nullable=False),
        sa.Column("lines", sa.JSON, nullable=False),
        sa.Column("total_cents", sa.Integer, nullable=False),
        sa.Column("vat_cents", sa.Integer, nullable=False),
    )
    op.create_table(
        "orders_payments",
        sa.Column("id", sa.Integer, primary_key=True),
        customer(),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("orders_orders.id", ondelete="SET NULL"), index=True),
        ts("paid_at"),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("card_last4", sa.String(4)),
        sa.Column("amount_cents", sa.Integer, nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
    )
    op.create_table(
        "orders_refund_accounts",
        customer(primary_key=True),
        sa.Column("iban", sa.String(34), nullable=False),
        sa.Column("account_holder", sa.String(200), nullable=False),
        ts("added_at"),
    )

    op.create_table(
        "loyalty_cards",
        customer(primary_key=True),
        sa.Column("card_number", sa.String(32), nullable=False, unique=True),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("points_balance", sa.Integer, nullable=False),
        ts("enrolled_at"),
    )
    op.create_table(
        "loyalty_transactions",
        sa.Column("id", sa.Integer, primary_key=True),
        customer(),
        ts("occurred_at"),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("store", sa.String(80)),
    )
    op.create_table(
        "loyalty_profile_segments",
        sa.Column("id", sa.Integer, primary_key=True),
        customer(),
        sa.Column("segment", sa.String(40), nullable=False),
        ts("assigned_at"),
        sa.UniqueConstraint("customer_id", "segment"),
    )

    op.create_table(
        "marketing_consents",
        customer(primary_key=True),
        sa.Column("purpose", sa.String(40), primary_key=True),
        sa.Column("granted", sa.Boolean, nullable=False),
        ts("changed_at"),
        sa.Column("source", sa.String(80), nullable=False),
    )

    op.create_table(
        "wifi_devices",
        sa.Column("mac_hash", sa.String(64), primary_key=True),
        customer(),
        ts("registered_at"),
    )
    op.create_table(
        "wifi_store_visits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("mac_hash", sa.String(64), nullable=False, index=True),
        sa.Column("store", sa.String(80), nullable=False),
        ts("entered_at"),
        ts("left_at", nullable=True),
    )

    op.create_table(
        "service_tickets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ticket_number", sa.String(32), nullable=False, unique=True),
        customer(),
        ts("opened_at"),
        ts("closed_at", nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "service_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ticket_id", sa.Integer, sa.ForeignKey("service_tickets.id", ondelete="CASCADE"), nullable=False, index=True),
        ts("written_at"),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )

    op.create_table(
        "restrictions",
        sa.Column("id", sa.Integer, primary_key=True),
        customer(),
        sa.Column("system", sa.String(20), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        ts("restricted_at"),
        sa.UniqueConstraint("customer_id", "system", "category"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("system", sa.String(20), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("operation", sa.String(20), nullable=False),
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response", sa.JSON),
        ts("created_at"),
    )
    op.create_table(
        "actions_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("system", sa.String(20), nullable=False, index=True),
        sa.Column("customer_id", sa.String(32), nullable=False, index=True),
        sa.Column("operation", sa.String(20), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        ts("executed_at"),
    )


def downgrade() -> None:
    for table in (
        "actions_log",
        "idempotency_keys",
        "restrictions",
        "service_notes",
        "service_tickets",
        "wifi_store_visits",
        "wifi_devices",
        "marketing_consents",
        "loyalty_profile_segments",
        "loyalty_transactions",
        "loyalty_cards",
        "orders_refund_accounts",
        "orders_payments",
        "orders_invoices",
        "orders_lines",
        "orders_orders",
        "crm_accounts",
        "crm_contacts",
        "customers",
    ):
        op.drop_table(table)
