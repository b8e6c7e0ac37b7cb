"""Disputes: a payer questions a payment, the merchant answers, support decides."""
