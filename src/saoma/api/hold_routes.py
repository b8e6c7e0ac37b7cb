"""Routes for pre-authorisations (deposits): a merchant asks, the payer consents by scanning,
the merchant captures part or all, or voids."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from saoma.api import deps
from saoma.api.consumer_routes import Cursor, Limit
from saoma.api.merchant_routes import Shop
from saoma.api.payments_out import HoldOut, HoldPage
from saoma.api.responses import answer, problems
from saoma.api.schemas import CaptureHold, CreateHold

router = APIRouter(prefix="/v1", tags=["merchants"])


@router.post(
    "/holds",
    status_code=201,
    tags=["holds"],
    response_model=HoldOut,
    responses=problems(401, 409, 422),
)
async def create_hold(body: CreateHold, shop: Shop, request: Request) -> Any:
    """Ask for a pre-authorisation (a deposit): the payer consents by scanning its code."""
    platform = deps.platform_of(request)
    return await deps.idempotent(
        request,
        shop.id,
        lambda _claim: platform.payments.create_hold(
            shop,
            merchant_ref=body.merchant_ref,
            amount=body.amount,
            currency=body.currency,
            expires_in_s=body.expires_in_s,
            description=body.description,
        ),
        required=False,  # reserves nothing until the payer consents
    )


@router.get(
    "/holds/{hold_id}", tags=["holds"], response_model=HoldOut, responses=problems(401, 404)
)
def get_hold(hold_id: str, shop: Shop, request: Request) -> Response:
    return answer(deps.platform_of(request).payments.get_hold(shop, hold_id))


@router.post(
    "/holds/{hold_id}/capture",
    tags=["holds"],
    response_model=HoldOut,
    responses=problems(401, 402, 404, 409, 422),
)
async def capture_hold(hold_id: str, body: CaptureHold, shop: Shop, request: Request) -> Any:
    """Take part or all of a held amount as a payment; the rest is released to the payer."""
    platform = deps.platform_of(request)
    return await deps.idempotent(
        request,
        shop.id,
        lambda claim: platform.payments.capture_hold(
            shop, hold_id, amount=body.amount, claim=claim
        ),
        status_code=200,
    )


@router.post(
    "/holds/{hold_id}/void",
    tags=["holds"],
    response_model=HoldOut,
    responses=problems(401, 404, 409),
)
def void_hold(hold_id: str, shop: Shop, request: Request) -> Response:
    """Release the whole hold back to the payer."""
    return answer(deps.platform_of(request).payments.void_hold(shop, hold_id))


@router.get(
    "/merchant/holds", tags=["holds"], response_model=HoldPage, responses=problems(401, 422)
)
def merchant_holds(
    shop: Shop,
    request: Request,
    cursor: Cursor = None,
    limit: Limit = 20,
    state: Annotated[
        str | None, Query(max_length=16, description="requested, held, captured, voided, expired")
    ] = None,
    merchant_ref: Annotated[
        str | None, Query(max_length=64, description="Your own reference of the hold.")
    ] = None,
) -> Response:
    """The merchant's holds, newest first."""
    return answer(
        deps.platform_of(request).payments.merchant_holds(
            shop, cursor=cursor, limit=limit, state=state, merchant_ref=merchant_ref
        )
    )
