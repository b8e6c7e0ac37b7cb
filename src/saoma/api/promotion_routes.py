"""Routes for campaigns: merchants run them; consumers collect coupons."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from saoma.api import deps
from saoma.api.coupons_out import CouponList, CouponOfferOut, CouponOut
from saoma.api.people_out import CampaignList, CampaignOut
from saoma.api.responses import answer, problems
from saoma.api.schemas import CreateCampaign
from saoma.merchants.service import Merchant
from saoma.wallets.service import Consumer

router = APIRouter(prefix="/v1", tags=["promotions"])
Shop = Annotated[Merchant, Depends(deps.merchant)]
Me = Annotated[Consumer, Depends(deps.consumer)]


@router.post(
    "/campaigns",
    status_code=201,
    response_model=CampaignOut,
    responses=problems(401, 402, 409, 422),
)
async def create_campaign(body: CreateCampaign, shop: Shop, request: Request) -> Any:
    """Start a campaign funded from the settlement balance: the budget moves to its own account.

    It moves money, so it takes an Idempotency-Key: a retry replays the first answer."""
    promotions = deps.platform_of(request).promotions
    spec = body.model_dump()
    return await deps.idempotent(
        request, shop.id, lambda claim: promotions.create(shop, spec, claim=claim)
    )


@router.get("/campaigns", response_model=CampaignList, responses=problems(401))
def list_campaigns(shop: Shop, request: Request) -> Response:
    """The merchant's campaigns with their reports."""
    return answer({"data": deps.platform_of(request).promotions.of_funder(shop)})


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, responses=problems(401, 404))
def get_campaign(campaign_id: str, shop: Shop, request: Request) -> Response:
    """Uses, subsidy paid, sales that came with a discount, budget left."""
    return answer(deps.platform_of(request).promotions.get(shop, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/pause", response_model=CampaignOut, responses=problems(401, 404, 409)
)
def pause_campaign(campaign_id: str, shop: Shop, request: Request) -> Response:
    return answer(deps.platform_of(request).promotions.set_state(shop, campaign_id, "paused"))


@router.post(
    "/campaigns/{campaign_id}/resume", response_model=CampaignOut, responses=problems(401, 404, 409)
)
def resume_campaign(campaign_id: str, shop: Shop, request: Request) -> Response:
    return answer(deps.platform_of(request).promotions.set_state(shop, campaign_id, "active"))


@router.post(
    "/campaigns/{campaign_id}/end", response_model=CampaignOut, responses=problems(401, 404, 409)
)
def end_campaign(campaign_id: str, shop: Shop, request: Request) -> Response:
    """No discount from this instant; the unused budget returns to the settlement account."""
    return answer(deps.platform_of(request).promotions.set_state(shop, campaign_id, "ended"))


@router.get("/coupons/{campaign_id}", response_model=CouponOfferOut, responses=problems(401, 404))
def coupon_offer(campaign_id: str, me: Me, request: Request) -> Response:
    """A coupon as a shop shares it (its link or code): the shop, what it gives, the minimum
    spend and until when, and whether it is already in your coupons. Not found once ended."""
    return answer(deps.platform_of(request).promotions.coupon_offer(me, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/coupons",
    status_code=201,
    response_model=CouponOut,
    responses=problems(401, 404, 409),
)
def collect_coupon(campaign_id: str, me: Me, request: Request) -> Response:
    """Collect a coupon: it applies by itself at the best value when paying. Collecting it
    again changes nothing and answers `already_collected: true`."""
    return answer(deps.platform_of(request).promotions.collect(me, campaign_id), 201)


@router.get("/me/coupons", response_model=CouponList, responses=problems(401))
def my_coupons(me: Me, request: Request) -> Response:
    """Your coupons, the last collected first: the shop, the offer, until when, used or not."""
    return answer({"data": deps.platform_of(request).promotions.coupons_of(me)})
