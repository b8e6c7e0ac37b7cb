"""Disputes between payers and merchants and their timelines.

Revision ID: 0014_disputes
Revises: 0013_kyc
"""

from __future__ import annotations

revision = "0014_disputes"
down_revision = "0013_kyc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
