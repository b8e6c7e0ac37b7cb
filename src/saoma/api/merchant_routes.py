"""Routes for merchants' servers (signed requests) and the cashier and dashboard (session)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from saoma.api import deps
from saoma.api.accounts_out import (
    DeliveryPage,
    KeyIdOut,
    KeyList,
    MerchantMeOut,
    MerchantOut,
    MerchantSignedInOut,
    MerchantSignedUpOut,
    ReplayOut,
    SummaryOut,
    WebhookSecretOut,
)
from saoma.api.consumer_routes import Cursor, Limit, stream
from saoma.api.guards import PIN_GUARDED, manager_present, password_session
from saoma.api.payments_out import (
    MerchantPaymentDetailOut,
    MerchantPaymentPage,
    OrderOut,
    RefundOut,
    RefundPage,
)
from saoma.api.responses import answer, problems
from saoma.api.schemas import (
    AddKey,
    CreateOrder,
    CreateRefund,
    MerchantSignUp,
    SetPin,
    SignIn,
    WebhookUrl,
)
from saoma.core.errors import InvalidRequest, not_found
from saoma.merchants.service import Merchant
from saoma.payments import codes
from saoma.payments.reports import statement_range
from saoma.payments.subjects import event_subjects
from saoma.webhooks import deliveries as sent_events

router = APIRouter(prefix="/v1", tags=["merchants"])

# The payments' own routes, matched before every other route (``saoma.api.app``).
first = APIRouter(prefix="/v1", tags=["merchants"])
Shop = Annotated[Merchant, Depends(deps.merchant)]
# Checked in the worker thread with the request's work (``deps.idempotent_as``).
ShopLater = Annotated[Callable[[], Merchant], Depends(deps.merchant_later)]


def merchant_view(platform: Any, merchant: Merchant) -> dict[str, Any]:
    return {
        **merchant.public(),
        "login": merchant.login,
        "fee_ppm": merchant.fee_ppm,
        "webhook_url": merchant.webhook_url,
        "has_manager_pin": merchant.has_manager_pin,
        "balance": platform.merchants.balance(merchant),
        "kyc_state": platform.kyc.state_of(merchant.id),
        "static_code": {
            "qr_payload": codes.static_payload(merchant),
            "qr_image_url": f"/v1/merchants/{merchant.id}/static-code.svg",
        },
    }


@router.post(
    "/merchants", status_code=201, response_model=MerchantSignedUpOut, responses=problems(409, 422)
)
def merchant_sign_up(body: MerchantSignUp, request: Request) -> Response:
    """Become a merchant: a merchant id and a static code at once; optionally register a key."""
    platform = deps.platform_of(request)
    merchant = platform.merchants.sign_up(
        login=body.login,
        password=body.password,
        name=body.name,
        name_zh=body.name_zh,
        city=body.city,
        category_code=body.category_code,
        webhook_url=body.webhook_url,
    )
    key_id = platform.merchants.add_key(merchant.id, body.public_key) if body.public_key else None
    return answer(
        {
            "merchant": merchant_view(platform, merchant),
            "key_id": key_id,
            "webhook_secret": merchant.webhook_secret,
            "token": platform.merchants.session_token(merchant.id),
        },
        201,
    )


@router.post(
    "/merchant-sessions",
    status_code=201,
    response_model=MerchantSignedInOut,
    responses=problems(401, 422, 429),
)
def merchant_sign_in(body: SignIn, request: Request) -> Response:
    """A session token for a till or the dashboard; the device is kept as at ``/v1/sessions``."""
    platform, device = deps.platform_of(request), deps.device_of(request)
    merchant, token = platform.merchants.sign_in_session(
        body.login, body.password, deps.address_of(request), device
    )
    signed_in = answer({"merchant": merchant_view(platform, merchant), "token": token}, 201)
    return deps.with_device(request, signed_in, device)


@router.get("/merchant", response_model=MerchantMeOut, responses=problems(401))
def merchant_me(shop: Shop, request: Request) -> Response:
    """The merchant's profile, settlement balance, static code and freeze (null if none)."""
    platform = deps.platform_of(request)
    freeze = platform.freezes.active(shop.id)
    shown = freeze.shown() if freeze is not None else None
    return answer({**merchant_view(platform, shop), "freeze": shown})


