"""Ending sessions and changing passwords, for wallets and shops.

A lost phone or till, or a cashier who left: the owner signs out everywhere, or changes the
password, which ends every session but the one it was changed from. The current password is
checked under the sign-in limit (saoma.wallets.signins), so a stolen session cannot guess it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from saoma.api import deps
from saoma.api.accounts_out import SessionsEndedOut
from saoma.api.guards import PIN_GUARDED, manager_present, password_session
from saoma.api.responses import answer, problems
from saoma.api.schemas import ChangePassword
from saoma.core.errors import InvalidRequest
from saoma.merchants.service import Merchant
from saoma.wallets.service import Consumer

router = APIRouter(prefix="/v1", tags=["sessions"])
Me = Annotated[Consumer, Depends(deps.consumer)]
Shop = Annotated[Merchant, Depends(deps.merchant)]


@router.delete("/sessions", response_model=SessionsEndedOut, responses=problems(401))
def sign_out_everywhere(me: Me, request: Request) -> Response:
    """End every session of the wallet, this one too, and stop every device's payment codes,
    in one commit: on a lost or sold phone."""
    platform = deps.platform_of(request)
    paycodes = platform.paycodes
    ended, revoked = platform.wallets.sign_out_everywhere(me.id, with_it=paycodes.revoke_all)
    return answer({"sessions_ended": ended, "devices_revoked": revoked})


@router.put("/me/password", response_model=SessionsEndedOut, responses=problems(401, 409, 422, 429))
def change_password(body: ChangePassword, me: Me, request: Request) -> Response:
    """A new password, with the current one; every other session of the wallet ends."""
    ended = deps.platform_of(request).wallets.change_password(
        me.id,
        body.current_password,
        body.new_password,
        keep_token=deps.consumer_token(request),
        address=deps.address_of(request),
    )
    return answer({"sessions_ended": ended})


@router.delete("/merchant-sessions/current", status_code=204, responses=problems(401, 422))
def merchant_sign_out(shop: Shop, request: Request) -> Response:
    """End the session this request came with (an `mt_` token or the dashboard's cookie)."""
    if not password_session(request):
        raise InvalidRequest(
            "a signed request has no session to end: send the session's Bearer mt_ token",
            field="Authorization",
        )
    deps.platform_of(request).merchants.sign_out(deps.merchant_token(request))
    return Response(status_code=204)


@router.delete(
    "/merchant-sessions",
    response_model=SessionsEndedOut,
    responses=problems(401, 422, 423),
    openapi_extra=PIN_GUARDED,
)
def merchant_sign_out_everywhere(shop: Shop, request: Request) -> Response:
    """End every session of the shop, at every till and dashboard (this one too): a lost
    tablet, a cashier gone. From a session, once the shop has a manager PIN, it needs it."""
    manager_present(request, shop)
    ended = deps.platform_of(request).merchants.sign_out_everywhere(shop.id)
    return answer({"sessions_ended": ended})


@router.put(
    "/merchant/password",
    response_model=SessionsEndedOut,
    responses=problems(401, 409, 422, 423, 429),
    openapi_extra=PIN_GUARDED,
)
def merchant_change_password(body: ChangePassword, shop: Shop, request: Request) -> Response:
    """A new password, with the current one; every session of the shop ends but the one it
    was changed from (none, for a signed request). From a session, once the shop has a manager
    PIN, it needs it: a cashier who knows the till's password cannot lock the owner out."""
    manager_present(request, shop)
    token = deps.merchant_token(request) if password_session(request) else ""
    ended = deps.platform_of(request).merchants.change_password(
        shop.id,
        body.current_password,
        body.new_password,
        keep_token=token,
        address=deps.address_of(request),
    )
    return answer({"sessions_ended": ended})
