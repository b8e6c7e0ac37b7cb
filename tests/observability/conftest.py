"""A server that writes JSON log lines, on SQLite and PostgreSQL, and a webhook receiver."""

from __future__ import annotations

from support import receiver, server_with

__all__ = ["receiver"]

server = server_with("observed", SAOMA_LOG_FORMAT="json")