@router.put(
    "/merchant/webhook",
    response_model=MerchantOut,
    responses=problems(401, 422, 423),
    openapi_extra=PIN_GUARDED,
)
def set_webhook(body: WebhookUrl, shop: Shop, request: Request) -> Response:
    manager_present(request, shop)
    platform = deps.platform_of(request)
    return answer(merchant_view(platform, platform.merchants.set_webhook_url(shop.id, body.url)))


@router.get(
    "/merchant/webhook-secret",
    response_model=WebhookSecretOut,
    responses=problems(401, 422, 423),
    openapi_extra=PIN_GUARDED,
)
def webhook_secret(shop: Shop, request: Request) -> Response:
    """The secret webhooks are signed with; during a rotation also the previous one."""
    manager_present(request, shop)
    return answer(deps.platform_of(request).merchants.webhook_secret(shop.id))


@router.post(
    "/merchant/webhook-secret",
    response_model=WebhookSecretOut,
    responses=problems(401, 422, 423),
    openapi_extra=PIN_GUARDED,
)
def rotate_webhook_secret(shop: Shop, request: Request) -> Response:
    """A new secret now; for 24 hours deliveries carry signatures by both, new and previous."""
    manager_present(request, shop)
    return answer(deps.platform_of(request).merchants.rotate_webhook_secret(shop.id))


@router.put("/merchant/manager-pin", status_code=204, responses=problems(401, 409, 422, 423, 429))
def set_manager_pin(body: SetPin, shop: Shop, request: Request) -> Response:
    """Set the six-digit manager PIN (first time: with the password; later: with the old PIN).

    Refunds asked for from a signed-in session (the dashboard) need it.
    """
    deps.platform_of(request).merchants.set_manager_pin(
        shop.id,
        body.pin,
        password=body.password,
        old_pin=body.old_pin,
        address=deps.address_of(request),
    )
    return Response(status_code=204)


@router.get("/merchant/keys", response_model=KeyList, responses=problems(401))
def list_keys(shop: Shop, request: Request) -> Response:
    return answer({"data": deps.platform_of(request).merchants.keys(shop.id)})


@router.post(
    "/merchant/keys",
    status_code=201,
    response_model=KeyIdOut,
    responses=problems(401, 422, 423),
    openapi_extra=PIN_GUARDED,
)
def add_key(body: AddKey, shop: Shop, request: Request) -> Response:
    """Register an Ed25519 public key; `rotate` retires the older keys after the overlap."""
    manager_present(request, shop)
    key_id = deps.platform_of(request).merchants.add_key(
        shop.id, body.public_key, rotate=body.rotate
    )
    return answer({"id": key_id}, 201)


@router.delete(
    "/merchant/keys/{key_id}",
    status_code=204,
    responses=problems(401, 404, 422, 423),
    openapi_extra=PIN_GUARDED,
)
def revoke_key(key_id: str, shop: Shop, request: Request) -> Response:
    manager_present(request, shop)
    deps.platform_of(request).merchants.revoke_key(shop.id, key_id)
    return Response(status_code=204)


@first.post("/orders", status_code=201, response_model=OrderOut, responses=problems(401, 409, 422))
async def create_order(body: CreateOrder, shop: ShopLater, request: Request) -> Any:
    """A dynamic order: its EMVCo payload and image. The order number makes it idempotent."""
    platform = deps.platform_of(request)

    def work(merchant: Merchant, claim: Any) -> dict[str, Any]:
        order, _new = platform.payments.create_order(
            merchant,
            merchant_order_no=body.merchant_order_no,
            amount=body.amount,
            currency=body.currency,
            description=body.description,
            expires_in_s=body.expires_in_s,
            notify_url=body.notify_url,
            claim=claim,
        )
        return order

    return await deps.idempotent_as(request, shop, work, required=False)


@router.get("/orders", response_model=OrderOut, responses=problems(401, 404, 422))
def find_order(
    shop: Shop, request: Request, merchant_order_no: Annotated[str, Query(max_length=64)]
) -> Response:
    """Find an order by the merchant's own order number."""
    return answer(deps.platform_of(request).payments.find_order(shop, merchant_order_no))


