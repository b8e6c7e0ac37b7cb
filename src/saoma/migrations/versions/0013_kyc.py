"""Merchant onboarding (KYC): business details, the owner's encrypted ID number, the state.

Revision ID: 0013_kyc
Revises: 0012_freezes
"""

from __future__ import annotations

revision = "0013_kyc"
down_revision = "0012_freezes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
