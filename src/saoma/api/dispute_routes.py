"""Disputes: the payer opens one on a payment, the merchant refunds or contests, support decides.

Payers under ``/v1/me/disputes``, merchants under ``/v1/merchant/disputes`` (signed request or
dashboard session), operators under ``/v1/ops/disputes``. The steps that refund (the merchant's
refund, support's decision) take an Idempotency-Key like every POST that moves money; a retry
without one is safe too (one refund number per dispute). Every operator read of a dispute is
written to the audit log before it is answered; a decision with it.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field, StrictInt, StrictStr, field_validator

from saoma.api import deps, ops_deps
from saoma.api.disputes_out import STATE, DisputeList, DisputeOut, DisputeQueue
from saoma.api.guards import password_session
from saoma.api.ops_deps import Actor
from saoma.api.responses import answer, problems
from saoma.api.schemas import Body, _six_digits
from saoma.core.errors import InvalidRequest
from saoma.disputes.photos import Photo, check_photo
from saoma.disputes.service import Deciding
from saoma.merchants.service import Merchant
from saoma.wallets.service import Consumer

router = APIRouter(prefix="/v1", tags=["disputes"])
Me = Annotated[Consumer, Depends(deps.consumer)]
Shop = Annotated[Merchant, Depends(deps.merchant)]
Queue = Annotated[Actor, Depends(ops_deps.allowed("disputes.read"))]
Reader = Annotated[Actor, Depends(ops_deps.allowed("disputes.read", reason=True))]
Decider = Annotated[Actor, Depends(ops_deps.allowed("disputes.decide", reason=True))]
# Every photo is stored as JPEG (see saoma.disputes.photos).
IMAGE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The photo, as JPEG.",
        "content": {"image/jpeg": {"schema": {"type": "string"}, "example": "(JPEG bytes)"}},
    }
}


class PhotoIn(Body):
    content_type: Literal["image/jpeg", "image/png"]
    data: StrictStr = Field(description="The image, base64; at most 45 KB once decoded.")


class OpenDispute(Body):
    payment_id: StrictStr = Field(max_length=64, examples=["pay_4a5b6c7d8e9f2a3b"])
    reason: Literal["not_received", "not_as_described", "charged_twice", "unauthorised", "other"]
    text: StrictStr = Field(max_length=1000, examples=["The bowl was cold and half empty."])
    amount: StrictInt | None = Field(
        default=None, description="What to ask back; default all the payer paid and still may."
    )
    photo: PhotoIn | None = None


class Contest(Body):
    text: StrictStr = Field(max_length=1000)
    photo: PhotoIn | None = None


class RefundDispute(Body):
    manager_pin: StrictStr | None = Field(
        default=None, description="Six digits: required from a signed-in session, not when signed."
    )

    _manager_pin = field_validator("manager_pin")(_six_digits)


class Decide(Body):
    for_: Literal["payer", "merchant"] = Field(alias="for")
    note: StrictStr = Field(max_length=1000)


def _photo(photo: PhotoIn | None) -> Photo | None:
    return None if photo is None else check_photo(photo.content_type, photo.data)


def _deciding(actor: Actor) -> Deciding:
    op = actor.operator
    return Deciding(op.id, op.role, actor.reason, actor.address)


def _image(found: tuple[str, bytes]) -> Response:
    content_type, data = found
    return Response(data, media_type=content_type, headers={"Cache-Control": "private"})


# --- the payer --------------------------------------------------------------------------------


@router.post(
    "/me/disputes",
    status_code=201,
    response_model=DisputeOut,
    responses=problems(401, 404, 409, 422),
)
def open_dispute(body: OpenDispute, me: Me, request: Request) -> Response:
    """Open a dispute on one of your payments (one per payment), with a photo if you have one."""
    found = deps.platform_of(request).disputes.open(
        me,
        body.payment_id,
        reason=body.reason,
        text_=body.text,
        photo=partial(_photo, body.photo),  # decoded once the payment is found to be the payer's
        amount=body.amount,
    )
    return answer(found, 201)


@router.get("/me/disputes", response_model=DisputeList, responses=problems(401))
def my_disputes(me: Me, request: Request) -> Response:
    return answer(deps.platform_of(request).disputes.reads.listed(consumer_id=me.id))


@router.get("/me/disputes/{dispute_id}", response_model=DisputeOut, responses=problems(401, 404))
def my_dispute(dispute_id: str, me: Me, request: Request) -> Response:
    reads = deps.platform_of(request).disputes.reads
    return answer(reads.view(reads.owned(dispute_id, consumer_id=me.id)))


@router.post(
    "/me/disputes/{dispute_id}/withdraw",
    response_model=DisputeOut,
    responses=problems(401, 404, 409),
)
def withdraw_dispute(dispute_id: str, me: Me, request: Request) -> Response:
    """Let the dispute go; while the merchant or support has not settled it."""
    return answer(deps.platform_of(request).disputes.withdraw(me, dispute_id))


@router.get(
    "/me/disputes/{dispute_id}/files/{file_id}",
    response_class=Response,
    responses={**IMAGE, **problems(401, 404)},
)
def my_dispute_file(dispute_id: str, file_id: str, me: Me, request: Request) -> Response:
    reads = deps.platform_of(request).disputes.reads
    return _image(reads.file(reads.owned(dispute_id, consumer_id=me.id), file_id))


# --- the merchant -----------------------------------------------------------------------------


@router.get("/merchant/disputes", response_model=DisputeList, responses=problems(401, 422))
def merchant_disputes(
    shop: Shop,
    request: Request,
    state: Annotated[STATE | None, Query(description="Only disputes in this state.")] = None,
) -> Response:
    reads = deps.platform_of(request).disputes.reads
    return answer(reads.listed(merchant_id=shop.id, state=state))


@router.get(
    "/merchant/disputes/{dispute_id}", response_model=DisputeOut, responses=problems(401, 404)
)
def merchant_dispute(dispute_id: str, shop: Shop, request: Request) -> Response:
    reads = deps.platform_of(request).disputes.reads
    return answer(reads.view(reads.owned(dispute_id, merchant_id=shop.id)))


@router.post(
    "/merchant/disputes/{dispute_id}/refund",
    response_model=DisputeOut,
    responses=problems(401, 402, 404, 409, 422, 423),
)
async def refund_dispute(
    dispute_id: str, shop: Shop, request: Request, body: RefundDispute | None = None
) -> Any:
    """Give the payer what they ask: a refund from your balance; while the dispute is open.

    From a signed-in session (the dashboard) the manager PIN is required, as for any refund.
    """
    platform = deps.platform_of(request)
    if password_session(request):
        pin = body.manager_pin if body is not None else None
        if pin is None:
            raise InvalidRequest(
                "a refund from a signed-in session needs the manager PIN", field="manager_pin"
            )
        await deps.in_worker(platform.merchants.verify_manager_pin, shop.id, pin)
    disputes = platform.disputes
    return await deps.idempotent(
        request,
        shop.id,
        lambda claim: disputes.merchant_refund(shop, dispute_id, claim=claim),
        status_code=200,
    )


@router.post(
    "/merchant/disputes/{dispute_id}/contest",
    response_model=DisputeOut,
    responses=problems(401, 404, 409, 422),
)
def contest_dispute(dispute_id: str, body: Contest, shop: Shop, request: Request) -> Response:
    """Your side of it, with a photo if you have one; while open and before ``answer_by``."""
    disputes = deps.platform_of(request).disputes
    photo = partial(_photo, body.photo)  # decoded once the dispute is found to be the shop's
    return answer(disputes.contest(shop, dispute_id, text_=body.text, photo=photo))


@router.get(
    "/merchant/disputes/{dispute_id}/files/{file_id}",
    response_class=Response,
    responses={**IMAGE, **problems(401, 404)},
)
def merchant_dispute_file(dispute_id: str, file_id: str, shop: Shop, request: Request) -> Response:
    reads = deps.platform_of(request).disputes.reads
    return _image(reads.file(reads.owned(dispute_id, merchant_id=shop.id), file_id))


# --- operators --------------------------------------------------------------------------------


@router.get("/ops/disputes", response_model=DisputeQueue, responses=problems(401, 403, 422))
def ops_disputes(
    actor: Queue,
    request: Request,
    state: Annotated[STATE | None, Query()] = None,
    consumer_id: Annotated[str | None, Query(max_length=64)] = None,
    merchant_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The queue: disputes in a state, or of one payer or merchant, newest first, without the
    parties' words, photos or the payer (`GET /v1/ops/disputes/{id}` reads those, with a reason,
    audited). A person's disputes are a person's data: filtering by one needs the typed reason
    and is audited before the read."""
    platform = deps.platform_of(request)
    people = [("consumer", consumer_id), ("merchant", merchant_id)]
    if any(subject for _kind, subject in people):
        reason = ops_deps.reason_of(request)
        for kind, subject in people:
            if subject:
                platform.audit.record(
                    operator_id=actor.operator.id,
                    role=actor.operator.role,
                    action="disputes.view",
                    subject_kind=kind,
                    subject_id=subject,
                    what="their disputes",
                    reason=reason,
                    address=actor.address,
                )
    reads = platform.disputes.reads
    return answer(
        reads.listed(state=state, consumer_id=consumer_id, merchant_id=merchant_id, ops=True)
    )


