"""What each operator role may do. The server checks it on every ``/v1/ops/`` route.

A permission is a word; a route names the one it needs (``saoma.api.ops_deps.allowed``).
"""

from __future__ import annotations

ROLES = ("support", "risk", "finance", "admin")

PERMISSIONS: dict[str, frozenset[str]] = {
    # Find a person and look at their wallet, history, holds, devices and disputes.
    "people.read": frozenset({"support", "risk", "admin"}),
    # Freeze a wallet or a merchant (a stolen phone is reported to support).
    "freeze": frozenset({"support", "risk", "admin"}),
    # Lift a freeze: only those who decide about risk.
    "unfreeze": frozenset({"risk", "admin"}),
    # Approve or reject a merchant's business details.
    "kyc.decide": frozenset({"risk", "admin"}),
    "kyc.read": frozenset({"risk", "admin"}),
    # Decide a dispute the merchant contested or did not answer.
    "disputes.read": frozenset({"support", "risk", "admin"}),
    "disputes.decide": frozenset({"support", "admin"}),
    # The platform's own books: read-only.
    "books.read": frozenset({"finance", "admin"}),
    # The audit log as a whole, and the list of operators.
    "audit.read": frozenset({"admin"}),
    "operators.read": frozenset({"admin"}),
}


def may(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]
