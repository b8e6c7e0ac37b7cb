"""Owning a phone or e-mail: identifiers claimed by wallets, their codes, the sandbox outbox.

Wallets that exist already keep their login as an unverified claim: money sent to it waits (and
returns after a day) until the owner asks for a code and types it.

Revision ID: 0008_verify
Revises: 0008_lists
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_verify"
down_revision = "0008_lists"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identifiers",
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.Column("verified_at_us", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("code_hash", sa.String(length=64), server_default="", nullable=False),
        sa.Column("code_salt", sa.String(length=32), server_default="", nullable=False),
        sa.Column("code_expires_at_us", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("code_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("code_sent_at_us", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("sends", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sends_since_us", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name=op.f("fk_identifiers_consumer_id_consumers")
        ),
        sa.PrimaryKeyConstraint("consumer_id", "value", name=op.f("pk_identifiers")),
    )
    op.create_index("ix_identifiers_value", "identifiers", ["value"], unique=False)
    op.create_index(
        "uq_identifiers_verified_value",
        "identifiers",
        ["value"],
        unique=True,
        sqlite_where=sa.text("verified_at_us > 0"),
        postgresql_where=sa.text("verified_at_us > 0"),
    )
    op.execute(
        "INSERT INTO identifiers (consumer_id, value, created_at_us)"
        " SELECT id, login, created_at_us FROM consumers"
    )
    op.create_table(
        "identifier_sends",
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.Column("sends", sa.Integer(), server_default="0", nullable=False),
        sa.Column("since_us", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("value", name=op.f("pk_identifier_sends")),
    )
    op.create_table(
        "sandbox_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("body", sa.String(length=512), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_messages")),
    )
    op.create_index(
        "ix_sandbox_messages_recipient",
        "sandbox_messages",
        ["recipient", "created_at_us"],
        unique=False,
    )
    op.create_index(
        "ix_sandbox_messages_created", "sandbox_messages", ["created_at_us"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_sandbox_messages_created", table_name="sandbox_messages")
    op.drop_index("ix_sandbox_messages_recipient", table_name="sandbox_messages")
    op.drop_table("sandbox_messages")
    op.drop_table("identifier_sends")
    op.drop_index("uq_identifiers_verified_value", table_name="identifiers")
    op.drop_index("ix_identifiers_value", table_name="identifiers")
    op.drop_table("identifiers")
