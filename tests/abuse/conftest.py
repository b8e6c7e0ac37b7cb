"""Fixtures: a real Saoma server in its own process, on SQLite and PostgreSQL, over real HTTP."""

from __future__ import annotations

from support import receiver, server

__all__ = ["receiver", "server"]
