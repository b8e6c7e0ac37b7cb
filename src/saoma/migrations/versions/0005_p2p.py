"""Money between people: transfers, waiting transfers, red packets and their shares.

Revision ID: 0005_p2p
Revises: 0004_promotions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_p2p"
down_revision = "0004_promotions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "p2p_transfers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sender_id", sa.String(length=32), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=True),
        sa.Column("recipient_login", sa.String(length=254), server_default="", nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("note", sa.String(length=128), server_default="", nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("authorisation", sa.String(length=64), nullable=False),
        sa.Column("transfer_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["consumers.id"], name=op.f("fk_p2p_transfers_sender_id_consumers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_p2p_transfers")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_p2p_transfers_transfer_id")),
    )
    with op.batch_alter_table("p2p_transfers", schema=None) as batch_op:
        batch_op.create_index("ix_p2p_recipient", ["recipient_id", "created_at_us"], unique=False)
        batch_op.create_index("ix_p2p_sender", ["sender_id", "created_at_us"], unique=False)
        batch_op.create_index("ix_p2p_waiting", ["state", "recipient_login"], unique=False)

    op.create_table(
        "red_packets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sender_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("shares", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("greeting", sa.String(length=64), server_default="", nullable=False),
        sa.Column("claimed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("authorisation", sa.String(length=64), nullable=False),
        sa.Column("transfer_id", sa.String(length=64), nullable=False),
        sa.Column("returned", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["consumers.id"], name=op.f("fk_red_packets_sender_id_consumers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_packets")),
        sa.UniqueConstraint("account_id", name=op.f("uq_red_packets_account_id")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_red_packets_transfer_id")),
    )
    with op.batch_alter_table("red_packets", schema=None) as batch_op:
        batch_op.create_index("ix_red_packets_due", ["state", "expires_at_us"], unique=False)

    op.create_table(
        "red_packet_shares",
        sa.Column("packet_id", sa.String(length=32), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("claimer_id", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("claimed_at_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["packet_id"],
            ["red_packets.id"],
            name=op.f("fk_red_packet_shares_packet_id_red_packets"),
        ),
        sa.PrimaryKeyConstraint("packet_id", "idx", name=op.f("pk_red_packet_shares")),
        sa.UniqueConstraint("packet_id", "claimer_id", name=op.f("uq_red_packet_shares_packet_id")),
    )


def downgrade() -> None:
    op.drop_table("red_packet_shares")
    with op.batch_alter_table("red_packets", schema=None) as batch_op:
        batch_op.drop_index("ix_red_packets_due")

    op.drop_table("red_packets")
    with op.batch_alter_table("p2p_transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_p2p_waiting")
        batch_op.drop_index("ix_p2p_sender")
        batch_op.drop_index("ix_p2p_recipient")

    op.drop_table("p2p_transfers")
