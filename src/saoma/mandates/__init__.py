"""Mandates: recurring debits a payer agreed to with the PIN, within limits, after a notice."""
