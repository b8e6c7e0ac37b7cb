"""Routes for consumers' apps: sign-up, the wallet, scanning and paying, history, live events."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from saoma.api import deps
from saoma.api.accounts_out import (
    BankTransferOut,
    BankTransferPage,
    ConsumerOut,
    MeOut,
    SignedInOut,
    SignedUpOut,
)
from saoma.api.payments_out import (
    HoldOut,
    HoldPage,
    PaymentDetailOut,
    PaymentOut,
    PaymentPage,
    Preview,
)
from saoma.api.responses import answer, problems
from saoma.api.schemas import (
    ConsentHold,
    NoPinLimit,
    PayOrder,
    PayStatic,
    SetPin,
    SignIn,
    SignUp,
    TopUp,
    Withdraw,
)
from saoma.api.schemas import Preview as ScanPreview
from saoma.payments import codes
from saoma.payments.service import check_currency
from saoma.wallets.service import Consumer
from saoma.wallets.signup import open_wallet

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["consumers"])
# The payments' own routes, matched before every other route (``saoma.api.app``).
first = APIRouter(prefix="/v1", tags=["consumers"])
Me = Annotated[Consumer, Depends(deps.consumer)]
# Looked up in the worker thread with the request's work (``deps.idempotent_as``).
MeLater = Annotated[Callable[[], Consumer], Depends(deps.consumer_later)]


def consumer_view(c: Consumer) -> dict[str, Any]:
    return {
        "id": c.id,
        "login": "" if c.login.startswith("~") else c.login,  # "~": its claim is unproven
        "display_name": c.display_name,
        "currency": c.currency,
        "has_pin": c.has_pin,
        "no_pin_limit": {"per_payment": c.no_pin_limit, "per_day": c.no_pin_daily_limit},
    }


@router.post(
    "/consumers", status_code=201, response_model=SignedUpOut, responses=problems(409, 422)
)
def sign_up(body: SignUp, request: Request) -> Response:
    """Open a wallet with a phone number or e-mail and a password; returns a session token.

    A six-digit code is sent to the login: until it is typed back, money sent there waits."""
    platform = deps.platform_of(request)
    c, token, verification = open_wallet(
        platform.wallets, platform.identifiers, body.login, body.password, body.display_name
    )
    return answer({"consumer": consumer_view(c), "token": token, "verification": verification}, 201)


@router.post(
    "/sessions", status_code=201, response_model=SignedInOut, responses=problems(401, 422, 429)
)
def sign_in(body: SignIn, request: Request) -> Response:
    """A session token. The response also keeps this device in the ``saoma_device`` cookie:
    sent with later sign-ins, guesses at the password made elsewhere do not hold them back."""
    device = deps.device_of(request)
    token, c = deps.platform_of(request).wallets.sign_in(
        body.login, body.password, deps.address_of(request), device
    )
    return deps.with_device(
        request, answer({"consumer": consumer_view(c), "token": token}, 201), device
    )


@router.delete("/sessions/current", status_code=204, responses=problems(401))
def sign_out(me: Me, request: Request) -> Response:
    deps.platform_of(request).wallets.sign_out(deps.consumer_token(request))
    return Response(status_code=204)


@router.get("/me", response_model=MeOut, responses=problems(401))
def me_view(me: Me, request: Request) -> Response:
    """The signed-in consumer and the wallet's balance (minor units)."""
    platform = deps.platform_of(request)
    freeze = platform.freezes.active(me.id)
    shown = freeze.shown() if freeze is not None else None
    return answer({**consumer_view(me), **platform.wallets.balance(me), "freeze": shown})


@router.put("/me/pin", status_code=204, responses=problems(401, 409, 422, 423, 429))
def set_pin(body: SetPin, me: Me, request: Request) -> Response:
    """Set the six-digit payment PIN (first time: with the password; later: with the old PIN)."""
    deps.platform_of(request).wallets.set_pin(
        me.id,
        body.pin,
        password=body.password,
        old_pin=body.old_pin,
        address=deps.address_of(request),
    )
    return Response(status_code=204)


