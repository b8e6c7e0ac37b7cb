"""Freezes of wallets and merchants.

Revision ID: 0012_freezes
Revises: 0011_operators
"""

from __future__ import annotations

revision = "0012_freezes"
down_revision = "0011_operators"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
