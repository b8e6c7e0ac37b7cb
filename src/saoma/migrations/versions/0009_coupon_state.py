"""A coupon's state holds "collected" (nine letters): the column was eight characters, which
PostgreSQL enforces (collecting a coupon failed there) and SQLite does not.

Revision ID: 0009_coupon_state
Revises: 0008_idem
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_coupon_state"
down_revision = "0008_idem"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("coupons") as batch:
        batch.alter_column(
            "state", existing_type=sa.String(8), type_=sa.String(16), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("coupons") as batch:
        batch.alter_column(
            "state", existing_type=sa.String(16), type_=sa.String(8), existing_nullable=False
        )