@router.put("/me/no-pin-limit", response_model=ConsumerOut, responses=problems(401, 422, 423))
def set_no_pin_limit(body: NoPinLimit, me: Me, request: Request) -> Response:
    """Let small payment-code charges settle without the PIN, per payment and per day."""
    c = deps.platform_of(request).wallets.set_no_pin_limit(
        me.id, body.per_payment, body.per_day, body.pin
    )
    return answer(consumer_view(c))


@router.post(
    "/me/top-ups",
    status_code=202,
    response_model=BankTransferOut,
    responses=problems(401, 409, 422),
)
async def top_up(body: TopUp, me: Me, request: Request) -> Any:
    """Add money from the bank: pending until the bank confirms (then `topup.succeeded`)."""
    platform = deps.platform_of(request)
    check_currency(body.currency, me.currency, whose="your wallet holds money")
    return await deps.idempotent(
        request,
        me.id,
        lambda claim: platform.funding.top_up(me, body.amount, claim=claim),
        status_code=202,
    )


@router.get(
    "/me/bank-transfers/{transfer_id}", response_model=BankTransferOut, responses=problems(401, 404)
)
def bank_transfer(transfer_id: str, me: Me, request: Request) -> Response:
    return answer(deps.platform_of(request).funding.get(me, transfer_id))


@router.post(
    "/me/withdrawals",
    status_code=202,
    response_model=BankTransferOut,
    responses=problems(401, 402, 409, 422, 423),
)
async def withdraw(body: Withdraw, me: Me, request: Request) -> Any:
    """Send money back to the bank; held in the wallet until the bank confirms."""
    platform = deps.platform_of(request)
    check_currency(body.currency, me.currency, whose="your wallet holds money")
    return await deps.idempotent(
        request,
        me.id,
        lambda claim: platform.funding.withdraw(me, body.amount, pin=body.pin, claim=claim),
        status_code=202,
    )


@router.post("/codes/preview", response_model=Preview, responses=problems(401, 404, 409, 422))
def preview(body: ScanPreview, me: Me, request: Request) -> Response:
    """What a scanned code asks for: merchant, amount (none: the payer types it), expiry."""
    return answer(codes.preview(deps.platform_of(request), me, body.payload, body.amount))


@first.post(
    "/orders/{order_id}/pay",
    status_code=201,
    response_model=PaymentOut,
    responses=problems(401, 402, 404, 409, 422, 423),
)
async def pay_order(order_id: str, body: PayOrder, me: MeLater, request: Request) -> Any:
    """Pay a merchant's dynamic order with the PIN."""
    platform = deps.platform_of(request)
    return await deps.idempotent_as(
        request,
        me,
        lambda payer, claim: platform.payments.pay_order(
            payer, order_id, pin=body.pin, offer_id=body.offer_id, claim=claim
        ),
    )


@router.post(
    "/merchants/{merchant_id}/pay",
    status_code=201,
    response_model=PaymentOut,
    responses=problems(401, 402, 404, 409, 422, 423),
)
async def pay_static(merchant_id: str, body: PayStatic, me: MeLater, request: Request) -> Any:
    """Pay a merchant's static code: the payer chose the amount."""
    platform = deps.platform_of(request)

    def currency(payer: Consumer) -> None:
        check_currency(body.currency, payer.currency, whose="your wallet holds money")

    def work(payer: Consumer, claim: Any) -> Any:
        return platform.payments.pay_static(
            payer,
            merchant_id,
            amount=body.amount,
            pin=body.pin,
            note=body.note,
            offer_id=body.offer_id,
            claim=claim,
        )

    return await deps.idempotent_as(request, me, work, check=currency)


@router.post(
    "/holds/{hold_id}/consent",
    status_code=201,
    tags=["holds"],
    response_model=HoldOut,
    responses=problems(401, 402, 404, 409, 422, 423),
)
async def consent_hold(hold_id: str, body: ConsentHold, me: Me, request: Request) -> Any:
    """Agree to a merchant's hold with the PIN: the amount is reserved in the wallet, not paid."""
    platform = deps.platform_of(request)
    return await deps.idempotent(
        request,
        me.id,
        lambda claim: platform.payments.consent_hold(me, hold_id, pin=body.pin, claim=claim),
    )


