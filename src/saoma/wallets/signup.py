"""Opening a wallet: the account, a first session and a one-time code to the login.

Used by the API's sign-up and by the pages' demo sign-up alike (see docs/verification.md).
"""

from __future__ import annotations

from typing import Any

from saoma.core.errors import CODE_HELD_BACK, SaomaError
from saoma.wallets.identifiers import Identifiers
from saoma.wallets.service import Consumer, Wallets


def open_wallet(
    wallets: Wallets, identifiers: Identifiers, login: str, password: str, display_name: str
) -> tuple[Consumer, str, dict[str, Any]]:
    """A new wallet, a session, and a one-time code sent to the login.

    Money friends sent to the login waits until the code is typed back (``/me/identifiers/verify``).
    """
    c = wallets.sign_up(login, password, display_name)
    token = wallets.new_session(c.id)
    claimed = next(i for i in identifiers.of(c.id) if not i["verified"])
    try:
        sent = identifiers.send_code(c.id, claimed["identifier"])
    except SaomaError as exc:  # too many codes to that phone today: the wallet is open anyway
        if not isinstance(exc, CODE_HELD_BACK):
            raise
        return c, token, {**claimed, "code_sent": False, "detail": exc.detail}
    return c, token, {**sent, "code_sent": True}
