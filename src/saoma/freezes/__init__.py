"""Freezes of wallets and merchants: an operator stops a person's money from leaving (and a
merchant's payments from arriving) without moving any of it."""
