"""The shared bike: a demo mini-program with its own server, on its own origin.

Built the way any third party builds one: its server signs requests to Saoma's public merchant
API with its own key (codes exchanged for tokens, holds created, captured), and its page talks
to the wallet only through ``saoma-bridge.js``. Scan the bike's code, agree to a ¥99 deposit in
the wallet's own sheet, ride, lock: the fare (¥1.50 per 30 minutes started) is captured from
the deposit and the rest goes back to the payer. Rides live in this process's memory: a demo.

Run alone: ``python -m saoma.demo_apps.bike --port 8001 --saoma-url http://127.0.0.1:8000
--key-file bike-key.json`` (the key file: ``{"key_id": ..., "private_key": <base64>}``).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from saoma.demo_apps import ride
from saoma.demo_apps.serving import MerchantSide, action, assets, page_response, run_alone

STATIC = Path(__file__).parent / "bike_static"
SESSIONS_MAX = 10_000


@dataclass
class Rider:
    name: str
    token: str
    bike: str = ""
    hold_id: str = ""
    started: float = 0.0  # monotonic seconds, while riding
    state: str = "locked"  # locked | unlocking | riding
    last_fare: int = 0
    rides: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class BikeService(MerchantSide):
    """The bike operator's server side: Saoma sees only its signed requests."""

    def __init__(self, saoma_url: str, key_id: str, private_key_b64: str) -> None:
        super().__init__(saoma_url, key_id, private_key_b64)
        self.riders: dict[str, Rider] = {}

    def _rider(self, body: dict[str, Any]) -> Rider:
        found = self.riders.get(str(body.get("session", "")))
        if found is None:
            raise LookupError("sign in first")
        return found

    def sign_in(self, body: dict[str, Any]) -> dict[str, Any]:
        """The payer agreed in the wallet: exchange the code, read the name they granted."""
        token, name = self.payer_name(body["code"])
        if len(self.riders) >= SESSIONS_MAX:
            self.riders.clear()
        session = secrets.token_urlsafe(24)
        self.riders[session] = Rider(name, token)
        return {"session": session, "name": name}

    def unlock(self, body: dict[str, Any]) -> dict[str, Any]:
        """Ask for the deposit: a hold the payer allows in the wallet (``requestHold``)."""
        rider = self._rider(body)
        bike = ride.bike_of(str(body.get("code", "")))
        if bike is None:
            raise ValueError("not a bike's code")
        with rider.lock:
            if rider.state == "riding":
                raise ValueError("already riding")
            hold = self.saoma.create_hold(
                f"RIDE-{secrets.token_hex(6)}",
                ride.DEPOSIT,
                expires_in_s=24 * 3600,
                description=f"Bike {bike} deposit",
            )
            rider.bike, rider.hold_id, rider.state = bike, hold["id"], "unlocking"
        return self.state(rider)

    def start(self, body: dict[str, Any]) -> dict[str, Any]:
        """The wallet said the payer allowed it: the bike unlocks once Saoma says it is held."""
        rider = self._rider(body)
        with rider.lock:
            if rider.state != "unlocking":
                return self.state(rider)
            hold = self.saoma.request("GET", f"/v1/holds/{rider.hold_id}")
            if hold["state"] != "held":
                raise ValueError("the deposit is not held")
            rider.state, rider.started = "riding", time.monotonic()
        return self.state(rider)

    def lock_bike(self, body: dict[str, Any]) -> dict[str, Any]:
        """Lock: capture the fare from the deposit; Saoma releases the rest to the payer."""
        rider = self._rider(body)
        with rider.lock:
            if rider.state != "riding":
                return self.state(rider)
            fare = ride.fare_of(time.monotonic() - rider.started)
            self.saoma.capture_hold(rider.hold_id, fare, idempotency_key=f"lock-{rider.hold_id}")
            rider.state, rider.last_fare, rider.rides = "locked", fare, rider.rides + 1
        return self.state(rider)

    def current(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.state(self._rider(body))

    def state(self, rider: Rider) -> dict[str, Any]:
        riding_s = time.monotonic() - rider.started if rider.state == "riding" else 0
        return {
            "state": rider.state,
            "bike": rider.bike,
            "hold_id": rider.hold_id,
            "name": rider.name,
            "riding_s": int(riding_s),
            "fare_so_far": ride.fare_of(riding_s) if rider.state == "riding" else 0,
            "last_fare": rider.last_fare,
            "released": ride.DEPOSIT - rider.last_fare if rider.rides else 0,
            "deposit": ride.DEPOSIT,
        }


def create_app(service: BikeService, wallet_origin: str) -> Starlette:
    """The bike's pages and its small JSON API for them (same origin)."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")

    def index(_request: Request) -> Response:
        return page_response(page, wallet_origin)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/static/{name}", assets(STATIC, ("bike.js", "bike.css"))),
            Route("/api/session", action(service.sign_in), methods=["POST"]),
            Route("/api/unlock", action(service.unlock), methods=["POST"]),
            Route("/api/ride", action(service.start), methods=["POST"]),
            Route("/api/lock", action(service.lock_bike), methods=["POST"]),
            Route("/api/state", action(service.current), methods=["POST"]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    def start(saoma_url: str, key: dict[str, Any]) -> Starlette:
        return create_app(BikeService(saoma_url, key["key_id"], key["private_key"]), saoma_url)

    run_alone("The shared-bike demo mini-program.", argv, start)


if __name__ == "__main__":  # pragma: no cover
    main()
