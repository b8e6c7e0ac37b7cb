"""Ordering at the table (the robot restaurant): a demo mini-program with its own server, on its
own origin.

Built like the shared bike, only on Saoma's public merchant API and the wallet's bridge. The
diner scans the table's code (``saoma-table:12``), picks dishes from the menu and orders: this
server prices the order from its own menu, creates a Saoma order with a signed request, and the
page asks the wallet to pay it (``requestPayment``). The kitchen's screen (``/kitchen``, opened
with the kitchen's key) shows an order only once Saoma says it is paid, never because the page
says so; the kitchen marks it served and the diner's page says so. Orders live in this
process's memory: a demo.

Run alone: ``python -m saoma.demo_apps.table --port 8002 --saoma-url http://127.0.0.1:8000
--key-file table-key.json`` (the key file: ``{"key_id": ..., "private_key": <base64>}``, and
``"kitchen_key"`` if the kitchen's key is to be fixed; otherwise one is made and printed).
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
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from saoma.client import SaomaError
from saoma.demo_apps import menu
from saoma.demo_apps.serving import MerchantSide, Refused, action, assets, page_csp, run_alone

STATIC = Path(__file__).parent / "table_static"
SESSIONS_MAX = 10_000  # diners remembered; the oldest is forgotten first
TICKETS_MAX = 10_000  # orders remembered; the oldest served or unpaid one is forgotten first
TICKETS_PER_DINER_MAX = 20
SHOWN_MAX = 50  # orders on the kitchen's screen
ORDER_EXPIRES_S = 15 * 60


@dataclass
class Ticket:
    order_id: str
    table: str
    session: str
    diner: str
    priced: menu.Priced
    state: str = "unpaid"  # unpaid | paid (cooking) | served
    paid_at: str = ""  # HH:MM, the kitchen's clock

    def view(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "table": self.table,
            "diner": self.diner,
            "state": self.state,
            "total": self.priced.total,
            "paid_at": self.paid_at,
            "lines": [
                {"dish": d.id, "name": d.name, "name_zh": d.name_zh, "quantity": n}
                for d, n in self.priced.lines
            ],
        }


@dataclass
class Diner:
    table: str = ""
    name: str = ""
    orders: list[str] = field(default_factory=list)  # order ids, oldest first
    lock: threading.Lock = field(default_factory=threading.Lock)


class TableService(MerchantSide):
    """The restaurant's server side: Saoma sees only its signed requests."""

    def __init__(self, saoma_url: str, key_id: str, private_key_b64: str, kitchen_key: str):
        super().__init__(saoma_url, key_id, private_key_b64)
        if len(kitchen_key) < 16:
            raise ValueError("the kitchen's key: 16 characters at least")
        self.kitchen_key = kitchen_key
        self.diners: dict[str, Diner] = {}
        self.tickets: dict[str, Ticket] = {}
        self.lock = threading.Lock()  # the two dicts and every ticket's state

    # --- the diner --------------------------------------------------------------------------

    def _diner(self, body: dict[str, Any]) -> Diner:
        found = self.diners.get(str(body.get("session", "")))
        if found is None:
            raise Refused("open the menu again", "session")
        return found

    def open_session(self, _body: dict[str, Any]) -> dict[str, Any]:
        session = secrets.token_urlsafe(24)
        with self.lock:
            if len(self.diners) >= SESSIONS_MAX:
                del self.diners[next(iter(self.diners))]
            self.diners[session] = Diner()
        return {"session": session, "menu": [d.public() for d in menu.MENU]}

    def sign_in(self, body: dict[str, Any]) -> dict[str, Any]:
        """The diner agreed in the wallet: the name they granted, to greet them."""
        diner = self._diner(body)
        _token, diner.name = self.payer_name(str(body.get("code", "")))
        return self.state(body)

    def sit(self, body: dict[str, Any]) -> dict[str, Any]:
        """The table's code, scanned in the wallet: orders from here on are for that table."""
        diner = self._diner(body)
        table = menu.table_of(str(body.get("code", "")))
        if table is None:
            raise Refused("not a table's code (saoma-table:<number>)", "code")
        diner.table = table
        return self.state(body)

    def order(self, body: dict[str, Any]) -> dict[str, Any]:
        """Price the dishes from the menu and create the Saoma order the wallet will pay."""
        diner = self._diner(body)
        if not diner.table:
            raise Refused("scan the table's code first", "code")
        priced = menu.price(body.get("lines"), body.get("total"))
        with diner.lock:
            self._settle_unpaid(diner)
            if len(diner.orders) >= TICKETS_PER_DINER_MAX:
                raise Refused(f"at most {TICKETS_PER_DINER_MAX} orders a diner", "lines")
            self._make_room()
            created = self.saoma.create_order(
                f"TABLE{diner.table}-{secrets.token_hex(6)}",
                priced.total,
                description=priced.description(diner.table),
                expires_in_s=ORDER_EXPIRES_S,
            )
            ticket = Ticket(created["id"], diner.table, str(body["session"]), diner.name, priced)
            with self.lock:
                self.tickets[ticket.order_id] = ticket
            diner.orders.append(ticket.order_id)
        return self.state(body) | {"order_id": ticket.order_id}

    def paid(self, body: dict[str, Any]) -> dict[str, Any]:
        """The wallet said the diner paid: the kitchen gets the order once Saoma says so."""
        diner = self._diner(body)
        order_id = str(body.get("order_id", ""))
        ticket = self.tickets.get(order_id)
        if ticket is None:
            raise Refused("no such order", "order_id", 404)
        if ticket.session != body["session"]:
            raise Refused("that order is another table's", "order_id", 403)
        with diner.lock:
            if ticket.state == "unpaid" and not self._check_paid(ticket):
                raise Refused("Saoma has no payment for this order", "order_id", 409)
        return self.state(body)

    def state(self, body: dict[str, Any]) -> dict[str, Any]:
        diner = self._diner(body)
        with self.lock:
            orders = [self.tickets[o].view() for o in diner.orders if o in self.tickets]
        return {"table": diner.table, "name": diner.name, "orders": orders[::-1][:5]}

    # --- the kitchen ------------------------------------------------------------------------

    def _kitchen(self, body: dict[str, Any]) -> None:
        key = str(body.get("key", ""))
        if not secrets.compare_digest(key.encode(), self.kitchen_key.encode()):
            raise Refused("not the kitchen's key", "key", 403)

    def kitchen(self, body: dict[str, Any]) -> dict[str, Any]:
        """The orders Saoma says are paid, newest first: cooking, then served."""
        self._kitchen(body)
        with self.lock:
            shown = [t.view() for t in reversed(self.tickets.values()) if t.state != "unpaid"]
        return {"orders": shown[:SHOWN_MAX]}

    def served(self, body: dict[str, Any]) -> dict[str, Any]:
        self._kitchen(body)
        with self.lock:
            ticket = self.tickets.get(str(body.get("order_id", "")))
            if ticket is None:
                raise Refused("no such order", "order_id", 404)
            if ticket.state == "unpaid":
                raise Refused("not paid yet", "order_id", 409)
            ticket.state = "served"
        return self.kitchen(body)

    # --- with Saoma -------------------------------------------------------------------------

    def _check_paid(self, ticket: Ticket) -> bool:
        """Ask Saoma: paid, for the whole total, and for this restaurant (the order is ours)."""
        order = self.saoma.get_order(ticket.order_id)
        if order["state"] != "paid" or order["amount"] != ticket.priced.total:
            return False
        with self.lock:
            if ticket.state == "unpaid":
                ticket.state, ticket.paid_at = "paid", time.strftime("%H:%M")
        return True

    def _settle_unpaid(self, diner: Diner) -> None:
        """A new order replaces one left unpaid: it is closed, unless it was paid after all."""
        ticket = self.tickets.get(diner.orders[-1]) if diner.orders else None
        if ticket is None or ticket.state != "unpaid" or self._check_paid(ticket):
            return
        try:
            self.saoma.close_order(ticket.order_id)
        except SaomaError:
            if self._check_paid(ticket):  # paid at the very moment it was closed
                return
            raise
        with self.lock:
            self.tickets.pop(ticket.order_id, None)
        diner.orders.pop()

    def _make_room(self) -> None:
        """Forget the oldest order the kitchen is done with (served, or never paid); refuse
        while every order remembered is still cooking."""
        with self.lock:
            if len(self.tickets) < TICKETS_MAX:
                return
            done = next((k for k, t in self.tickets.items() if t.state != "paid"), None)
            if done is None:
                raise Refused("the kitchen has too many orders; try again soon", "", 503)
            del self.tickets[done]


