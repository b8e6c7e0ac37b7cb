"""Who looked at my data: each person's own view of the audit log (``/v1/me/access-log`` for a
wallet, ``/v1/merchant/access-log`` for a merchant). An entry names the operator's role, what
was looked at or done and the reason typed; never the operator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from saoma.api import deps
from saoma.api.ops_out import AccessLogOut
from saoma.api.responses import answer, problems
from saoma.merchants.service import Merchant
from saoma.wallets.service import Consumer

router = APIRouter(prefix="/v1", tags=["access log"])
Me = Annotated[Consumer, Depends(deps.consumer)]
Shop = Annotated[Merchant, Depends(deps.merchant)]
Cursor = Annotated[
    str | None, Query(max_length=18, description="The `next_cursor` of the page before.")
]
Limit = Annotated[int, Query(ge=1, le=100, description="Entries per page, 1 to 100.")]


@router.get("/me/access-log", response_model=AccessLogOut, responses=problems(401, 422))
def my_access_log(me: Me, request: Request, cursor: Cursor = None, limit: Limit = 50) -> Response:
    """Every time an operator looked at or acted on this wallet, newest first."""
    audit = deps.platform_of(request).audit
    return answer(audit.of_subject(me.id, cursor=cursor, limit=limit))


@router.get("/merchant/access-log", response_model=AccessLogOut, responses=problems(401, 422))
def merchant_access_log(
    shop: Shop, request: Request, cursor: Cursor = None, limit: Limit = 50
) -> Response:
    """Every time an operator looked at or acted on this merchant, newest first."""
    audit = deps.platform_of(request).audit
    return answer(audit.of_subject(shop.id, cursor=cursor, limit=limit))