Cursor = Annotated[
    str | None, Query(max_length=64, description="The `next_cursor` of the page before.")
]
Limit = Annotated[int, Query(ge=1, le=100, description="Rows per page, 1 to 100.")]


@router.get("/me/holds", tags=["holds"], response_model=HoldPage, responses=problems(401, 422))
def my_holds(
    me: Me,
    request: Request,
    cursor: Cursor = None,
    limit: Limit = 100,
    state: Annotated[
        str | None, Query(max_length=16, description="requested, held, captured, voided, expired")
    ] = None,
) -> Response:
    """Holds on the wallet, newest first: what is reserved, for whom, until when."""
    payments = deps.platform_of(request).payments
    return answer(payments.holds_of(me, cursor=cursor, limit=limit, state=state))


@router.get("/me/bank-transfers", response_model=BankTransferPage, responses=problems(401, 422))
def my_bank_transfers(
    me: Me,
    request: Request,
    cursor: Cursor = None,
    limit: Limit = 20,
    direction: Annotated[str | None, Query(max_length=16, description="topup or withdraw")] = None,
    state: Annotated[
        str | None, Query(max_length=16, description="pending, succeeded or failed")
    ] = None,
) -> Response:
    """Top-ups and withdrawals, newest first, with what the bank answered."""
    return answer(
        deps.platform_of(request).funding.bank_transfers_of(
            me, cursor=cursor, limit=limit, direction=direction, state=state
        )
    )


@router.get("/me/payments", response_model=PaymentPage, responses=problems(401, 422))
def my_payments(
    me: Me,
    request: Request,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """The consumer's payments, newest first, with cursor pagination."""
    payments = deps.platform_of(request).payments
    return answer(payments.list_payments(consumer=me, cursor=cursor, limit=limit))


@router.get(
    "/me/payments/{payment_id}", response_model=PaymentDetailOut, responses=problems(401, 404)
)
def my_payment(payment_id: str, me: Me, request: Request) -> Response:
    return answer(deps.platform_of(request).payments.payment_for_consumer(me, payment_id))


@router.get("/me/events", responses=problems(401))
async def my_events(me: Me, request: Request) -> StreamingResponse:
    """Server-sent events: payments, refunds, top-ups and charges waiting for the PIN. The
    stream ends with a `signed-out` event once its session has ended."""
    wallets = deps.platform_of(request).wallets
    token = deps.consumer_token(request)
    return stream(
        request, consumer_id=me.id, signed_in=lambda: wallets.for_token(token) is not None
    )


async def _still_signed_in(signed_in: Callable[[], bool]) -> bool:
    """Whether a stream's session still holds; a check that fails (the database away for a
    moment) keeps the stream, and the next check asks again."""
    try:
        return await deps.in_worker(signed_in)
    except Exception:
        log.warning("a live stream's session could not be checked; asked again later")
        return True


def stream(
    request: Request,
    *,
    merchant_id: str | None = None,
    consumer_id: str | None = None,
    signed_in: Callable[[], bool] | None = None,
) -> StreamingResponse:
    """The live events of a merchant or a consumer as server-sent events. With ``signed_in``
    (a stream opened with a session), it is asked every ``stream_session_check_s``: a session
    signed out, everywhere or by a password change, ends its streams with ``signed-out``."""
    platform = deps.platform_of(request)
    live = platform.live
    every_s = platform.stream_session_check_s
    sub = live.subscribe(merchant_id=merchant_id, consumer_id=consumer_id)

    async def events() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            loop = asyncio.get_running_loop()
            checked = loop.time()
            while True:
                try:
                    event = await asyncio.wait_for(sub.queue.get(), timeout=min(15, every_s))
                except TimeoutError:
                    event = None
                if signed_in is not None and loop.time() - checked >= every_s:
                    checked = loop.time()
                    if not await _still_signed_in(signed_in):
                        yield "event: signed-out\ndata: {}\n\n"
                        return
                if event is None:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                data = json.dumps(event, ensure_ascii=False)
                yield f"id: {event['id']}\nevent: {event['type']}\ndata: {data}\n\n"
        finally:
            live.unsubscribe(sub)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


__all__ = ["JSONResponse", "router", "stream"]
