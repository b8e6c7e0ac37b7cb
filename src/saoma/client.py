"""A small typed client for Saoma's HTTP API: merchants' servers sign with their Ed25519 key.

    from saoma.client import MerchantClient
    shop = MerchantClient("https://pay.example.cn", key_id="k_…", private_key=key)
    order = shop.create_order("T-0001", 2500, description="Beef noodles")
    order["qr_payload"]          # show it as a QR code; Saoma calls your webhook when paid

Every refusal raises :class:`SaomaError` carrying the RFC 9457 problem document. Every call that
moves or reserves money sends an Idempotency-Key: a new one per call, or the one you pass as
``idempotency_key`` to retry an operation whose outcome you did not learn.

Longer than usual: a merchant's program imports one client whole; each call is a few lines.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from saoma import signing


def new_key() -> str:
    """A fresh Idempotency-Key. Every request that moves or reserves money needs one: the client
    makes one per call unless given one (give the same one to retry an operation safely)."""
    return secrets.token_hex(16)


class SaomaError(Exception):
    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('type', '')}: {problem.get('detail', '')}")
        self.status = status
        self.problem = problem

    @property
    def slug(self) -> str:
        return str(self.problem.get("type", "")).rsplit("/", 1)[-1]


class _Base:
    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout)
        self.last_response: httpx.Response | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> _Base:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        return {}

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        params: dict[str, Any] | None = None,
        access_token: str | None = None,
    ) -> Any:
        """A signed request; ``access_token``, a mini-program's token for one payer, is sent
        along as ``Authorization: Bearer`` (``/v1/mini/userinfo``, a mandate's request)."""
        content = json.dumps(body).encode() if body is not None else b""
        url = httpx.URL(path, params=params)
        path_qs = url.raw_path.decode()
        headers = self._headers(method, path_qs, content)
        if access_token is not None:
            headers["authorization"] = f"Bearer {access_token}"
        if body is not None:
            headers["content-type"] = "application/json"
        if idempotency_key is None and method == "POST":
            idempotency_key = new_key()  # harmless where the server needs none
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        response = self.http.request(method, path_qs, content=content, headers=headers)
        self.last_response = response
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text}
            raise SaomaError(response.status_code, problem)
        if response.status_code == 204 or not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content


