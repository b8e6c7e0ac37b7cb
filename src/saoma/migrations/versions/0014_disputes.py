"""Disputes between payers and merchants and their timelines.

Revision ID: 0014_disputes
Revises: 0013_kyc
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_disputes"
down_revision = "0013_kyc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=32), nullable=False),
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("text", sa.String(length=1000), server_default="", nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("answer_by_us", sa.BigInteger(), nullable=False),
        sa.Column("merchant_text", sa.String(length=1000), server_default="", nullable=False),
        sa.Column("decision", sa.String(length=8), server_default="", nullable=False),
        sa.Column("decided_by_role", sa.String(length=16), server_default="", nullable=False),
        sa.Column("refund_id", sa.String(length=32), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_disputes_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_disputes_payment_id")),
    )
    op.create_index(
        "ix_disputes_consumer", "disputes", ["consumer_id", "created_at_us"], unique=False
    )
    op.create_index(
        "ix_disputes_merchant", "disputes", ["merchant_id", "created_at_us"], unique=False
    )
    op.create_index("ix_disputes_state", "disputes", ["state", "answer_by_us"], unique=False)
    op.create_table(
        "dispute_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("dispute_id", sa.String(length=32), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("text", sa.String(length=1000), server_default="", nullable=False),
        sa.Column("file_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["disputes.id"], name=op.f("fk_dispute_events_dispute_id_disputes")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_dispute_events")),
    )
    op.create_index(
        "ix_dispute_events_dispute", "dispute_events", ["dispute_id", "seq"], unique=False
    )
    op.create_table(
        "dispute_files",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("dispute_id", sa.String(length=32), nullable=False),
        sa.Column("content_type", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["disputes.id"], name=op.f("fk_dispute_files_dispute_id_disputes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_files")),
    )


def downgrade() -> None:
    op.drop_table("dispute_files")
    op.drop_index("ix_dispute_events_dispute", table_name="dispute_events")
    op.drop_table("dispute_events")
    op.drop_index("ix_disputes_state", table_name="disputes")
    op.drop_index("ix_disputes_merchant", table_name="disputes")
    op.drop_index("ix_disputes_consumer", table_name="disputes")
    op.drop_table("disputes")