@router.get(
    "/ops/disputes/{dispute_id}", response_model=DisputeOut, responses=problems(401, 403, 404, 422)
)
def ops_dispute(dispute_id: str, actor: Reader, request: Request) -> Response:
    """One dispute with its timeline; the read is audited first."""
    disputes = deps.platform_of(request).disputes
    return answer(disputes.for_ops(_deciding(actor), dispute_id))


@router.get(
    "/ops/disputes/{dispute_id}/files/{file_id}",
    response_class=Response,
    responses={**IMAGE, **problems(401, 403, 404, 422)},
)
def ops_dispute_file(dispute_id: str, file_id: str, actor: Reader, request: Request) -> Response:
    disputes = deps.platform_of(request).disputes
    return _image(disputes.file_for_ops(_deciding(actor), dispute_id, file_id))


@router.post(
    "/ops/disputes/{dispute_id}/decide",
    response_model=DisputeOut,
    responses=problems(401, 402, 403, 404, 409, 422),
)
async def decide_dispute(dispute_id: str, body: Decide, actor: Decider, request: Request) -> Any:
    """Decide a contested or escalated dispute: for the payer, a refund from the merchant; for
    the merchant, nothing moves. Audited for both, with the decision."""
    disputes = deps.platform_of(request).disputes
    deciding = _deciding(actor)
    return await deps.idempotent(
        request,
        actor.operator.id,
        lambda claim: disputes.decide(
            deciding, dispute_id, for_=body.for_, note=body.note, claim=claim
        ),
        status_code=200,
    )
