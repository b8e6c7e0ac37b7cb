"""Routes for mandates: the merchant asks, announces and debits (signed); the payer agrees with
the PIN, sees every debit and the next one, objects to a notice, pauses, resumes or revokes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field, StrictInt, StrictStr, field_validator

from saoma.api import deps
from saoma.api.consumer_routes import Cursor, Limit
from saoma.api.mandates_out import (
    DebitMadeOut,
    MandateList,
    MandateOut,
    MandatePage,
    NoticeOut,
)
from saoma.api.responses import answer, problems
from saoma.api.schemas import Body
from saoma.core.errors import InvalidRequest
from saoma.mandates.debits import Debits
from saoma.mandates.service import STATES
from saoma.merchants.service import Merchant
from saoma.miniprograms.service import MiniPrograms
from saoma.wallets.service import Consumer

router = APIRouter(prefix="/v1", tags=["mandates"])
Shop = Annotated[Merchant, Depends(deps.merchant)]
Me = Annotated[Consumer, Depends(deps.consumer)]


class RequestMandate(Body):
    payer: StrictStr | None = Field(
        default=None,
        max_length=254,
        examples=["+8613800000002"],
        description="The payer's wallet id, or a phone or e-mail they confirmed in it. Left"
        " out when a mini-program's server sends the payer's access token instead"
        " (Authorization: Bearer mat_…): the mandate is then asked of that token's payer.",
    )
    merchant_mandate_no: StrictStr = Field(examples=["GYM-2026-0042"])
    purpose: StrictStr = Field(max_length=128, examples=["Gym membership, monthly"])
    amount_max: StrictInt = Field(examples=[5000], description="The most one debit may take.")
    currency: StrictStr = Field(default="CNY")
    frequency: StrictStr = Field(examples=["monthly"], description="daily, weekly or monthly")
    start_on: StrictStr = Field(max_length=10, examples=["2026-11-01"])
    end_on: StrictStr = Field(max_length=10, examples=["2027-10-31"])


class Announce(Body):
    amount: StrictInt = Field(examples=[3900])
    currency: StrictStr = Field(default="CNY")


class DebitBody(Body):
    notice_id: StrictStr = Field(max_length=32, examples=["mn_k3m4n5p6q7r8s2t3"])
    amount: StrictInt = Field(examples=[3900])
    currency: StrictStr = Field(default="CNY")


class Agree(Body):
    pin: StrictStr | None = None

    @field_validator("pin")
    @classmethod
    def _six_digits(cls, value: str | None) -> str | None:
        if value is not None and not (len(value) == 6 and value.isascii() and value.isdigit()):
            raise ValueError("must be six digits")
        return value


@router.post(
    "/mandates",
    status_code=201,
    response_model=MandateOut,
    responses=problems(401, 404, 409, 422, 429),
)
def request_mandate(body: RequestMandate, shop: Shop, request: Request) -> Response:
    """Ask a payer for a mandate: it waits in their wallet until they agree with the PIN. The
    mandate number makes it idempotent. A mini-program's server names the payer who signed in
    to it by sending their access token (`Authorization: Bearer mat_…`) instead of `payer`.
    Each request tells whether a wallet exists, so a shop may send 120 in 10 minutes (429
    `too-many-lookups` with `Retry-After` beyond). Webhook: `mandate.created`."""
    platform = deps.platform_of(request)
    terms = body.model_dump()
    token = deps.mini_access_token(request)
    if token is not None and body.payer is not None:
        raise InvalidRequest("name the payer or send their access token, not both", field="payer")
    if token is not None:
        minis = MiniPrograms(platform.engine, platform.wallets, platform.identifiers)
        terms["payer"] = minis.payer_of(shop, token)
    elif body.payer is None:
        raise InvalidRequest(
            "name the payer, or send their access token as Authorization: Bearer", field="payer"
        )
    return answer(platform.mandates.request(shop, **terms), 201)


@router.get("/mandates", response_model=MandatePage, responses=problems(401, 422))
def list_mandates(
    shop: Shop,
    request: Request,
    cursor: Cursor = None,
    limit: Limit = 20,
    state: Annotated[
        str | None,
        Query(max_length=16, description="Only mandates in this state: " + ", ".join(STATES)),
    ] = None,
) -> Response:
    """The merchant's mandates, newest first: those asked for, agreed, paused and revoked."""
    mandates = deps.platform_of(request).mandates
    return answer(mandates.list_for_merchant(shop, cursor=cursor, limit=limit, state=state))