@router.get("/orders/{order_id}", response_model=OrderOut, responses=problems(401, 404))
def get_order(order_id: str, shop: Shop, request: Request) -> Response:
    return answer(deps.platform_of(request).payments.get_order(shop, order_id))


@router.post("/orders/{order_id}/close", response_model=OrderOut, responses=problems(401, 404, 409))
def close_order(order_id: str, shop: Shop, request: Request) -> Response:
    """Close an unpaid order so nobody can pay it any more."""
    return answer(deps.platform_of(request).payments.close_order(shop, order_id))


@router.get("/orders/{order_id}/qr.svg", tags=["codes"], responses=problems(404))
def order_qr(order_id: str, request: Request) -> Response:
    """The order's QR code (the payload is not secret; the order id is unguessable)."""
    platform = deps.platform_of(request)
    row = platform.payments._order_row(order_id)
    if row is None:
        raise not_found("order", order_id)
    merchant = platform.merchants.get(row.merchant_id)
    return Response(codes.svg(codes.order_payload(merchant, row)), media_type="image/svg+xml")


@router.get("/merchants/{merchant_id}/static-code.svg", tags=["codes"], responses=problems(404))
def static_qr(merchant_id: str, request: Request) -> Response:
    merchant = deps.platform_of(request).merchants.get(merchant_id)
    return Response(codes.svg(codes.static_payload(merchant)), media_type="image/svg+xml")


@router.get("/merchant/payments", response_model=MerchantPaymentPage, responses=problems(401, 422))
def merchant_payments(
    shop: Shop,
    request: Request,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    kind: Annotated[str | None, Query(description="order, static, paycode or capture")] = None,
    q: Annotated[
        str | None, Query(max_length=64, description="payment id, order id or note")
    ] = None,
    amount: Annotated[
        int | None, Query(ge=1, le=10**12, description="exactly this price, in minor units")
    ] = None,
    payer: Annotated[
        str | None,
        Query(max_length=64, description="the end of the payer's name, as shown masked (*敏)"),
    ] = None,
) -> Response:
    """Payments received, newest first: gross, fee and net; filter by kind, search by text,
    by amount or by payer."""
    return answer(
        deps.platform_of(request).payments.list_payments(
            merchant=shop,
            cursor=cursor,
            limit=limit,
            kind=kind,
            search=q,
            amount=amount,
            payer=payer,
        )
    )


@router.get(
    "/merchant/summary", tags=["reports"], response_model=SummaryOut, responses=problems(401, 422)
)
def merchant_summary(
    shop: Shop, request: Request, days: Annotated[int, Query(ge=1, le=90)] = 7
) -> Response:
    """Takings today (count, gross, fees, refunded, net), today per hour, the last days per day."""
    return answer(deps.platform_of(request).reports.summary(shop, days=days))


@router.get(
    "/merchant/statement.csv",
    tags=["reports"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **problems(401, 422)},
)
def merchant_statement(
    shop: Shop,
    request: Request,
    start: Annotated[str, Query(alias="from", description="first day, YYYY-MM-DD")],
    end: Annotated[str, Query(alias="to", description="last day, YYYY-MM-DD")],
) -> StreamingResponse:
    """Every payment between two local dates inclusive, as CSV with a totals line."""
    first, last = statement_range(start, end)
    lines, freshness = deps.platform_of(request).reports.statement_csv(shop, first, last)
    name = f"saoma-{shop.id}-{first}-{last}.csv"
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            # Read from a standby when one is set: how many seconds behind it may be.
            "Saoma-Read-From": freshness.source,
            "Saoma-Data-Age": f"{freshness.age_s:.1f}",
        },
    )


@router.get(
    "/merchant/payments/{payment_id}",
    response_model=MerchantPaymentDetailOut,
    responses=problems(401, 404),
)
def merchant_payment(payment_id: str, shop: Shop, request: Request) -> Response:
    return answer(deps.platform_of(request).payments.payment_for_merchant(shop, payment_id))


