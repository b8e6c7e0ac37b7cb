"""The operators' console API (``/v1/ops``): signing in, finding people, a person's page, the log.

Every route but sign-in needs an operator's session (``ot_`` token or the console's cookie) and
names the permission its role must have (:func:`saoma.api.ops_deps.allowed`). A person's page
needs the reason typed (``Saoma-Reason``); its audit entry is committed before the data is read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field, StrictStr

from saoma.api import deps, ops_deps
from saoma.api.ops_deps import Actor
from saoma.api.ops_out import (
    AuditPage,
    ConsumerPageOut,
    MerchantPageOut,
    OperatorOut,
    OperatorsOut,
    OpsSignedInOut,
    SearchOut,
)
from saoma.api.responses import answer, problems
from saoma.api.schemas import Body
from saoma.bootstrap import Platform
from saoma.core.ids import rfc3339
from saoma.operators.service import Operator

router = APIRouter(prefix="/v1/ops", tags=["operators"])
Signed = Annotated[Operator, Depends(ops_deps.operator)]
Finder = Annotated[Actor, Depends(ops_deps.allowed("people.read"))]
Reader = Annotated[Actor, Depends(ops_deps.allowed("people.read", reason=True))]
Auditor = Annotated[Actor, Depends(ops_deps.allowed("audit.read"))]
Admin = Annotated[Actor, Depends(ops_deps.allowed("operators.read"))]
PersonId = Annotated[str, Path(max_length=64)]
OPS = problems(401, 403, 422)


class OpsSignIn(Body):
    login: StrictStr = Field(max_length=254, examples=["ana@ops.example"])
    password: StrictStr = Field(max_length=256)
    code: StrictStr = Field(max_length=16, examples=["492039"], description="The 6-digit code.")


def record(platform: Platform, actor: Actor, action: str, kind: str, sid: str, what: str) -> None:
    """The audit entry of ``actor`` doing ``action`` on ``kind`` ``sid``, committed now."""
    platform.audit.record(
        operator_id=actor.operator.id,
        role=actor.operator.role,
        action=action,
        subject_kind=kind,
        subject_id=sid,
        what=what,
        reason=actor.reason,
        address=actor.address,
    )


def freeze_of(platform: Platform, subject_id: str) -> dict[str, Any] | None:
    """The person's active freeze, if any."""
    found = platform.freezes.active(subject_id)
    if found is None:
        return None
    return {
        "reason": found.reason,
        "since": rfc3339(found.since),
        "appeal": found.appeal,
        "by_role": found.by_role,
    }


def kyc_state_of(platform: Platform, merchant_id: str) -> str | None:
    """The merchant's onboarding state."""
    return platform.kyc.state_of(merchant_id)


@router.post(
    "/sessions", status_code=201, response_model=OpsSignedInOut, responses=problems(401, 422)
)
def sign_in(body: OpsSignIn, request: Request) -> Response:
    """Sign in with a password and the authenticator's current code (each code works once).
    The response also keeps this device in the ``saoma_device`` cookie: sent with later
    sign-ins, wrong tries made elsewhere do not lock the operator out of it."""
    device = deps.device_of(request)
    session = deps.platform_of(request).operators.sign_in(
        body.login, body.password, body.code, deps.address_of(request), device
    )
    signed_in = {
        "token": session.token,
        "operator": session.operator.view(),
        "expires_at": rfc3339(session.expires_at_us),
    }
    return deps.with_device(request, answer(signed_in, 201), device)


@router.delete("/sessions/current", status_code=204, responses=problems(401))
def sign_out(me: Signed, request: Request) -> Response:
    token = deps._bearer(request) or request.cookies.get(ops_deps.OPS_COOKIE, "")
    deps.platform_of(request).operators.sign_out(token)
    return Response(status_code=204)


@router.get("/me", response_model=OperatorOut, responses=problems(401))
def me(me: Signed) -> Response:
    return answer(me.view())


@router.get("/search", response_model=SearchOut, responses=OPS)
def search(
    actor: Finder, request: Request, q: Annotated[str, Query(min_length=2, max_length=100)]
) -> Response:
    """Consumers and merchants by id, phone, e-mail or name; names and logins masked."""
    platform = deps.platform_of(request)
    record(platform, actor, "search", "", "", f"search: {q}")
    results, freshness = platform.lookup.search(q)
    return answer({"results": results, **freshness.view()})


@router.get(
    "/consumers/{consumer_id}",
    response_model=ConsumerPageOut,
    responses=problems(401, 403, 404, 422),
)
def consumer_page(consumer_id: PersonId, actor: Reader, request: Request) -> Response:
    """A consumer's wallet, history, holds and devices (the look is logged first)."""
    platform = deps.platform_of(request)
    platform.lookup.exists("consumer", consumer_id)
    what = "wallet, history, holds, devices"
    record(platform, actor, "consumer.view", "consumer", consumer_id, what)
    page = platform.lookup.consumer(consumer_id)
    return answer({**page, "freeze": freeze_of(platform, consumer_id)})


@router.get(
    "/merchants/{merchant_id}",
    response_model=MerchantPageOut,
    responses=problems(401, 403, 404, 422),
)
def merchant_page(merchant_id: PersonId, actor: Reader, request: Request) -> Response:
    """A merchant's details, balance and recent payments (the look is logged first)."""
    platform = deps.platform_of(request)
    platform.lookup.exists("merchant", merchant_id)
    record(platform, actor, "merchant.view", "merchant", merchant_id, "details, balance, payments")
    page = platform.lookup.merchant(merchant_id)
    return answer(
        {
            **page,
            "freeze": freeze_of(platform, merchant_id),
            "kyc_state": kyc_state_of(platform, merchant_id),
        }
    )


@router.get("/audit", response_model=AuditPage, responses=OPS)
def audit_log(
    actor: Auditor,
    request: Request,
    cursor: Annotated[str | None, Query(max_length=18)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response:
    """The audit log, newest first, every column (admins), with each operator's login."""
    platform = deps.platform_of(request)
    record(platform, actor, "audit.view", "", "", "the audit log")
    page = platform.audit.page(cursor=cursor, limit=limit)
    logins = {o["id"]: o["login"] for o in platform.operators.listing()}
    for entry in page["data"]:
        entry["operator_login"] = logins.get(entry["operator_id"], "")
    return answer(page)


@router.get("/operators", response_model=OperatorsOut, responses=OPS)
def operators_list(actor: Admin, request: Request) -> Response:
    """Every operator: login, name, role, when added, whether disabled (admins)."""
    platform = deps.platform_of(request)
    record(platform, actor, "operators.view", "", "", "the list of operators")
    listed = [
        {
            **{k: v for k, v in row.items() if k != "created_at_us"},
            "created_at": rfc3339(row["created_at_us"]),
        }
        for row in platform.operators.listing()
    ]
    return answer({"operators": listed})
