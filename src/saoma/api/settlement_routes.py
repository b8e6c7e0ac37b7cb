"""Routes for money out to merchants: the bank account, the schedule, settlements, statements
and instant payouts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from saoma.api import deps
from saoma.api.consumer_routes import Cursor, Limit
from saoma.api.merchant_routes import Shop
from saoma.api.responses import answer, problems
from saoma.api.settlement_out import (
    AddBankAccount,
    BankAccountOut,
    BankAccountsOut,
    SetTerms,
    SettlementLinePage,
    SettlementOut,
    SettlementPage,
    TermsOut,
)

router = APIRouter(prefix="/v1", tags=["settlement"])


@router.get("/settlement/bank-accounts", response_model=BankAccountsOut, responses=problems(401))
def bank_accounts(shop: Shop, request: Request) -> Response:
    """The bank account payouts go to, and every account registered before."""
    return answer(deps.platform_of(request).settlement.accounts.of(shop))


@router.post(
    "/settlement/bank-accounts",
    status_code=202,
    response_model=BankAccountOut,
    responses=problems(401, 409, 422, 423),
)
def add_bank_account(body: AddBankAccount, shop: Shop, request: Request) -> Response:
    """Register the account to be paid to; the bank verifies it before it is used (a webhook
    says when). Changing it needs the manager PIN."""
    view = deps.platform_of(request).settlement.accounts.register(
        shop,
        holder_name=body.holder_name,
        account_number=body.account_number,
        bank_name=body.bank_name,
        manager_pin=body.manager_pin,
    )
    return answer(view, status_code=202)


@router.get("/settlement/terms", response_model=TermsOut, responses=problems(401))
def terms(shop: Shop, request: Request) -> Response:
    return answer(deps.platform_of(request).settlement.terms_of(shop))


@router.put("/settlement/terms", response_model=TermsOut, responses=problems(401, 422))
def set_terms(body: SetTerms, shop: Shop, request: Request) -> Response:
    """Choose when to be paid: daily at a cut-off hour (00:00 is T+1), or weekly."""
    changes = body.model_dump(exclude_none=True)
    return answer(deps.platform_of(request).settlement.set_terms(shop, **changes))


@router.get("/settlements", response_model=SettlementPage, responses=problems(401, 422))
def settlements(
    shop: Shop,
    request: Request,
    cursor: Cursor = None,
    limit: Limit = 20,
    state: Annotated[
        str | None,
        Query(max_length=16, description="closed, paying, paid, failed, carried, nothing"),
    ] = None,
) -> Response:
    """The merchant's settlements, newest first."""
    return answer(
        deps.platform_of(request).settlement.statements.list(
            shop, cursor=cursor, limit=limit, state=state
        )
    )


@router.post(
    "/settlements/instant",
    status_code=201,
    response_model=SettlementOut,
    responses=problems(401, 409),
)
async def instant_payout(shop: Shop, request: Request) -> Any:
    """Be paid now what has been settled so far, up to the instant limit, for the instant fee."""
    settlement = deps.platform_of(request).settlement
    view = await deps.in_worker(settlement.instant, shop)
    return answer(view, status_code=201)


@router.get(
    "/settlements/{settlement_id}", response_model=SettlementOut, responses=problems(401, 404)
)
def settlement(settlement_id: str, shop: Shop, request: Request) -> Response:
    return answer(deps.platform_of(request).settlement.statements.get(shop, settlement_id))


@router.get(
    "/settlements/{settlement_id}/lines",
    response_model=SettlementLinePage,
    responses=problems(401, 404, 422),
)
def settlement_lines(
    settlement_id: str,
    shop: Shop,
    request: Request,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> Response:
    """The settlement's statement, a page at a time: one line per movement it took."""
    return answer(
        deps.platform_of(request).settlement.statements.lines(
            shop, settlement_id, cursor=cursor, limit=limit
        )
    )


@router.get(
    "/settlements/{settlement_id}/statement.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **problems(401, 404)},
)
def settlement_csv(settlement_id: str, shop: Shop, request: Request) -> StreamingResponse:
    """The settlement's whole statement as CSV, each line with its payment or refund id."""
    lines = deps.platform_of(request).settlement.statements.csv(shop, settlement_id)
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="saoma-{settlement_id}.csv"'},
    )
