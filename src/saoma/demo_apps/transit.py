"""The monthly transit pass: a demo mini-program with its own server, on its own origin.

Built like the shared bike, only on the public merchant API and the wallet's bridge: the rider
signs in (masked name), chooses a pass and subscribes; the operator's server asks Saoma for a
monthly mandate naming the rider by the access token they gave it, and the rider agrees with
the PIN in the wallet's own sheet (``requestMandate``). From then on the server announces each
month a day ahead and debits it when the mandate's rules allow (:mod:`saoma.demo_apps.passes`);
the pass page reads the mandate's state from Saoma, so a revocation in the wallet ends the pass
at once. Subscriptions live in this process's memory, by the rider's id for this service
(``sub``): a demo.

Run alone: ``python -m saoma.demo_apps.transit --port 8003 --saoma-url http://127.0.0.1:8000
--key-file transit-key.json`` (the key file: ``{"key_id": ..., "private_key": <base64>}``).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from saoma.client import SaomaError
from saoma.demo_apps import passes
from saoma.demo_apps.serving import MerchantSide, action, assets, page_response, run_alone

STATIC = Path(__file__).parent / "transit_static"
ASSETS = ("transit.js", "transit.css")
SESSIONS_MAX = 10_000


@dataclass
class Subscription:
    pass_code: str
    mandate_id: str
    cancelled: bool = False
    last_refusal: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Rider:
    name: str
    token: str
    sub: str


class TransitService(MerchantSide):
    """The operator's server side: Saoma sees only its signed requests."""

    def __init__(self, saoma_url: str, key_id: str, private_key_b64: str) -> None:
        super().__init__(saoma_url, key_id, private_key_b64)
        self.riders: dict[str, Rider] = {}  # by session
        self.subscriptions: dict[str, Subscription] = {}  # by the rider's sub

    def _rider(self, body: dict[str, Any]) -> Rider:
        found = self.riders.get(str(body.get("session", "")))
        if found is None:
            raise LookupError("sign in first")
        return found

    def sign_in(self, body: dict[str, Any]) -> dict[str, Any]:
        """The rider agreed in the wallet: exchange the code, read the name they granted."""
        token, profile = self.payer_profile(body["code"])
        if len(self.riders) >= SESSIONS_MAX:
            self.riders.clear()
        session = secrets.token_urlsafe(24)
        name = profile.get("masked_name") or ""
        self.riders[session] = Rider(name, token, profile["sub"])
        return {"session": session, "name": name}

    def subscribe(self, body: dict[str, Any]) -> dict[str, Any]:
        """Ask Saoma for the pass's monthly mandate, of the rider the token names; the page
        then asks the wallet to show it (``requestMandate``)."""
        rider = self._rider(body)
        chosen = passes.pass_of(str(body.get("pass", "")))
        held = self.subscriptions.get(rider.sub)
        state = self._mandate(held)["state"] if held is not None else "none"
        if state in ("active", "paused"):
            raise ValueError("you hold a pass already")
        if held is not None and state == "requested" and held.pass_code == chosen.code:
            return {"mandate_id": held.mandate_id}  # still waiting in the wallet: ask again
        today = datetime.now(passes.ZONE).date()
        mandate = self.saoma.request_mandate(
            None,
            f"PASS-{secrets.token_hex(8)}",
            access_token=rider.token,
            **passes.mandate_terms(chosen, today),
        )
        self.subscriptions[rider.sub] = Subscription(chosen.code, mandate["id"])
        return {"mandate_id": mandate["id"]}

    def cancel(self, body: dict[str, Any]) -> dict[str, Any]:
        """The rider cancels: no notice or debit from here on (the month paid stays valid).
        Only the rider can revoke the mandate itself, in the wallet."""
        rider = self._rider(body)
        held = self.subscriptions.get(rider.sub)
        if held is None:
            raise LookupError("no pass to cancel")
        held.cancelled = True
        return self.current(body)

    def current(self, body: dict[str, Any]) -> dict[str, Any]:
        """The rider's pass as Saoma's mandate stands, after any renewal now due."""
        rider = self._rider(body)
        held = self.subscriptions.get(rider.sub)
        if held is None:
            return {"state": "none", "name": rider.name}
        mandate = self.renew(held)
        chosen = passes.pass_of(held.pass_code)
        view = passes.pass_view(mandate, chosen, cancelled=held.cancelled)
        return view | {"name": rider.name, "last_refusal": held.last_refusal or None}

    def _mandate(self, held: Subscription) -> dict[str, Any]:
        return self.saoma.get_mandate(held.mandate_id)

    def renew(self, held: Subscription) -> dict[str, Any]:
        """Announce the next month or debit the announced one, when the rules allow; the
        mandate as it then stands. A refusal is kept to show; the rules stay Saoma's."""
        with held.lock:
            mandate = self._mandate(held)
            if held.cancelled:
                return mandate
            step = passes.renewal_step(mandate, datetime.now(UTC))
            if step is None:
                return mandate
            price = passes.pass_of(held.pass_code).price
            try:
                if step[0] == "announce":
                    self.saoma.announce_debit(held.mandate_id, price)
                else:
                    notice_id = str(step[1])
                    self.saoma.debit_mandate(
                        held.mandate_id, notice_id, price, idempotency_key=f"pass-{notice_id}"
                    )
                held.last_refusal = ""
            except SaomaError as exc:
                held.last_refusal = exc.slug
            return self._mandate(held)


def create_app(service: TransitService, wallet_origin: str) -> Starlette:
    """The pass's page and its small JSON API (same origin)."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")

    def index(_request: Request) -> Response:
        return page_response(page, wallet_origin)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/static/{name}", assets(STATIC, ASSETS)),
            Route("/api/session", action(service.sign_in), methods=["POST"]),
            Route("/api/subscribe", action(service.subscribe), methods=["POST"]),
            Route("/api/cancel", action(service.cancel), methods=["POST"]),
            Route("/api/state", action(service.current), methods=["POST"]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    def start(saoma_url: str, key: dict[str, Any]) -> Starlette:
        service = TransitService(saoma_url, key["key_id"], key["private_key"])
        return create_app(service, saoma_url)

    run_alone("The monthly transit pass demo mini-program.", argv, start)


if __name__ == "__main__":  # pragma: no cover
    main()
