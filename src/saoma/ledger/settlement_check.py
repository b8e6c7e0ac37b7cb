"""What ``saoma ledger check`` proves of settlement, each from the rows alone in one query (the
settlement tables are named in SQL only, as the payments tables are for the refund shares).

- Each settlement adds up: its ``net`` is the sum of its lines, and is its payout plus what it
  carried over.
- Settlement clearing holds exactly the payouts the bank has not answered yet (so it nets to
  zero once every payout is answered), all of it held for the bank.
- Each merchant's overdraft allowance in the ledger is what its terms say was granted.
- Each merchant's account holds its allowance, the movements no settlement took yet, what its
  settlements carried over and not yet passed on, and what payouts the bank rejected returned.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

_NOT_LINES = "(14, 16)"  # settlement and allowance transfers are never a settlement's lines


def check_settlements(conn: Connection, problems: list[str]) -> None:
    _settlements_add_up(conn, problems)
    _clearing_nets_out(conn, problems)
    _allowances_match(conn, problems)
    _merchant_accounts_explained(conn, problems)


def _settlements_add_up(conn: Connection, problems: list[str]) -> None:
    sql = text(
        "SELECT s.id, s.net, s.payout, s.carried_out, COALESCE(SUM(l.amount), 0), COUNT(l.source),"
        " s.lines FROM settlements s LEFT JOIN settlement_lines l ON l.settlement_id = s.id"
        " WHERE s.state <> 'open' GROUP BY s.id, s.net, s.payout, s.carried_out, s.lines"
        " HAVING s.net <> COALESCE(SUM(l.amount), 0) OR s.net <> s.payout + s.carried_out"
        " OR s.lines <> COUNT(l.source) LIMIT 100"
    )
    for sid, net, payout, carried, total, count, lines in conn.execute(sql):
        problems.append(
            f"settlement {sid}: net {net} (payout {payout} + carried {carried}, {lines} lines)"
            f" != the sum of its {count} lines {total}"
        )


def _clearing_nets_out(conn: Connection, problems: list[str]) -> None:
    sql = text(
        "SELECT a.id, a.currency, a.credits_posted - a.debits_posted, a.debits_pending,"
        " COALESCE((SELECT SUM(s.payout) FROM settlements s WHERE s.state = 'paying'"
        " AND s.currency = a.currency), 0)"
        " FROM accounts a WHERE a.kind = 'settlement_clearing'"
    )
    for aid, currency, balance, held, paying in conn.execute(sql):
        if balance != paying or held != paying:
            problems.append(
                f"settlement clearing {aid} ({currency}): holds {balance} ({held} held for the"
                f" bank), but the payouts awaiting the bank are {paying}"
            )


def _allowances_match(conn: Connection, problems: list[str]) -> None:
    sql = text(
        "SELECT st.merchant_id, st.overdraft_granted, COALESCE(SUM(CASE WHEN"
        " t.credit_account_id = m.account_id THEN t.amount ELSE -t.amount END), 0)"
        " FROM settlement_terms st JOIN merchants m ON m.id = st.merchant_id"
        " LEFT JOIN transfers t ON t.code = 16 AND t.ref = st.merchant_id"
        " GROUP BY st.merchant_id, st.overdraft_granted"
        " HAVING st.overdraft_granted <> COALESCE(SUM(CASE WHEN"
        " t.credit_account_id = m.account_id THEN t.amount ELSE -t.amount END), 0) LIMIT 100"
    )
    for mid, granted, moved in conn.execute(sql):
        problems.append(f"merchant {mid}: allowance granted {granted} but {moved} moved")


def _merchant_accounts_explained(conn: Connection, problems: list[str]) -> None:
    """Merchants with a settlement half made (closed, not moved) are left for the next check."""
    sql = text(
        "SELECT m.id, a.credits_posted - a.debits_posted, COALESCE(st.overdraft_granted, 0),"
        " COALESCE((SELECT SUM(t.amount) FROM transfers t WHERE t.credit_account_id = a.id"
        f"  AND (t.flags & 10) = 0 AND t.code NOT IN {_NOT_LINES} AND NOT EXISTS"
        "  (SELECT 1 FROM settlement_lines l WHERE l.source = t.id AND l.merchant_id = m.id)), 0)"
        " - COALESCE((SELECT SUM(t.amount) FROM transfers t WHERE t.debit_account_id = a.id"
        f"  AND (t.flags & 10) = 0 AND t.code NOT IN {_NOT_LINES} AND NOT EXISTS"
        "  (SELECT 1 FROM settlement_lines l WHERE l.source = t.id AND l.merchant_id = m.id)), 0),"
        " COALESCE((SELECT SUM(s.carried_out) FROM settlements s WHERE s.merchant_id = m.id"
        "  AND s.consumed_by IS NULL AND s.state <> 'open'), 0),"
        " COALESCE((SELECT SUM(s.payout) FROM settlements s WHERE s.merchant_id = m.id"
        "  AND s.state = 'failed'), 0)"
        " FROM merchants m JOIN accounts a ON a.id = m.account_id"
        " LEFT JOIN settlement_terms st ON st.merchant_id = m.id"
        " WHERE NOT EXISTS (SELECT 1 FROM settlements s WHERE s.merchant_id = m.id"
        "  AND s.state IN ('open', 'closed'))"
    )
    for mid, balance, granted, unsettled, carried, returned in conn.execution_options(
        stream_results=True
    ).execute(sql):
        if len(problems) >= 100:
            return
        if balance != granted + unsettled + carried + returned:
            problems.append(
                f"merchant {mid}: account holds {balance}, but allowance {granted} + not yet"
                f" settled {unsettled} + carried over {carried} + returned payouts {returned}"
                f" = {granted + unsettled + carried + returned}"
            )
