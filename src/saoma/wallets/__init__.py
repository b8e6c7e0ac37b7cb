"""Consumers and their wallets: sign-up, sessions, the payment PIN and the no-PIN limit."""