@router.get("/mandates/{mandate_id}", response_model=MandateOut, responses=problems(401, 404))
def get_mandate(mandate_id: str, shop: Shop, request: Request) -> Response:
    mandates = deps.platform_of(request).mandates
    return answer(mandates.view_for_merchant(mandates.of_merchant(shop, mandate_id)))


@router.post(
    "/mandates/{mandate_id}/notices",
    status_code=201,
    response_model=NoticeOut,
    responses=problems(401, 404, 409, 422),
)
def announce(mandate_id: str, body: Announce, shop: Shop, request: Request) -> Response:
    """A pre-debit notice: the payer sees it at once and may object; its debit may come 24
    hours later (until `expires_at`)."""
    mandates = deps.platform_of(request).mandates
    notice = mandates.announce(shop, mandate_id, amount=body.amount, currency=body.currency)
    return answer(notice, 201)


@router.post(
    "/mandates/{mandate_id}/debits",
    status_code=201,
    response_model=DebitMadeOut,
    responses=problems(401, 402, 403, 404, 409, 422),
)
async def debit(mandate_id: str, body: DebitBody, shop: Shop, request: Request) -> Any:
    """Debit the payer on a notice sent at least 24 hours before, for exactly its amount. Each
    refusal names its rule in its problem type (webhook `mandate.debit_refused`); a debit made
    sends `mandate.debited`. Needs an Idempotency-Key."""
    mandates = deps.platform_of(request).mandates
    return await deps.idempotent(
        request,
        shop.id,
        lambda claim: Debits(mandates).debit(
            shop,
            mandate_id,
            notice_id=body.notice_id,
            amount=body.amount,
            currency=body.currency,
            claim=claim,
        ),
    )


@router.get("/me/mandates", response_model=MandateList, responses=problems(401))
def my_mandates(me: Me, request: Request) -> Response:
    """The wallet's mandates, newest first: those waiting for agreement, then every other."""
    return answer(deps.platform_of(request).mandates.list_for_consumer(me))


@router.get("/me/mandates/{mandate_id}", response_model=MandateOut, responses=problems(401, 404))
def my_mandate(mandate_id: str, me: Me, request: Request) -> Response:
    mandates = deps.platform_of(request).mandates
    return answer(mandates.view_for_consumer(mandates.of_consumer(me, mandate_id)))


@router.post(
    "/me/mandates/{mandate_id}/agree",
    response_model=MandateOut,
    responses=problems(401, 404, 409, 422, 423),
)
def agree(mandate_id: str, body: Agree, me: Me, request: Request) -> Response:
    """Agree to a mandate, with the PIN. Webhook: `mandate.agreed`."""
    return answer(deps.platform_of(request).mandates.agree(me, mandate_id, pin=body.pin))


def _change(action: str, mandate_id: str, me: Consumer, request: Request) -> Response:
    return answer(deps.platform_of(request).mandates.change(me, mandate_id, action))


@router.post(
    "/me/mandates/{mandate_id}/pause", response_model=MandateOut, responses=problems(401, 404, 409)
)
def pause(mandate_id: str, me: Me, request: Request) -> Response:
    """No debit until resumed; pending notices stay. Webhook: `mandate.paused`."""
    return _change("pause", mandate_id, me, request)


@router.post(
    "/me/mandates/{mandate_id}/resume", response_model=MandateOut, responses=problems(401, 404, 409)
)
def resume(mandate_id: str, me: Me, request: Request) -> Response:
    """Debits may come again. Webhook: `mandate.resumed`."""
    return _change("resume", mandate_id, me, request)


@router.post(
    "/me/mandates/{mandate_id}/revoke", response_model=MandateOut, responses=problems(401, 404, 409)
)
def revoke(mandate_id: str, me: Me, request: Request) -> Response:
    """At once and for good: no debit commits after this answer. Webhook: `mandate.revoked`."""
    return _change("revoke", mandate_id, me, request)


@router.post(
    "/me/mandates/{mandate_id}/notices/{notice_id}/object",
    response_model=MandateOut,
    responses=problems(401, 404, 409),
)
def object_to_notice(mandate_id: str, notice_id: str, me: Me, request: Request) -> Response:
    """Object to a pre-debit notice: its debit is cancelled. Webhook:
    `mandate.notice_objected`."""
    return answer(deps.platform_of(request).mandates.object(me, mandate_id, notice_id))