class MerchantClient(_Base):
    """Signs every request with the merchant's private key; the server knows only the public one."""

    def __init__(
        self, base_url: str, *, key_id: str, private_key: Ed25519PrivateKey, timeout: float = 10.0
    ) -> None:
        super().__init__(base_url, timeout=timeout)
        self.key_id = key_id
        self.private_key = private_key

    def _headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        return signing.sign_request(
            self.private_key, self.key_id, method, path, body, timestamp=int(time.time())
        )

    def me(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/v1/merchant")
        return result

    def create_order(
        self,
        merchant_order_no: str,
        amount: int,
        *,
        currency: str = "CNY",
        description: str = "",
        expires_in_s: int = 900,
        notify_url: str = "",
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST",
            "/v1/orders",
            {
                "merchant_order_no": merchant_order_no,
                "amount": amount,
                "currency": currency,
                "description": description,
                "expires_in_s": expires_in_s,
                "notify_url": notify_url,
            },
        )
        return result

    def get_order(self, order_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/v1/orders/{order_id}")
        return result

    def close_order(self, order_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", f"/v1/orders/{order_id}/close")
        return result

    def refund(
        self,
        payment_id: str,
        amount: int,
        merchant_refund_no: str,
        *,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST",
            f"/v1/payments/{payment_id}/refunds",
            {"amount": amount, "merchant_refund_no": merchant_refund_no, "reason": reason},
            idempotency_key=idempotency_key or new_key(),
        )
        return result

    def payments(
        self,
        cursor: str | None = None,
        limit: int = 20,
        *,
        kind: str | None = None,
        q: str | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        for name, value in (("cursor", cursor), ("kind", kind), ("q", q)):
            if value:
                params[name] = value
        result: dict[str, Any] = self.request("GET", "/v1/merchant/payments", params=params)
        return result

    def summary(self, days: int = 7) -> dict[str, Any]:
        """Takings today, per hour today and per day for the last ``days`` days."""
        result: dict[str, Any] = self.request("GET", "/v1/merchant/summary", params={"days": days})
        return result

    def statement(self, first: str, last: str) -> str:
        """The CSV statement of every payment between two dates (YYYY-MM-DD), inclusive."""
        body: bytes = self.request(
            "GET", "/v1/merchant/statement.csv", params={"from": first, "to": last}
        )
        return body.decode("utf-8")

    def create_hold(
        self, merchant_ref: str, amount: int, *, expires_in_s: int = 3600, description: str = ""
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST",
            "/v1/holds",
            {
                "merchant_ref": merchant_ref,
                "amount": amount,
                "currency": "CNY",
                "expires_in_s": expires_in_s,
                "description": description,
            },
        )
        return result

    def capture_hold(
        self, hold_id: str, amount: int, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST",
            f"/v1/holds/{hold_id}/capture",
            {"amount": amount},
            idempotency_key=idempotency_key or new_key(),
        )
        return result

    def void_hold(self, hold_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", f"/v1/holds/{hold_id}/void")
        return result

    def create_charge(
        self,
        code: str,
        amount: int,
        merchant_order_no: str,
        *,
        terminal_id: str = "till-1",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST",
            "/v1/charges",
            {
                "code": code,
                "amount": amount,
                "currency": "CNY",
                "merchant_order_no": merchant_order_no,
                "terminal_id": terminal_id,
            },
            idempotency_key=idempotency_key or new_key(),
        )
        return result

    def get_charge(self, charge_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/v1/charges/{charge_id}")
        return result

    def holds(
        self,
        cursor: str | None = None,
        limit: int = 20,
        *,
        state: str | None = None,
        merchant_ref: str | None = None,
    ) -> dict[str, Any]:
        """A page of holds, newest first: ``{"data": [...], "next_cursor": ...}``."""
        return _page(
            self, "/v1/merchant/holds", cursor, limit, state=state, merchant_ref=merchant_ref
        )

    def refunds(
        self,
        cursor: str | None = None,
        limit: int = 20,
        *,
        payment_id: str | None = None,
        merchant_refund_no: str | None = None,
    ) -> dict[str, Any]:
        """A page of refunds, newest first."""
        return _page(
            self,
            "/v1/merchant/refunds",
            cursor,
            limit,
            payment_id=payment_id,
            merchant_refund_no=merchant_refund_no,
        )

    def find_refund(self, merchant_refund_no: str) -> dict[str, Any] | None:
        """The refund sent with this number, or None if none was made: after a lost answer."""
        page = self.refunds(limit=1, merchant_refund_no=merchant_refund_no)
        return page["data"][0] if page["data"] else None

    def webhook_deliveries(
        self,
        cursor: str | None = None,
        limit: int = 50,
        *,
        payment_id: str | None = None,
        subject: str | None = None,
        event_type: str | None = None,
    ) -> dict[str, Any]:
        """A page of webhook events with their delivery attempts, newest first."""
        return _page(
            self,
            "/v1/merchant/webhook-deliveries",
            cursor,
            limit,
            payment_id=payment_id,
            subject=subject,
            type=event_type,
        )

    def request_mandate(
        self,
        payer: str | None,
        merchant_mandate_no: str,
        *,
        purpose: str,
        amount_max: int,
        frequency: str,
        start_on: str,
        end_on: str,
        currency: str = "CNY",
        access_token: str | None = None,
    ) -> dict[str, Any]:
        """Ask ``payer`` (wallet id, or a phone or e-mail they confirmed) for a mandate; it
        waits in their wallet until they agree with the PIN. A mini-program's server passes
        ``payer=None`` and the payer's ``access_token`` instead."""
        body: dict[str, Any] = {
            "payer": payer,
            "merchant_mandate_no": merchant_mandate_no,
            "purpose": purpose,
            "amount_max": amount_max,
            "currency": currency,
            "frequency": frequency,
            "start_on": start_on,
            "end_on": end_on,
        }
        if payer is None:
            del body["payer"]
        result: dict[str, Any] = self.request(
            "POST", "/v1/mandates", body, access_token=access_token
        )
        return result

    def get_mandate(self, mandate_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/v1/mandates/{mandate_id}")
        return result

    def mandates(
        self, *, state: str | None = None, cursor: str | None = None, limit: int = 20
    ) -> dict[str, Any]:
        """A page of this merchant's mandates, newest first (``next_cursor`` for the next)."""
        params: dict[str, Any] = {"limit": limit}
        if state is not None:
            params["state"] = state
        if cursor is not None:
            params["cursor"] = cursor
        result: dict[str, Any] = self.request("GET", "/v1/mandates", params=params)
        return result

    def announce_debit(
        self, mandate_id: str, amount: int, *, currency: str = "CNY"
    ) -> dict[str, Any]:
        """A pre-debit notice: its debit may come 24 hours later, for exactly ``amount``."""
        result: dict[str, Any] = self.request(
            "POST", f"/v1/mandates/{mandate_id}/notices", {"amount": amount, "currency": currency}
        )
        return result

    def debit_mandate(
        self,
        mandate_id: str,
        notice_id: str,
        amount: int,
        *,
        currency: str = "CNY",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Debit the payer on a notice sent at least 24 hours before."""
        result: dict[str, Any] = self.request(
            "POST",
            f"/v1/mandates/{mandate_id}/debits",
            {"notice_id": notice_id, "amount": amount, "currency": currency},
            idempotency_key=idempotency_key,
        )
        return result


class ConsumerClient(_Base):
    """What a wallet app does, with a bearer token."""

    def __init__(self, base_url: str, token: str = "", *, timeout: float = 10.0) -> None:  # nosec B107
        super().__init__(base_url, timeout=timeout)
        self.token = token

    def _headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"} if self.token else {}

    def sign_up(self, login: str, password: str, display_name: str = "") -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST",
            "/v1/consumers",
            {"login": login, "password": password, "display_name": display_name},
        )
        self.token = result["token"]
        return result

    def me(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/v1/me")
        return result

    def set_pin(self, pin: str, *, password: str | None = None, old_pin: str | None = None) -> None:
        self.request("PUT", "/v1/me/pin", {"pin": pin, "password": password, "old_pin": old_pin})

    def top_up(self, amount: int, *, idempotency_key: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST",
            "/v1/me/top-ups",
            {"amount": amount, "currency": "CNY"},
            idempotency_key=idempotency_key or new_key(),
        )
        return result

    def preview(self, payload: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", "/v1/codes/preview", {"payload": payload})
        return result

    def pay_order(
        self, order_id: str, pin: str | None, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST",
            f"/v1/orders/{order_id}/pay",
            {"pin": pin},
            idempotency_key=idempotency_key or new_key(),
        )
        return result

    def pay_static(
        self,
        merchant_id: str,
        amount: int,
        pin: str | None,
        *,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST",
            f"/v1/merchants/{merchant_id}/pay",
            {"amount": amount, "currency": "CNY", "note": note, "pin": pin},
            idempotency_key=idempotency_key or new_key(),
        )
        return result

    def consent_hold(
        self, hold_id: str, pin: str, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST",
            f"/v1/holds/{hold_id}/consent",
            {"pin": pin},
            idempotency_key=idempotency_key or new_key(),
        )
        return result

    def send_money(
        self,
        to: str,
        amount: int,
        pin: str,
        *,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """A transfer to a person (wallet id, phone or e-mail): always confirmed with the PIN."""
        result: dict[str, Any] = self.request(
            "POST",
            "/v1/transfers",
            {"to": to, "amount": amount, "currency": "CNY", "note": note, "pin": pin},
            idempotency_key=idempotency_key or secrets.token_hex(8),
        )
        return result

    def create_red_packet(
        self,
        amount: int,
        shares: int,
        pin: str,
        *,
        mode: str = "random",
        greeting: str = "",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """A red packet of ``amount`` in ``shares``: always confirmed with the PIN."""
        result: dict[str, Any] = self.request(
            "POST",
            "/v1/red-packets",
            {
                "amount": amount,
                "shares": shares,
                "mode": mode,
                "greeting": greeting,
                "currency": "CNY",
                "pin": pin,
            },
            idempotency_key=idempotency_key or secrets.token_hex(8),
        )
        return result

    def payments(self, cursor: str | None = None, limit: int = 20) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        result: dict[str, Any] = self.request("GET", "/v1/me/payments", params=params)
        return result

    def holds(
        self, cursor: str | None = None, limit: int = 100, *, state: str | None = None
    ) -> dict[str, Any]:
        """A page of the holds on the wallet, newest first."""
        return _page(self, "/v1/me/holds", cursor, limit, state=state)

    def transfers(
        self,
        cursor: str | None = None,
        limit: int = 100,
        *,
        direction: str | None = None,
        state: str | None = None,
    ) -> dict[str, Any]:
        """A page of money sent to people (``out``) and received (``in``), newest first."""
        return _page(self, "/v1/me/transfers", cursor, limit, direction=direction, state=state)

    def bank_transfers(
        self,
        cursor: str | None = None,
        limit: int = 20,
        *,
        direction: str | None = None,
        state: str | None = None,
    ) -> dict[str, Any]:
        """A page of top-ups (``topup``) and withdrawals (``withdraw``), newest first."""
        return _page(self, "/v1/me/bank-transfers", cursor, limit, direction=direction, state=state)

    def mandates(self) -> dict[str, Any]:
        """The wallet's mandates, with their notices, debits and the next debit to expect."""
        result: dict[str, Any] = self.request("GET", "/v1/me/mandates")
        return result

    def agree_mandate(self, mandate_id: str, pin: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST", f"/v1/me/mandates/{mandate_id}/agree", {"pin": pin}
        )
        return result

    def change_mandate(self, mandate_id: str, action: str) -> dict[str, Any]:
        """``action`` is pause, resume or revoke; each takes effect at once."""
        result: dict[str, Any] = self.request("POST", f"/v1/me/mandates/{mandate_id}/{action}")
        return result

    def object_to_notice(self, mandate_id: str, notice_id: str) -> dict[str, Any]:
        """Object to a pre-debit notice: its debit will not be made."""
        result: dict[str, Any] = self.request(
            "POST", f"/v1/me/mandates/{mandate_id}/notices/{notice_id}/object"
        )
        return result


def _page(
    client: _Base, path: str, cursor: str | None, limit: int, **filters: str | None
) -> dict[str, Any]:
    """GET one page of a list; filters left as None are not sent."""
    params: dict[str, Any] = {"limit": limit}
    if cursor:
        params["cursor"] = cursor
    params.update((name, value) for name, value in filters.items() if value is not None)
    result: dict[str, Any] = client.request("GET", path, params=params)
    return result
