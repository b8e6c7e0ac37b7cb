"""Indexes for the lists: every list reads one party's rows newest first along an index.

A consumer's holds, a merchant's holds and refunds, and a payment's refunds had no index on
their owner: each page was a scan of the whole table.

Revision ID: 0008_lists
Revises: 0008_hooks
"""

from __future__ import annotations

from alembic import op

revision = "0008_lists"
down_revision = "0008_hooks"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_preauths_consumer": ("preauths", ["consumer_id", "created_at_us", "id"]),
    "ix_preauths_merchant": ("preauths", ["merchant_id", "created_at_us", "id"]),
    "ix_refunds_merchant": ("refunds", ["merchant_id", "created_at_us", "id"]),
    "ix_refunds_payment": ("refunds", ["payment_id", "created_at_us"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in reversed(INDEXES.items()):
        op.drop_index(name, table_name=table)
