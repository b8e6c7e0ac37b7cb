"""Payment codes: devices, one-time handles, failed tries per terminal.

Revision ID: 0006_paycode
Revises: 0005_p2p
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_paycode"
down_revision = "0005_p2p"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.alter_column(
            "state", existing_type=sa.String(length=16), type_=sa.String(length=20)
        )
    op.create_table(
        "paycode_devices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("wallet_id", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.LargeBinary(length=32), nullable=False),
        sa.Column("label", sa.String(length=64), server_default="", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paycode_devices")),
    )
    with op.batch_alter_table("paycode_devices", schema=None) as batch_op:
        batch_op.create_index("ix_paycode_devices_wallet", ["wallet_id"], unique=False)

    op.create_table(
        "paycode_failures",
        sa.Column("terminal", sa.String(length=100), nullable=False),
        sa.Column("window_start_us", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("terminal", name=op.f("pk_paycode_failures")),
    )
    op.create_table(
        "paycode_handles",
        sa.Column("handle", sa.String(length=10), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("used_at_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["paycode_devices.id"],
            name=op.f("fk_paycode_handles_device_id_paycode_devices"),
        ),
        sa.PrimaryKeyConstraint("handle", name=op.f("pk_paycode_handles")),
    )
    with op.batch_alter_table("paycode_handles", schema=None) as batch_op:
        batch_op.create_index("ix_paycode_handles_device", ["device_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.alter_column(
            "state", existing_type=sa.String(length=20), type_=sa.String(length=16)
        )
    with op.batch_alter_table("paycode_handles", schema=None) as batch_op:
        batch_op.drop_index("ix_paycode_handles_device")

    op.drop_table("paycode_handles")
    op.drop_table("paycode_failures")
    with op.batch_alter_table("paycode_devices", schema=None) as batch_op:
        batch_op.drop_index("ix_paycode_devices_wallet")

    op.drop_table("paycode_devices")
