"""Operators freeze and lift freezes of wallets and merchants (``/v1/ops/…/freeze``).

Each route needs the operator's typed reason (``Saoma-Reason``): it goes into the audit entry
written in the freeze's own transaction. ``reason_shown`` is what the person sees, with
``appeal`` (how to appeal; the installation's default sentence when left out).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import Field, StrictStr

from saoma.api import deps, ops_deps
from saoma.api.ops_deps import Actor
from saoma.api.responses import Out, answer, example, problems
from saoma.api.schemas import Body
from saoma.freezes.service import Doer

router = APIRouter(prefix="/v1/ops", tags=["ops"])

Freezer = Annotated[Actor, Depends(ops_deps.allowed("freeze", reason=True))]
Lifter = Annotated[Actor, Depends(ops_deps.allowed("unfreeze", reason=True))]

FREEZE = {
    "id": "fz_4k5m6n7p8q9r2s3t",
    "subject_kind": "consumer",
    "subject_id": "c_2a3b4c5d6e7f",
    "reason": "Your phone was reported stolen.",
    "appeal": "Call support on 400-000-0000 with your account id.",
    "since": "2026-11-24T09:00:00.000Z",
    "by_role": "support",
    "lifted_at": None,
    "lift_note": "",
}


class FreezeBody(Body):
    reason_shown: StrictStr = Field(
        min_length=3,
        max_length=200,
        examples=["Your phone was reported stolen."],
        description="What the person sees on their account.",
    )
    appeal: StrictStr = Field(
        default="",
        max_length=300,
        description="How the person can appeal; the installation's sentence when empty.",
    )


class UnfreezeBody(Body):
    note: StrictStr = Field(default="", max_length=200, description="Why it is lifted.")


class FreezeOut(Out):
    """A freeze of a wallet or a merchant, in force while ``lifted_at`` is null."""

    model_config = example(FREEZE)

    id: str
    subject_kind: Literal["consumer", "merchant"]
    subject_id: str
    reason: str = Field(description="What the person sees.")
    appeal: str
    since: datetime
    by_role: str
    lifted_at: datetime | None
    lift_note: str


def _doer(actor: Actor) -> Doer:
    return Doer(actor.operator.id, actor.operator.role, actor.reason, actor.address)


async def _freeze(
    request: Request, actor: Actor, kind: str, subject_id: str, body: FreezeBody
) -> Response:
    freezes = deps.platform_of(request).freezes
    reason = " ".join(body.reason_shown.split())
    appeal = " ".join(body.appeal.split())
    made = await deps.in_worker(freezes.freeze, _doer(actor), kind, subject_id, reason, appeal)
    return answer(made.view(), 201)


async def _unfreeze(
    request: Request, actor: Actor, kind: str, subject_id: str, body: UnfreezeBody
) -> Response:
    freezes = deps.platform_of(request).freezes
    note = " ".join(body.note.split())
    lifted = await deps.in_worker(freezes.unfreeze, _doer(actor), kind, subject_id, note)
    return answer(lifted.view())


_ERRORS = problems(401, 403, 404, 409, 422)


@router.post(
    "/consumers/{consumer_id}/freeze", status_code=201, response_model=FreezeOut, responses=_ERRORS
)
async def freeze_consumer(
    consumer_id: str, body: FreezeBody, actor: Freezer, request: Request
) -> Response:
    """Freeze a wallet: it cannot pay, transfer or withdraw; it still receives refunds."""
    return await _freeze(request, actor, "consumer", consumer_id, body)


@router.post("/consumers/{consumer_id}/unfreeze", response_model=FreezeOut, responses=_ERRORS)
async def unfreeze_consumer(
    consumer_id: str, body: UnfreezeBody, actor: Lifter, request: Request
) -> Response:
    """Lift a wallet's freeze."""
    return await _unfreeze(request, actor, "consumer", consumer_id, body)


@router.post(
    "/merchants/{merchant_id}/freeze", status_code=201, response_model=FreezeOut, responses=_ERRORS
)
async def freeze_merchant(
    merchant_id: str, body: FreezeBody, actor: Freezer, request: Request
) -> Response:
    """Freeze a merchant: it takes no payments and is not paid out; it can still refund."""
    return await _freeze(request, actor, "merchant", merchant_id, body)


@router.post("/merchants/{merchant_id}/unfreeze", response_model=FreezeOut, responses=_ERRORS)
async def unfreeze_merchant(
    merchant_id: str, body: UnfreezeBody, actor: Lifter, request: Request
) -> Response:
    """Lift a merchant's freeze."""
    return await _unfreeze(request, actor, "merchant", merchant_id, body)
