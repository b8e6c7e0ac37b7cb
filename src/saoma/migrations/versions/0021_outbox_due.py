"""The webhooks still to deliver get a table of their own (``outbox_due``), and the outbox loses
its index of due events: claiming an event and recording its delivery no longer write a new
version of the outbox's row into every index of the outbox.

Revision ID: 0021_outbox_due
Revises: 0020_merchant_mandates
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_outbox_due"
down_revision = "0020_merchant_mandates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "outbox_due",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("next_attempt_at_us", sa.BigInteger(), nullable=False),
        sa.Column("leased_until_us", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox_due")),
    )
    if postgres:
        # Each claim updates a due row in place: leave it room on its page.
        op.execute("ALTER TABLE outbox_due SET (fillfactor = 50)")
    with op.batch_alter_table("outbox_due", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due_next", ["next_attempt_at_us"], unique=False)
        batch_op.create_index("ix_outbox_due_subject", ["subject", "seq"], unique=False)
    op.execute(
        "INSERT INTO outbox_due (seq, subject, next_attempt_at_us, leased_until_us)"
        " SELECT seq, subject, next_attempt_at_us, 0 FROM outbox"
        " WHERE delivered_at_us IS NULL AND url != ''"
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")
    if postgres:
        # An event's row is updated once more when its delivery is recorded: room for that HOT
        # update on the row's own page (pages written from now on).
        op.execute("ALTER TABLE outbox SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE outbox RESET (fillfactor)")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_due", ["delivered_at_us", "next_attempt_at_us"], unique=False
        )
    with op.batch_alter_table("outbox_due", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due_subject")
        batch_op.drop_index("ix_outbox_due_next")
    op.drop_table("outbox_due")
