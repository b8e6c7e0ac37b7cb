"""Merchants: sign-up, settlement accounts, API keys and signed requests."""
