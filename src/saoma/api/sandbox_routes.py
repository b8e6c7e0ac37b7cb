"""The sandbox bank's statement over HTTP, for tests and the demo (a real bank's is downloaded).

``GET /v1/sandbox/bank-statement?date=YYYY-MM-DD&faults=missing,amount`` answers the camt.053
document the sandbox bank gives for that UTC booking date, broken as ``faults`` asks (see
:mod:`saoma.funding.statement`). Like ``/v1/sandbox/messages`` it answers only in demo mode (or
with SAOMA_SANDBOX_MESSAGES_VISIBLE): it is no one's business outside a sandbox.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from saoma.api import deps
from saoma.api.responses import answer, problems
from saoma.api.settlement_out import SandboxSettle, SettleRunOut
from saoma.core.errors import DemoOnly, InvalidRequest
from saoma.funding.statement import check_faults
from saoma.payments.reports import parse_day
from saoma.settlement.terms import run_time

router = APIRouter(prefix="/v1", tags=["sandbox"])

XML = "application/xml"
EPOCH_YEAR = 1970
EXAMPLE = (
    '<?xml version="1.0" encoding="utf-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:'
    'camt.053.001.08"><BkToCstmrStmt><GrpHdr><MsgId>MSG-SBX-0001-20261204</MsgId><CreDtTm>'
    "2026-12-05T00:05:00+00:00</CreDtTm></GrpHdr><Stmt><Id>SBX-0001-20261204</Id>…<Ntry><Amt "
    'Ccy="CNY">50.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>'
    "2026-12-04</Dt></BookgDt>…<AcctSvcrRef>SBX3F2A9C01B7D4</AcctSvcrRef>…<NtryDtls><TxDtls>"
    "<Refs><EndToEndId>bt_6f1c2a9e0b3d4c5e6f708192</EndToEndId></Refs>…</TxDtls></NtryDtls>"
    "</Ntry></Stmt></BkToCstmrStmt></Document>"
)


@router.get(
    "/sandbox/bank-statement",
    response_class=Response,
    responses={
        200: {
            "description": "The statement, ISO 20022 camt.053.001.08",
            "content": {XML: {"schema": {"type": "string"}, "example": EXAMPLE}},
        },
        **problems(404, 422),
    },
)
def sandbox_bank_statement(
    request: Request,
    date: Annotated[str | None, Query(description="UTC booking date, YYYY-MM-DD")] = None,
    faults: Annotated[
        str | None, Query(description="comma-separated: missing, amount, unknown, duplicate")
    ] = None,
) -> Response:
    """Demo mode only: the sandbox bank's statement of a UTC date (today by default), with
    breaks put in it on request: ``faults`` lists some of missing, amount, unknown, duplicate."""
    platform = deps.platform_of(request)
    if not platform.sandbox_messages_visible:
        raise DemoOnly("the sandbox bank's statements are shown only in demo mode")
    day = datetime.now(UTC).date() if date is None else parse_day(date, "date")
    if day.year < EPOCH_YEAR:  # the opening balance is the day before's, and Saoma is younger
        raise InvalidRequest(f"date must be {EPOCH_YEAR}-01-01 or later", field="date")
    wanted = [f.strip() for f in (faults or "").split(",") if f.strip()]
    try:
        check_faults(wanted)
        document = platform.bank.statement(day, faults=wanted)
    except ValueError as exc:
        raise InvalidRequest(str(exc), field="faults") from None
    return Response(document, media_type=XML)


@router.post(
    "/sandbox/settle", tags=["sandbox"], response_model=SettleRunOut, responses=problems(404, 422)
)
async def sandbox_settle(body: SandboxSettle, request: Request) -> Response:
    """Demo mode only: a settlement run now, as if it were ``at`` (to see tomorrow's payouts
    today); the payouts go to this server's sandbox bank, so its statement shows them."""
    platform = deps.platform_of(request)
    if not platform.sandbox_messages_visible:
        raise DemoOnly("settling on demand is only for demo mode")
    now = None if body.at is None else run_time(body.at)
    return answer(await deps.in_worker(platform.settlement.run, now))