def create_app(service: TableService, wallet_origin: str) -> Starlette:
    """The diner's page, the kitchen's screen, their drawings and the JSON API for them."""
    bridge = f"{wallet_origin}/static/saoma-bridge.js"
    pages = {
        name: (STATIC / f"{name}.html").read_text(encoding="utf-8").replace("{bridge}", bridge)
        for name in ("index", "kitchen")
    }
    files = {"table.js", "table.css", "kitchen.js"} | menu.PICTURES

    def page(name: str) -> Any:
        def show(_request: Request) -> Response:
            # The kitchen's screen is a page of its own, never framed by anyone.
            csp = page_csp(wallet_origin, framed=name == "index")
            return HTMLResponse(pages[name], headers={"Content-Security-Policy": csp})

        return show

    post = {
        "session": service.open_session,
        "login": service.sign_in,
        "table": service.sit,
        "order": service.order,
        "paid": service.paid,
        "state": service.state,
        "kitchen": service.kitchen,
        "served": service.served,
    }
    return Starlette(
        routes=[
            Route("/", page("index")),
            Route("/kitchen", page("kitchen")),
            Route("/static/{name}", assets(STATIC, files)),
            *(Route(f"/api/{n}", action(work), methods=["POST"]) for n, work in post.items()),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    def start(saoma_url: str, key: dict[str, Any]) -> Starlette:
        kitchen_key = key.get("kitchen_key") or secrets.token_urlsafe(18)
        service = TableService(saoma_url, key["key_id"], key["private_key"], kitchen_key)
        print(f"The kitchen's screen: /kitchen#key={kitchen_key} on this service's address")
        return create_app(service, saoma_url)

    run_alone("The table-ordering demo mini-program.", argv, start)


if __name__ == "__main__":  # pragma: no cover
    main()
