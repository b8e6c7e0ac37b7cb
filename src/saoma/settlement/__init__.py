"""Money out to merchants: bank accounts, settlements and payouts, splits, reconciliation."""
