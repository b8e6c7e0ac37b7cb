"""Saoma: open QR-code payments on a double-entry ledger."""

__version__ = "0.1.0"
