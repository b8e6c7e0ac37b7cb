"""The browsers and apps an account signed in from: their password checks are not held back by
guesses made elsewhere.

Revision ID: 0024_sign_in_devices
Revises: 0023_sign_in_tries
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_sign_in_devices"
down_revision = "0023_sign_in_tries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_devices",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("account_key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("sign_in_devices_account", "sign_in_devices", ["account_key"])
    op.create_index("sign_in_devices_expiry", "sign_in_devices", ["expires_at_us"])


def downgrade() -> None:
    op.drop_index("sign_in_devices_expiry", table_name="sign_in_devices")
    op.drop_index("sign_in_devices_account", table_name="sign_in_devices")
    op.drop_table("sign_in_devices")
