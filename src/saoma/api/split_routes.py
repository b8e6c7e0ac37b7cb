"""Routes for split payments: agreements between merchants, and the splits of a payment."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field, StrictBool, StrictInt, StrictStr

from saoma.api import deps
from saoma.api.guards import PIN_GUARDED, manager_present
from saoma.api.merchant_routes import Shop
from saoma.api.responses import answer, problems
from saoma.api.schemas import Body
from saoma.api.splits_out import SplitAgreementList, SplitAgreementOut, SplitList, SplitOut

router = APIRouter(prefix="/v1", tags=["splits"])


class ProposeSplit(Body):
    receiver_id: StrictStr = Field(max_length=32, examples=["m_9f8e7d6c5b4a"])
    share_ppm: StrictInt = Field(
        default=0, examples=[80000], description="Parts per million (80000 is 8%)."
    )
    fixed: StrictInt = Field(default=0, description="Or a fixed amount per payment.")
    cap: StrictInt = Field(default=0, description="The most one split takes; 0: no cap.")
    standing: StrictBool = Field(default=False, description="Split every payment by itself.")


class SplitPayment(Body):
    agreement_id: StrictStr = Field(max_length=32, examples=["sa_k3m4n5p6q7r8s2t3"])


@router.post(
    "/split-agreements",
    status_code=201,
    response_model=SplitAgreementOut,
    responses=problems(401, 422, 423),
    openapi_extra=PIN_GUARDED,
)
def propose(body: ProposeSplit, shop: Shop, request: Request) -> Response:
    """Offer another merchant a share of your payments; it applies once the receiver accepts."""
    manager_present(request, shop)
    splits = deps.platform_of(request).splits
    spec = body.model_dump()
    return answer(splits.propose(shop, spec.pop("receiver_id"), **spec), 201)


@router.get("/split-agreements", response_model=SplitAgreementList, responses=problems(401))
def list_agreements(shop: Shop, request: Request) -> Response:
    """The agreements you give and those you receive, newest first."""
    return answer(deps.platform_of(request).splits.agreements_of(shop))


@router.post(
    "/split-agreements/{agreement_id}/accept",
    response_model=SplitAgreementOut,
    responses=problems(401, 404, 409),
)
def accept(agreement_id: str, shop: Shop, request: Request) -> Response:
    """The receiver accepts: the giver may split its payments under it from now on."""
    return answer(deps.platform_of(request).splits.accept(shop, agreement_id))


@router.post(
    "/split-agreements/{agreement_id}/decline",
    response_model=SplitAgreementOut,
    responses=problems(401, 404, 409),
)
def decline(agreement_id: str, shop: Shop, request: Request) -> Response:
    return answer(deps.platform_of(request).splits.decline(shop, agreement_id))


@router.post(
    "/split-agreements/{agreement_id}/end",
    response_model=SplitAgreementOut,
    responses=problems(401, 404, 409),
)
def end(agreement_id: str, shop: Shop, request: Request) -> Response:
    """Either side ends it: no new split under it; splits made stand (refunds still return)."""
    return answer(deps.platform_of(request).splits.end(shop, agreement_id))


@router.post(
    "/payments/{payment_id}/splits",
    status_code=201,
    response_model=SplitOut,
    responses=problems(401, 402, 404, 409, 422, 423),
    openapi_extra=PIN_GUARDED,
)
async def split_payment(payment_id: str, body: SplitPayment, shop: Shop, request: Request) -> Any:
    """Pass a share of one of your payments on under an accepted agreement, within 7 days and
    before it is settled; once per payment and agreement (sent again, the same split)."""
    await deps.in_worker(manager_present, request, shop)
    splits = deps.platform_of(request).splits
    return await deps.idempotent(
        request,
        shop.id,
        lambda _claim: splits.split_payment(shop, payment_id, body.agreement_id),
        required=False,  # the split's id derives from the payment and the agreement
    )


@router.get("/payments/{payment_id}/splits", response_model=SplitList, responses=problems(401, 404))
def payment_splits(payment_id: str, shop: Shop, request: Request) -> Response:
    return answer(deps.platform_of(request).splits.splits_of(shop, payment_id))
