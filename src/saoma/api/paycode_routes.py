"""Routes for payment codes: the payer's devices, the terminal's charge, the payer's answer."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from saoma.api import deps
from saoma.api.accounts_out import DeviceList, EnrolledOut, HandlesOut
from saoma.api.payments_out import ChargeList, ChargeOut
from saoma.api.responses import answer, problems
from saoma.api.schemas import ConfirmCharge, CreateCharge, EnrolDevice
from saoma.merchants.service import Merchant
from saoma.wallets.service import Consumer

router = APIRouter(prefix="/v1", tags=["payment codes"])
# The payments' own routes, matched before every other route (``saoma.api.app``).
first = APIRouter(prefix="/v1", tags=["payment codes"])
Me = Annotated[Consumer, Depends(deps.consumer)]
Shop = Annotated[Merchant, Depends(deps.merchant)]
# Checked in the worker thread with the request's work (``deps.idempotent_as``).
ShopLater = Annotated[Callable[[], Merchant], Depends(deps.merchant_later)]


@router.post(
    "/me/devices", status_code=201, response_model=EnrolledOut, responses=problems(401, 422)
)
def enrol_device(body: EnrolDevice, me: Me, request: Request) -> Response:
    """Enrol this device for payment codes: its secret and one-time handles, shown once.

    The device then makes codes offline: "28" + a handle + HOTP-style six digits of
    HMAC-SHA256(secret, handle ‖ 30-second time step).
    """
    platform, token = deps.platform_of(request), deps.consumer_token(request)
    signed_in = partial(platform.wallets.hold_session, consumer_id=me.id, token=token)
    return answer(platform.paycodes.enrol(me.id, body.label, while_signed_in=signed_in), 201)


@router.get("/me/devices", response_model=DeviceList, responses=problems(401))
def my_devices(me: Me, request: Request) -> Response:
    return answer({"data": deps.platform_of(request).paycodes.devices(me.id)})


@router.post(
    "/me/devices/{device_id}/handles",
    status_code=201,
    response_model=HandlesOut,
    responses=problems(401, 404),
)
def more_handles(device_id: str, me: Me, request: Request) -> Response:
    """A fresh batch of one-time handles for a device that is running low."""
    handles = deps.platform_of(request).paycodes.replenish(me.id, device_id)
    return answer({"handles": handles}, 201)


@router.delete("/me/devices/{device_id}", status_code=204, responses=problems(401, 404))
def revoke_device(device_id: str, me: Me, request: Request) -> Response:
    """A lost phone: every code it could still make stops working at once."""
    deps.platform_of(request).paycodes.revoke(me.id, device_id)
    return Response(status_code=204)


@router.get("/me/charges", response_model=ChargeList, responses=problems(401))
def waiting_charges(me: Me, request: Request) -> Response:
    """Charges at a till waiting for this payer's PIN."""
    return answer({"data": deps.platform_of(request).payments.waiting_charges(me)})


@router.post(
    "/me/charges/{charge_id}/answer",
    response_model=ChargeOut,
    responses=problems(401, 402, 404, 409, 422, 423),
)
async def answer_charge(charge_id: str, body: ConfirmCharge, me: Me, request: Request) -> Any:
    """Confirm the till's charge with the PIN (`accept: true`) or refuse it."""
    platform = deps.platform_of(request)
    return await deps.idempotent(
        request,
        me.id,
        lambda _claim: platform.payments.answer_charge(
            me, charge_id, accept=body.accept, pin=body.pin
        ),
        status_code=200,
    )


@first.post(
    "/charges",
    status_code=201,
    response_model=ChargeOut,
    responses=problems(401, 402, 409, 422, 429),
)
async def create_charge(body: CreateCharge, shop: ShopLater, request: Request) -> Any:
    """Charge the payer's one-time code: settles at once under their no-PIN limit, otherwise
    `waiting_for_payer` until they confirm on the phone, refuse, or a minute passes."""
    platform = deps.platform_of(request)
    return await deps.idempotent_as(
        request,
        shop,
        lambda merchant, claim: platform.payments.create_charge(
            merchant,
            code=body.code,
            amount=body.amount,
            currency=body.currency,
            merchant_order_no=body.merchant_order_no,
            terminal_id=body.terminal_id,
            claim=claim,
        ),
    )


@router.get("/charges/{charge_id}", response_model=ChargeOut, responses=problems(401, 404))
def get_charge(charge_id: str, shop: Shop, request: Request) -> Response:
    """The till polls this (or listens to /v1/merchant/events) while the payer decides."""
    return answer(deps.platform_of(request).payments.get_charge(shop, charge_id))
