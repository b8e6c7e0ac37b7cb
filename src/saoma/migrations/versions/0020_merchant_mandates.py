"""The merchant's list of mandates, newest first, reads an index of its own.

Revision ID: 0020_merchant_mandates
Revises: 0019_paycode_tries_under_way
"""

from __future__ import annotations

from alembic import op

revision = "0020_merchant_mandates"
down_revision = "0019_paycode_tries_under_way"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_mandates_merchant", "mandates", ["merchant_id", "created_at_us", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_mandates_merchant", table_name="mandates")
