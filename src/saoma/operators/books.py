"""The platform's own books, read-only, for finance: fee income, what each campaign has spent
and has left, red packets not yet claimed, the clearing and reserve accounts, and the
reconciliation breaks still open. Every figure is read from the ledger's accounts (posted
amounts only) or from the tables of the feature that owns it; nothing here writes.

A balance is what the account holds for the platform's counterparties (posted credits less
posted debits), except bank clearing, which is the money at the bank (posted debits less posted
credits): after a top-up of ¥10 both the wallet and the bank clearing read 1000.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from saoma.audit.chain import append
from saoma.db import read, write

_BY_KIND = text(
    "SELECT kind, COALESCE(SUM(credits_posted - debits_posted), 0) AS balance"
    " FROM accounts WHERE currency = :currency"
    " AND kind IN ('platform_fees', 'red_packet', 'bank_clearing', 'settlement_clearing',"
    " 'reserve', 'suspense', 'overdraft', 'operating')"
    " GROUP BY kind"
)
_CAMPAIGNS = text(
    "SELECT c.id, c.name, c.funder, c.budget, c.state,"
    " a.credits_posted - a.debits_posted AS budget_left,"
    " (SELECT COALESCE(SUM(p.subsidy - p.subsidy_refunded), 0) FROM payments p"
    "  WHERE p.campaign_id = c.id) AS spent"
    " FROM campaigns c JOIN accounts a ON a.id = c.budget_account_id"
    " WHERE c.currency = :currency ORDER BY c.created_at_us, c.id"
)
_BREAKS = text("SELECT COUNT(*) FROM recon_breaks WHERE state = 'open'")


class Books:
    def __init__(self, engine: Engine, currency: str) -> None:
        self.engine = engine
        self.currency = currency

    def look(self, operator_id: str, role: str, address: str) -> dict[str, Any]:
        """The books, for an operator: the audit entry commits before they are read."""
        with write(self.engine) as conn:
            append(
                conn,
                operator_id=operator_id,
                role=role,
                action="books.view",
                what="platform books",
                address=address,
            )
        return self.view()

    def view(self) -> dict[str, Any]:
        params = {"currency": self.currency}
        with read(self.engine) as conn:
            kinds = {r.kind: int(r.balance) for r in conn.execute(_BY_KIND, params)}
            campaigns = conn.execute(_CAMPAIGNS, params).all()
            breaks = int(conn.execute(_BREAKS).scalar_one())
        return {
            "currency": self.currency,
            "fees": {"income": kinds.get("platform_fees", 0)},
            "campaigns": [
                {
                    "campaign_id": c.id,
                    "name": c.name,
                    "funder": c.funder,
                    "state": c.state,
                    "budget": int(c.budget),
                    "spent": int(c.spent),
                    "budget_left": int(c.budget_left),
                }
                for c in campaigns
            ],
            "red_packets_outstanding": kinds.get("red_packet", 0),
            "clearing": {
                "bank_clearing": -kinds.get("bank_clearing", 0),
                "settlement_clearing": kinds.get("settlement_clearing", 0),
                "reserve": kinds.get("reserve", 0),
                "suspense": kinds.get("suspense", 0),
                "overdraft": kinds.get("overdraft", 0),
            },
            "reconciliation_breaks_open": breaks,
        }