@router.post(
    "/payments/{payment_id}/refunds",
    status_code=201,
    response_model=RefundOut,
    responses=problems(401, 402, 404, 409, 422, 423),
)
async def refund(payment_id: str, body: CreateRefund, shop: Shop, request: Request) -> Any:
    """Refund all or part of a payment to the payer's wallet; idempotent by refund number.

    From a signed-in session (dashboard, `mt_` token) the merchant's manager PIN is required;
    a signed request needs none.
    """
    platform = deps.platform_of(request)
    if password_session(request):
        if body.manager_pin is None:
            raise InvalidRequest(
                "a refund from a signed-in session needs the manager PIN", field="manager_pin"
            )
        await deps.in_worker(platform.merchants.verify_manager_pin, shop.id, body.manager_pin)
    return await deps.idempotent(
        request,
        shop.id,
        lambda claim: platform.payments.refund(
            shop,
            payment_id,
            amount=body.amount,
            merchant_refund_no=body.merchant_refund_no,
            reason=body.reason,
            claim=claim,
        ),
    )


@router.get(
    "/merchant/webhook-deliveries", response_model=DeliveryPage, responses=problems(401, 422)
)
def webhook_deliveries(
    shop: Shop,
    request: Request,
    cursor: Cursor = None,
    limit: Limit = 50,
    payment_id: Annotated[
        str | None, Query(max_length=64, description="Events about this payment.")
    ] = None,
    subject: Annotated[
        str | None, Query(max_length=64, description="An order, payment, charge or hold id.")
    ] = None,
    event_type: Annotated[
        str | None, Query(alias="type", max_length=48, description="e.g. payment.succeeded")
    ] = None,
) -> Response:
    """Webhook events, newest first, with every delivery attempt."""
    engine = deps.platform_of(request).engine
    found = sent_events.deliveries(
        engine,
        shop.id,
        cursor=cursor,
        limit=limit,
        subjects=event_subjects(engine, shop.id, payment_id),
        subject=subject,
        event_type=event_type,
    )
    return answer(found)


@router.post(
    "/merchant/webhook-deliveries/{event_id}/replay",
    status_code=202,
    response_model=ReplayOut,
    responses=problems(401, 404),
)
def replay_webhook(event_id: str, shop: Shop, request: Request) -> Response:
    platform = deps.platform_of(request)
    if not sent_events.replay(platform.engine, shop.id, event_id):
        raise not_found("webhook event", event_id)
    platform.dispatcher.wake()
    return answer({"id": event_id, "state": "pending"}, 202)


@router.get("/merchant/events", responses=problems(401))
async def merchant_events(shop: Shop, request: Request) -> StreamingResponse:
    """Server-sent events for the cashier: `payment.succeeded` the moment it commits. A
    session's stream ends with a `signed-out` event once the session has ended."""
    if not password_session(request):
        return stream(request, merchant_id=shop.id)
    merchants = deps.platform_of(request).merchants
    token = deps.merchant_token(request)
    return stream(
        request, merchant_id=shop.id, signed_in=lambda: merchants.for_token(token) is not None
    )


@router.get("/merchant/refunds", response_model=RefundPage, responses=problems(401, 422))
def merchant_refunds(
    shop: Shop,
    request: Request,
    cursor: Cursor = None,
    limit: Limit = 20,
    payment_id: Annotated[
        str | None, Query(max_length=64, description="Refunds of this payment.")
    ] = None,
    merchant_refund_no: Annotated[
        str | None, Query(max_length=64, description="Your own refund number.")
    ] = None,
) -> Response:
    """The merchant's refunds, newest first."""
    return answer(
        deps.platform_of(request).payments.merchant_refunds(
            shop,
            cursor=cursor,
            limit=limit,
            payment_id=payment_id,
            merchant_refund_no=merchant_refund_no,
        )
    )


@router.get(
    "/merchant/refunds/by-no/{merchant_refund_no}",
    response_model=RefundOut,
    responses=problems(401, 404, 422),
)
def merchant_refund_by_no(merchant_refund_no: str, shop: Shop, request: Request) -> Response:
    """The refund sent with this refund number: what became of a request whose answer was lost."""
    return answer(deps.platform_of(request).payments.refund_by_no(shop, merchant_refund_no))
