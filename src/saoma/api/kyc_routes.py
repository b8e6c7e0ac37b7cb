"""Onboarding (KYC) routes: the merchant's business details and state; risk's queue and
decisions; and the platform's books for finance."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field, StrictStr

from saoma.api import deps, ops_deps
from saoma.api.merchant_routes import Shop
from saoma.api.ops_deps import Actor
from saoma.api.responses import Out, answer, example, problems
from saoma.api.schemas import Body
from saoma.operators.books import Books

router = APIRouter(prefix="/v1", tags=["onboarding"])

Reader = Annotated[Actor, Depends(ops_deps.allowed("kyc.read", reason=True))]
Queue = Annotated[Actor, Depends(ops_deps.allowed("kyc.read"))]
Decider = Annotated[Actor, Depends(ops_deps.allowed("kyc.decide", reason=True))]
Finance = Annotated[Actor, Depends(ops_deps.allowed("books.read"))]
MerchantId = Annotated[str, Path(max_length=32)]

KYC_VIEW = {
    "state": "pending",
    "legal_name": "深圳市老陈餐饮有限公司",
    "licence_number": "91440300MA5EXAMPL6",
    "category": "5814",
    "owner_id": "**************002X",
    "reason": None,
    "submitted_at": "2026-12-05T02:00:00.000Z",
    "decided_at": None,
    "limit": {"per_day": 200_000, "taken_today": 2_500, "currency": "CNY"},
}


class LimitOut(Out):
    per_day: int = Field(description="What the merchant may take per local day until approved.")
    taken_today: int
    currency: str


class KycOut(Out):
    """The merchant's onboarding: state, details (the owner's ID masked), the reason of a
    rejection, and the limit while not approved (null once approved)."""

    model_config = example(KYC_VIEW)

    state: Literal["unverified", "pending", "approved", "rejected"]
    legal_name: str
    licence_number: str
    category: str
    owner_id: str = Field(description="Masked: only the last four characters are shown.")
    reason: str | None
    submitted_at: str | None
    decided_at: str | None
    limit: LimitOut | None


class OpsKycOut(KycOut):
    model_config = example({"merchant_id": "m_01", "name": "Old Chen Noodles"} | KYC_VIEW)

    merchant_id: str
    name: str


class QueueItemOut(Out):
    merchant_id: str
    legal_name: str
    submitted_at: str | None


class QueueOut(Out):
    """Merchants in a state, oldest submission first."""

    model_config = example(
        {
            "data": [
                {
                    "merchant_id": "m_01",
                    "legal_name": "深圳市老陈餐饮有限公司",
                    "submitted_at": "2026-12-05T02:00:00.000Z",
                }
            ]
        }
    )

    data: list[QueueItemOut]


class SubmitKyc(Body):
    legal_name: StrictStr = Field(max_length=200, examples=["深圳市老陈餐饮有限公司"])
    licence_number: StrictStr = Field(max_length=64, examples=["91440300MA5EXAMPL6"])
    category: StrictStr = Field(max_length=8, examples=["5814"])
    owner_id_number: StrictStr = Field(max_length=64, examples=["11010519491231002X"])


class Approve(Body):
    pass


class Reject(Body):
    message: StrictStr = Field(
        max_length=500, examples=["The licence number does not match the legal name."]
    )


class CampaignBooksOut(Out):
    campaign_id: str
    name: str
    funder: str
    state: str
    budget: int
    spent: int
    budget_left: int


class FeesOut(Out):
    income: int


class ClearingOut(Out):
    bank_clearing: int
    settlement_clearing: int
    reserve: int
    suspense: int
    overdraft: int


class BooksOut(Out):
    """The platform's books: every figure from the ledger's posted balances."""

    model_config = example(
        {
            "currency": "CNY",
            "fees": {"income": 12_345},
            "campaigns": [
                {
                    "campaign_id": "cp_01",
                    "name": "¥5 off",
                    "funder": "platform",
                    "state": "active",
                    "budget": 100_000,
                    "spent": 1_500,
                    "budget_left": 98_500,
                }
            ],
            "red_packets_outstanding": 800,
            "clearing": {
                "bank_clearing": 2_000_000,
                "settlement_clearing": 0,
                "reserve": 0,
                "suspense": 0,
                "overdraft": 0,
            },
            "reconciliation_breaks_open": 0,
        }
    )

    currency: str
    fees: FeesOut
    campaigns: list[CampaignBooksOut]
    red_packets_outstanding: int
    clearing: ClearingOut
    reconciliation_breaks_open: int


@router.get("/merchant/kyc", response_model=KycOut, responses=problems(401))
def my_kyc(shop: Shop, request: Request) -> Response:
    """The merchant's onboarding state, its details (owner ID masked) and its limit."""
    return answer(deps.platform_of(request).kyc.status(shop))


@router.put("/merchant/kyc", response_model=KycOut, responses=problems(401, 409, 422))
def submit_kyc(body: SubmitKyc, shop: Shop, request: Request) -> Response:
    """Submit (or, after a rejection, resubmit) the business details: then pending."""
    return answer(deps.platform_of(request).kyc.submit(shop, body.model_dump()))


@router.get("/ops/kyc", response_model=QueueOut, responses=problems(401, 403, 422))
async def kyc_queue(
    actor: Queue,
    request: Request,
    state: Annotated[
        Literal["pending", "approved", "rejected"], Query(description="pending by default")
    ] = "pending",
) -> Response:
    """Merchants waiting for a decision (ids, legal names, submission times), oldest first."""
    del actor
    rows = await deps.in_worker(deps.platform_of(request).kyc.queue, state)
    return answer({"data": rows})


@router.get(
    "/ops/kyc/{merchant_id}", response_model=OpsKycOut, responses=problems(401, 403, 404, 422)
)
async def kyc_detail(merchant_id: MerchantId, actor: Reader, request: Request) -> Response:
    """A merchant's details for review (owner ID masked): audited before they are returned."""
    kyc = deps.platform_of(request).kyc
    return answer(await deps.in_worker(kyc.look, actor, merchant_id))


@router.post(
    "/ops/kyc/{merchant_id}/approve",
    response_model=OpsKycOut,
    responses=problems(401, 403, 404, 409, 422),
)
async def kyc_approve(
    merchant_id: MerchantId, body: Approve, actor: Decider, request: Request
) -> Response:
    """Approve the pending details: the limit is lifted, the merchant gets a webhook."""
    del body
    kyc = deps.platform_of(request).kyc
    return answer(await deps.in_worker(kyc.approve, actor, merchant_id))


@router.post(
    "/ops/kyc/{merchant_id}/reject",
    response_model=OpsKycOut,
    responses=problems(401, 403, 404, 409, 422),
)
async def kyc_reject(
    merchant_id: MerchantId, body: Reject, actor: Decider, request: Request
) -> Response:
    """Reject the pending details with the reason the merchant reads; it may resubmit."""
    kyc = deps.platform_of(request).kyc
    return answer(await deps.in_worker(kyc.reject, actor, merchant_id, body.message))


@router.get("/ops/books", response_model=BooksOut, responses=problems(401, 403))
async def books(actor: Finance, request: Request) -> Response:
    """The platform's books, read-only (audited as ``books.view``)."""
    platform = deps.platform_of(request)
    ledger_books = Books(platform.engine, platform.payments.currency)
    view = await deps.in_worker(
        ledger_books.look, actor.operator.id, actor.operator.role, actor.address
    )
    return answer(view)
