"""Who is asking, for the merchant routes that care: a signed request (the merchant's server)
or a password session (the dashboard, the till), and the manager PIN a session needs for what
would give the shop's money or access away."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from saoma.api import deps
from saoma.core.errors import InvalidRequest
from saoma.merchants.service import Merchant
from saoma.wallets.credentials import check_pin

MANAGER_PIN_HEADER = "Saoma-Manager-Pin"
# The header in the API's description, on each route that asks for it (see manager_present).
PIN_GUARDED: dict[str, Any] = {
    "parameters": [
        {
            "name": MANAGER_PIN_HEADER,
            "in": "header",
            "required": False,
            "description": "Six digits: from a signed-in session, once the shop has a manager "
            "PIN, this action needs it; a signed request needs none.",
            "schema": {"type": "string", "pattern": "^[0-9]{6}$"},
        }
    ]
}


def password_session(request: Request) -> bool:
    """Whether the merchant was recognised by a session token rather than a signed request
    (the same test ``deps.merchant`` makes)."""
    return deps.merchant_token(request).startswith("mt_")


def manager_present(request: Request, shop: Merchant) -> None:
    """From a signed-in session (the dashboard, an ``mt_`` token), once the shop has a manager
    PIN, what gives its money or its access away asks for the PIN in ``Saoma-Manager-Pin``:
    API keys, the webhook and its secret, splits. Whoever holds only the session (a cashier)
    could otherwise add a key and refund with it, or split the takings to a shop of their own.
    A signed request needs none. Runs in a worker thread (the PIN's check writes)."""
    pin = request.headers.get(MANAGER_PIN_HEADER)
    if pin is not None:  # out of its form it is refused, whoever sends it (a typo costs no try)
        check_pin(pin, MANAGER_PIN_HEADER)
    if not shop.has_manager_pin or not password_session(request):
        return
    if pin is None:
        raise InvalidRequest(
            f"from a signed-in session this needs the manager PIN ({MANAGER_PIN_HEADER})",
            field=MANAGER_PIN_HEADER,
        )
    merchants = deps.platform_of(request).merchants
    merchants.verify_manager_pin(shop.id, pin, field=MANAGER_PIN_HEADER)
