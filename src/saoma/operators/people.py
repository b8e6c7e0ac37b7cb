"""What an operator finds and sees: people by id, phone, e-mail or name, and one person's page.

Search answers masked names and logins (enough to pick the right person, not to read their
details); the person's page is only opened with a reason, and the route writes the audit entry
before calling :meth:`Lookup.consumer` or :meth:`Lookup.merchant`. The page reuses the services'
own queries (balances from the ledger, payments and holds from the payments queries).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement

from saoma.core.errors import InvalidRequest, NotFound
from saoma.core.ids import rfc3339
from saoma.db import read
from saoma.merchants import tables as mt
from saoma.payments.service import Payments
from saoma.replicas import Freshness, Replicas
from saoma.wallets import tables as wt

RESULTS_MAX = 20
RECENT = 20
QUERY_MAX = 100


def mask(text: str) -> str:
    """Enough of a name or login to recognise it: ``a***@example.com``, ``+86*******1234``,
    ``李*``, ``Wa** F***``."""
    if not text or text.startswith("~"):
        return ""
    if "@" in text:
        local, _, domain = text.partition("@")
        return f"{local[:1]}{'*' * max(len(local) - 1, 1)}@{domain}"
    if text.startswith("+") and text[1:].isdigit():
        return text[:3] + "*" * max(len(text) - 7, 1) + text[-4:]
    return " ".join(word[:1] + "*" * (len(word) - 1) for word in text.split())


def _like(column: Any, pattern: str) -> ColumnElement[bool]:
    return func.lower(column).like(pattern, escape="\\")


def _pattern(q: str) -> str:
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Lookup:
    def __init__(self, engine: Engine, payments: Payments, replicas: Replicas) -> None:
        self.engine = engine
        self.payments = payments
        self.replicas = replicas

    def search(self, q: str) -> tuple[list[dict[str, str]], Freshness]:
        """Consumers and merchants matching ``q`` (an id exactly; a login, verified phone or
        e-mail, or name in part, any case): 20 at most, masked; read from the standby when one
        is set, with how old that reading may be."""
        q = " ".join(str(q).split())
        if not 2 <= len(q) <= QUERY_MAX:
            raise InvalidRequest(f"q: 2 to {QUERY_MAX} characters", field="q")
        pattern = _pattern(q)
        c, i, m = wt.consumers.c, wt.identifiers.c, mt.merchants.c
        verified = select(i.consumer_id).where(i.verified_at_us > 0, _like(i.value, pattern))
        with self.replicas.reading() as (conn, freshness):
            consumers = conn.execute(
                select(c.id, c.login, c.display_name)
                .where(
                    or_(
                        c.id == q,
                        _like(c.login, pattern) & ~c.login.startswith("~"),
                        _like(c.display_name, pattern),
                        c.id.in_(verified),
                    )
                )
                .order_by(c.id)
                .limit(RESULTS_MAX)
            ).all()
            merchants = conn.execute(
                select(m.id, m.login, m.name, m.name_zh)
                .where(
                    or_(
                        m.id == q,
                        _like(m.login, pattern),
                        _like(m.name, pattern),
                        _like(m.name_zh, pattern),
                    )
                )
                .order_by(m.id)
                .limit(RESULTS_MAX)
            ).all()
        found = [
            {"kind": "consumer", "id": r.id, "name": mask(r.display_name), "login": mask(r.login)}
            for r in consumers
        ] + [
            {
                "kind": "merchant",
                "id": r.id,
                "name": mask(r.name_zh or r.name),
                "login": mask(r.login),
            }
            for r in merchants
        ]
        return found[:RESULTS_MAX], freshness

    def consumer(self, consumer_id: str) -> dict[str, Any]:
        """One consumer's page: who, the wallet, recent payments, holds and payment-code devices."""
        wallets = self.payments.wallets
        person = wallets.get(consumer_id)
        c, i = wt.consumers.c, wt.identifiers.c
        with read(self.engine) as conn:
            created = conn.execute(select(c.created_at_us).where(c.id == person.id)).scalar()
            values = conn.execute(
                select(i.value).where(i.consumer_id == person.id, i.verified_at_us > 0)
            ).scalars()
            identifiers = sorted(str(v) for v in values)
        balance = wallets.balance(person)
        paycodes = self.payments.paycodes
        return {
            "consumer": {
                "id": person.id,
                "display_name": person.display_name,
                "login": "" if person.login.startswith("~") else person.login,
                "identifiers": identifiers,
                "created_at": rfc3339(int(created or 0)),
            },
            "wallet": {
                "currency": person.currency,
                "balance": balance["balance"],
                "available": balance["available"],
                "reserved": balance["held"],
            },
            "history": self.payments.list_payments(consumer=person, limit=RECENT)["data"],
            "holds": self.payments.holds_of(person, limit=RECENT)["data"],
            "devices": paycodes.devices(person.id) if paycodes is not None else [],
        }

    def merchant(self, merchant_id: str) -> dict[str, Any]:
        """One merchant's page: details, balance and recent payments."""
        merchants = self.payments.merchants
        shop = merchants.get(merchant_id)
        m = mt.merchants.c
        with read(self.engine) as conn:
            created = conn.execute(select(m.created_at_us).where(m.id == shop.id)).scalar()
        return {
            "merchant": {
                "id": shop.id,
                "login": shop.login,
                "name": shop.name,
                "name_zh": shop.name_zh,
                "city": shop.city,
                "category_code": shop.category_code,
                "created_at": rfc3339(int(created or 0)),
            },
            "currency": shop.currency,
            "balance": merchants.balance(shop),
            "payments": self.payments.list_payments(merchant=shop, limit=RECENT)["data"],
        }

    def exists(self, kind: str, subject_id: str) -> None:
        """NotFound unless the person exists (checked before the audit entry is written)."""
        table = wt.consumers if kind == "consumer" else mt.merchants
        with read(self.engine) as conn:
            found = conn.execute(select(table.c.id).where(table.c.id == subject_id)).first()
        if found is None:
            raise NotFound.named(kind, subject_id)
