"""Consent enforced by the database: on the wallet, the PIN tries being checked, today's no-PIN
spending and today's money sent to people; PIN checks recorded; every change of the no-PIN limits
recorded with its time.

Wallets that exist already get their current limits recorded as held since sign-up (their
history before this migration is not known). ``consent_rules`` records when these rules came into
force: a debit from before that moment authorised by ``pin`` without a check id is accepted by
``saoma check-authorisations``; one from after it is not.

Revision ID: 0008_consent
Revises: 0008_verify
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0008_consent"
down_revision = "0008_verify"
branch_labels = None
depends_on = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("consumers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pin_pending", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("pin_pending_since_us", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("no_pin_day", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("no_pin_spent", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("p2p_day", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("p2p_sent", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.create_table(
        "pin_checks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("checked_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name=op.f("fk_pin_checks_consumer_id_consumers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pin_checks")),
    )
    op.create_table(
        "no_pin_limit_changes",
        sa.Column("seq", BigIntPK, autoincrement=True, nullable=False),
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("per_payment", sa.BigInteger(), nullable=False),
        sa.Column("per_day", sa.BigInteger(), nullable=False),
        sa.Column("changed_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["consumers.id"],
            name=op.f("fk_no_pin_limit_changes_consumer_id_consumers"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_no_pin_limit_changes")),
    )
    with op.batch_alter_table("no_pin_limit_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_no_pin_limit_changes_consumer", ["consumer_id", "changed_at_us"], unique=False
        )
    op.create_table(
        "consent_rules",
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("since_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("rule", name=op.f("pk_consent_rules")),
    )
    op.execute(
        "INSERT INTO no_pin_limit_changes (consumer_id, per_payment, per_day, changed_at_us)"
        " SELECT id, no_pin_limit, no_pin_daily_limit, created_at_us FROM consumers"
    )
    added = sa.text("INSERT INTO consent_rules (rule, since_us) VALUES ('pin-checks', :now)")
    op.execute(added.bindparams(now=time.time_ns() // 1_000))


def downgrade() -> None:
    op.drop_table("consent_rules")
    with op.batch_alter_table("no_pin_limit_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_no_pin_limit_changes_consumer")
    op.drop_table("no_pin_limit_changes")
    op.drop_table("pin_checks")
    with op.batch_alter_table("consumers", schema=None) as batch_op:
        batch_op.drop_column("p2p_sent")
        batch_op.drop_column("p2p_day")
        batch_op.drop_column("no_pin_spent")
        batch_op.drop_column("no_pin_day")
        batch_op.drop_column("pin_pending_since_us")
        batch_op.drop_column("pin_pending")
