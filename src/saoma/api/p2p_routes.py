"""Routes for money between people: personal codes, transfers, red packets."""

from __future__ import annotations

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from saoma.api import deps
from saoma.api.accounts_out import CodeOut
from saoma.api.consumer_routes import Cursor, Limit
from saoma.api.people_out import (
    ClaimedOut,
    RecipientOut,
    RedPacketOut,
    TransferOut,
    TransferPage,
)
from saoma.api.problems import response as problem_response
from saoma.api.responses import answer, problems
from saoma.api.schemas import CreateRedPacket, FindRecipient, SendMoney
from saoma.core.errors import TooManyLookups
from saoma.payments import codes
from saoma.payments.service import check_currency
from saoma.wallets.service import Consumer

router = APIRouter(prefix="/v1", tags=["people"])
Me = Annotated[Consumer, Depends(deps.consumer)]


@router.get("/me/code", response_model=CodeOut, responses=problems(401))
def my_code(me: Me) -> Response:
    """The consumer's personal code: friends scan it to send money."""
    return answer(
        {
            "qr_payload": codes.personal_payload(me),
            "qr_image_url": f"/v1/people/{me.id}/code.svg",
        }
    )


@router.get("/people/{consumer_id}/code.svg", tags=["codes"], responses=problems(404))
def person_code(consumer_id: str, request: Request) -> Response:
    person = deps.platform_of(request).wallets.get(consumer_id)
    return Response(codes.svg(codes.personal_payload(person)), media_type="image/svg+xml")


@router.post(
    "/transfers/recipient", response_model=RecipientOut, responses=problems(401, 404, 422, 429)
)
def transfer_recipient(body: FindRecipient, me: Me, request: Request) -> Response:
    """Who gets the money, before sending: the masked name of the wallet that `to` names.

    A phone or e-mail nobody has confirmed in a wallet yet is a 404 naming `to` (money sent to
    it waits for its owner). Only the masked name is shown, never the id or the full name.
    Lookups tell who has a wallet, so each wallet has 30 per 10 minutes, found or not; beyond,
    429 `too-many-lookups` with `Retry-After` (seconds) and the limit in `limit` / `window_s`."""
    try:
        return answer(deps.platform_of(request).people.recipient_preview(me, body.to))
    except TooManyLookups as exc:
        refused = problem_response(exc, request.url.path)
        refused.headers["Retry-After"] = str(exc.extra["retry_after_s"])
        return refused


@router.post(
    "/transfers",
    status_code=201,
    response_model=TransferOut,
    responses=problems(401, 402, 404, 409, 422, 423),
)
async def send_money(body: SendMoney, me: Me, request: Request) -> Any:
    """Send money to a wallet, a phone or an e-mail; without a wallet it waits a day.

    The PIN is always needed, whatever the no-PIN limit (that limit is for paying merchants)."""
    platform = deps.platform_of(request)
    check_currency(body.currency, me.currency, whose="your wallet holds money")
    return await deps.idempotent(
        request,
        me.id,
        lambda claim: platform.people.send(
            me, to=body.to, amount=body.amount, note=body.note, pin=body.pin, claim=claim
        ),
    )


@router.get("/me/transfers", response_model=TransferPage, responses=problems(401, 422))
def my_transfers(
    me: Me,
    request: Request,
    cursor: Cursor = None,
    limit: Limit = 100,
    direction: Annotated[str | None, Query(max_length=16, description="in or out")] = None,
    state: Annotated[
        str | None, Query(max_length=16, description="done, waiting, claimed or returned")
    ] = None,
) -> Response:
    """Money sent to people and received from them, newest first."""
    return answer(
        deps.platform_of(request).people.transfers_of(
            me, cursor=cursor, limit=limit, direction=direction, state=state
        )
    )


@router.post(
    "/red-packets",
    status_code=201,
    response_model=RedPacketOut,
    responses=problems(401, 402, 409, 422, 423),
)
async def create_red_packet(body: CreateRedPacket, me: Me, request: Request) -> Any:
    """Put money in a packet for N people, in equal or random shares; share its link or code."""
    platform = deps.platform_of(request)
    check_currency(body.currency, me.currency, whose="your wallet holds money")
    return await deps.idempotent(
        request,
        me.id,
        lambda claim: platform.people.create_packet(
            me,
            amount=body.amount,
            shares=body.shares,
            mode=body.mode,
            greeting=body.greeting,
            pin=body.pin,
            claim=claim,
        ),
    )


@router.get("/red-packets/{packet_id}", response_model=RedPacketOut, responses=problems(401, 404))
def red_packet(packet_id: str, me: Me, request: Request) -> Response:
    """Who claimed how much, and the luckiest once it is all taken."""
    return answer(deps.platform_of(request).people.packet(packet_id, me))


@router.get("/red-packets/{packet_id}/qr.svg", tags=["codes"], responses=problems(404))
def red_packet_code(packet_id: str, request: Request) -> Response:
    """A code for the packet's link, to show in a chat or on a screen."""
    platform = deps.platform_of(request)
    platform.people.packet(packet_id)
    link = str(request.base_url).rstrip("/") + f"/p/{packet_id}"
    svg = segno.make(link, error="m").svg_inline(scale=6, border=4)
    return Response(svg.encode(), media_type="image/svg+xml")


@router.post(
    "/red-packets/{packet_id}/claim",
    status_code=201,
    response_model=ClaimedOut,
    responses=problems(401, 404, 409, 422),
)
async def claim_red_packet(packet_id: str, me: Me, request: Request) -> Any:
    """Open the packet: one share per person, paid into the wallet at once."""
    platform = deps.platform_of(request)
    return await deps.idempotent(
        request, me.id, lambda _claim: platform.people.claim_packet(me, packet_id)
    )
