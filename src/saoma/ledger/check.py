"""Reconciliation: prove from the rows alone that the books add up.

Each check is one SQL aggregate, so it runs on millions of transfers without loading them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

# Posted movements are single-phase transfers and posts; holds and voids move nothing posted.
_POSTED = "(flags & 10) = 0"  # neither PENDING (2) nor VOID_PENDING (8)


@dataclass
class CheckReport:
    currencies: dict[str, int] = field(default_factory=dict)  # posted volume per currency
    accounts_checked: int = 0
    transfers_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_ledger(engine: Engine) -> CheckReport:
    """Run every check in one read transaction (a consistent snapshot on PostgreSQL)."""
    report = CheckReport()
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        _accounts_exist(conn, report)
        _zero_sum(conn, report)
        _balances_match_transfers(conn, report)
        _flags_hold(conn, report)
        _currencies_match(conn, report)
        _holds_consistent(conn, report)
        if inspect(conn).has_table("payments"):
            _refund_shares(conn, report)
        if inspect(conn).has_table("settlements"):
            from saoma.ledger.settlement_check import check_settlements

            check_settlements(conn, report.problems)
    return report


def _accounts_exist(conn: Connection, report: CheckReport) -> None:
    """Every transfer and hold names accounts that exist (the tables have no foreign keys)."""
    for table, key in (("transfers", "id"), ("holds", "transfer_id")):
        sql = text(
            f"SELECT t.{key}, t.debit_account_id, t.credit_account_id, d.id, c.id FROM {table} t"
            " LEFT JOIN accounts d ON d.id = t.debit_account_id"
            " LEFT JOIN accounts c ON c.id = t.credit_account_id"
            " WHERE d.id IS NULL OR c.id IS NULL LIMIT 100"
        )
        for tid, debit, credit, found_debit, found_credit in conn.execute(sql):
            missing = [
                str(account)
                for account, found in ((debit, found_debit), (credit, found_credit))
                if found is None
            ]
            report.problems.append(
                f"{table[:-1]} {tid}: account {' and '.join(missing)} does not exist"
            )


def _zero_sum(conn: Connection, report: CheckReport) -> None:
    rows = conn.execute(
        text(
            "SELECT currency, COUNT(*), SUM(debits_posted), SUM(credits_posted),"
            " SUM(debits_pending), SUM(credits_pending) FROM accounts GROUP BY currency"
        )
    )
    for currency, count, dpo, cpo, dp, cp in rows:
        report.accounts_checked += count
        report.currencies[currency] = int(dpo or 0)
        if dpo != cpo:
            report.problems.append(
                f"{currency}: total debits posted {dpo} != total credits posted {cpo}"
            )
        if dp != cp:
            report.problems.append(
                f"{currency}: total debits pending {dp} != total credits pending {cp}"
            )


def _balances_match_transfers(conn: Connection, report: CheckReport) -> None:
    report.transfers_checked = conn.execute(text("SELECT COUNT(*) FROM transfers")).scalar_one()
    sql = text(
        "SELECT a.id, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,"
        " COALESCE(d.s, 0), COALESCE(c.s, 0), COALESCE(hd.s, 0), COALESCE(hc.s, 0)"
        " FROM accounts a"
        " LEFT JOIN (SELECT debit_account_id AS id, SUM(amount) AS s FROM transfers"
        f"  WHERE {_POSTED}"
        "  GROUP BY debit_account_id) d ON d.id = a.id"
        " LEFT JOIN (SELECT credit_account_id AS id, SUM(amount) AS s FROM transfers"
        f"  WHERE {_POSTED}"
        "  GROUP BY credit_account_id) c ON c.id = a.id"
        " LEFT JOIN (SELECT debit_account_id AS id, SUM(amount) AS s FROM holds WHERE state = 1"
        "  GROUP BY debit_account_id) hd ON hd.id = a.id"
        " LEFT JOIN (SELECT credit_account_id AS id, SUM(amount) AS s FROM holds WHERE state = 1"
        "  GROUP BY credit_account_id) hc ON hc.id = a.id"
        " WHERE a.debits_posted <> COALESCE(d.s, 0) OR a.credits_posted <> COALESCE(c.s, 0)"
        " OR a.debits_pending <> COALESCE(hd.s, 0) OR a.credits_pending <> COALESCE(hc.s, 0)"
        " ORDER BY a.id LIMIT 100"
    )
    for aid, dpo, cpo, dp, cp, sd, sc, shd, shc in conn.execute(sql):
        report.problems.append(
            f"account {aid}: balances (debits posted {dpo}, credits posted {cpo}, debits pending"
            f" {dp}, credits pending {cp}) != sums of its transfers and holds ({sd}, {sc},"
            f" {shd}, {shc})"
        )


def _flags_hold(conn: Connection, report: CheckReport) -> None:
    sql = text(
        "SELECT id, debits_pending + debits_posted, credits_posted, credits_pending"
        " + credits_posted, debits_posted, flags FROM accounts"
        " WHERE ((flags & 1) <> 0 AND debits_pending + debits_posted > credits_posted)"
        " OR ((flags & 2) <> 0 AND credits_pending + credits_posted > debits_posted)"
        " ORDER BY id LIMIT 100"
    )
    for aid, debits, credits_posted, credits, debits_posted, flags in conn.execute(sql):
        if flags & 1 and debits > credits_posted:
            report.problems.append(
                f"account {aid}: overdrawn (debits {debits} > credits posted {credits_posted})"
            )
        if flags & 2 and credits > debits_posted:
            report.problems.append(
                f"account {aid}: credits {credits} exceed debits posted {debits_posted}"
            )


def _currencies_match(conn: Connection, report: CheckReport) -> None:
    sql = text(
        "SELECT t.id, d.currency, c.currency FROM transfers t"
        " JOIN accounts d ON d.id = t.debit_account_id"
        " JOIN accounts c ON c.id = t.credit_account_id"
        " WHERE d.currency <> c.currency LIMIT 100"
    )
    for tid, dcur, ccur in conn.execute(sql):
        report.problems.append(f"transfer {tid}: moves {dcur} into a {ccur} account")


def _holds_consistent(conn: Connection, report: CheckReport) -> None:
    sql = text(
        "SELECT t.id FROM transfers t LEFT JOIN holds h ON h.transfer_id = t.id"
        " WHERE (t.flags & 2) <> 0 AND h.transfer_id IS NULL LIMIT 100"
    )
    for (tid,) in conn.execute(sql):
        report.problems.append(f"transfer {tid}: a pending transfer without its hold")
    sql = text(
        "SELECT h.transfer_id FROM holds h LEFT JOIN transfers t ON t.id = h.resolved_by"
        " WHERE h.state <> 1 AND t.id IS NULL LIMIT 100"
    )
    for (hid,) in conn.execute(sql):
        report.problems.append(f"hold {hid}: resolved with no post, void or expiry transfer")


def _refund_shares(conn: Connection, report: CheckReport) -> None:
    """A refunded payment gave back exactly its share of the fee and of the campaign's subsidy.

    After refunds totalling R of a payment of A, the refunds returned floor(fee * R / A) of the fee
    and floor(subsidy * R / A) of the subsidy, and R is the payment's ``refunded``. The products
    can pass 2^63, so the rounding is done here rather than in SQL; only refunded payments are read.
    """
    sql = text(
        "SELECT p.id, p.amount, p.fee, p.subsidy, p.refunded, p.subsidy_refunded,"
        " COALESCE(SUM(r.amount), 0), COALESCE(SUM(r.fee_returned), 0),"
        " COALESCE(SUM(r.subsidy_returned), 0)"
        " FROM payments p LEFT JOIN refunds r ON r.payment_id = p.id"
        " WHERE p.refunded <> 0 OR r.id IS NOT NULL"
        " GROUP BY p.id, p.amount, p.fee, p.subsidy, p.refunded, p.subsidy_refunded"
    )
    for (
        pid,
        amount,
        fee,
        subsidy,
        refunded,
        sub_refunded,
        total,
        fee_back,
        sub_back,
    ) in conn.execution_options(stream_results=True).execute(sql):
        if len(report.problems) >= 100:
            return
        if total != refunded:
            report.problems.append(
                f"payment {pid}: refunded {refunded} != sum of its refunds {total}"
            )
        if fee_back != fee * refunded // amount:
            report.problems.append(
                f"payment {pid}: refunds returned {fee_back} of the fee, not its share"
                f" {fee * refunded // amount} ({fee} x {refunded} / {amount})"
            )
        if sub_back != subsidy * refunded // amount or sub_refunded != sub_back:
            report.problems.append(
                f"payment {pid}: refunds returned {sub_back} of the subsidy (payment says"
                f" {sub_refunded}), not its share {subsidy * refunded // amount}"
                f" ({subsidy} x {refunded} / {amount})"
            )
