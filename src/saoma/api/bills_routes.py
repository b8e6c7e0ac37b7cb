"""The wallet's bills: every movement of the signed-in consumer's money, and each one's receipt."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from saoma.api import deps
from saoma.api.bills_out import BillOut, BillPage
from saoma.api.responses import answer, problems
from saoma.bills.statement import Bills
from saoma.wallets.service import Consumer

router = APIRouter(prefix="/v1", tags=["consumers"])
Me = Annotated[Consumer, Depends(deps.consumer)]


def bills_of(request: Request) -> Bills:
    platform = deps.platform_of(request)
    return Bills(platform.engine, platform.wallets.tz)


@router.get("/me/bills", response_model=BillPage, responses=problems(401, 422))
def my_bills(
    me: Me,
    request: Request,
    month: Annotated[
        str | None, Query(max_length=16, description="A calendar month, YYYY-MM (local time).")
    ] = None,
    kind: Annotated[
        str | None,
        Query(
            max_length=16,
            description="payment, refund, transfer, red_packet, top_up, withdrawal or hold",
        ),
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=64, description="The `next_cursor` of the page before.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Rows per page, 1 to 100.")] = 20,
) -> Response:
    """Every movement of the wallet's money, newest first: payments, refunds (what came back),
    transfers, red packets, top-ups, withdrawals and holds, with the other party's name."""
    return answer(bills_of(request).page(me, month=month, kind=kind, cursor=cursor, limit=limit))


@router.get("/me/bills/{bill_id}", response_model=BillOut, responses=problems(401, 404))
def my_bill(bill_id: str, me: Me, request: Request) -> Response:
    """One row's receipt (a payment's full receipt is `GET /v1/me/payments/{payment_id}`)."""
    return answer(bills_of(request).one(me, bill_id))
