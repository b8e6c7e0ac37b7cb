"""Bank connectors: how money enters and leaves Saoma (top-ups and withdrawals)."""
