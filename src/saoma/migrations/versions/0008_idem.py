"""Charges keep a hash of the payer's code, so a till's order number reused with another code is
told apart from a retry without keeping the code itself.

Revision ID: 0008_idem
Revises: 0008_consent
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_idem"
down_revision = "0008_consent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("charges") as batch:
        batch.add_column(sa.Column("code_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("charges") as batch:
        batch.drop_column("code_hash")
