"""Routes for owning a phone or e-mail: claim it, get a one-time code, type it back.

In demo mode (or with SAOMA_SANDBOX_MESSAGES_VISIBLE) the sandbox messenger's outbox is readable
at ``GET /v1/sandbox/messages``, since no real SMS or e-mail leaves the installation.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field, StrictStr

from saoma.api import deps
from saoma.api.responses import problems
from saoma.api.schemas import Body
from saoma.pagination import PAGE_LIMIT_MAX
from saoma.problems import Problem, invalid
from saoma.wallets.identifiers import check_identifier
from saoma.wallets.service import Consumer

router = APIRouter(prefix="/v1", tags=["identifiers"])
Me = Annotated[Consumer, Depends(deps.consumer)]


class IdentifierBody(Body):
    identifier: StrictStr = Field(
        max_length=254,
        examples=["+8613800138000"],
        description="A phone number (E.164) or an e-mail address.",
    )


class VerifyBody(IdentifierBody):
    code: StrictStr = Field(max_length=6, examples=["042917"], description="The six digits sent.")


@router.get("/me/identifiers", responses=problems(401))
def my_identifiers(me: Me, request: Request) -> dict[str, Any]:
    """The wallet's phones and e-mail addresses and whether each is verified."""
    return {"data": deps.platform_of(request).identifiers.of(me.id)}


@router.post("/me/identifiers", status_code=201, responses=problems(401, 409, 422, 429))
def add_identifier(body: IdentifierBody, me: Me, request: Request) -> dict[str, Any]:
    """Claim another phone or e-mail: a code is sent to it; money reaches it once verified."""
    return deps.platform_of(request).identifiers.add(me.id, body.identifier)


@router.post("/me/identifiers/code", status_code=202, responses=problems(401, 404, 409, 422, 429))
def send_code(body: IdentifierBody, me: Me, request: Request) -> dict[str, Any]:
    """Send a new code (once a minute, ten times a day); only the last one sent counts."""
    return deps.platform_of(request).identifiers.send_code(me.id, body.identifier)


@router.post("/me/identifiers/verify", responses=problems(401, 404, 409, 410, 422, 423))
def verify_identifier(body: VerifyBody, me: Me, request: Request) -> dict[str, Any]:
    """Type the code: the phone or e-mail is verified, and money waiting for it arrives."""
    platform = deps.platform_of(request)
    outcome = platform.identifiers.verify(me.id, body.identifier, body.code)
    found = [i for i in platform.identifiers.of(me.id) if i["identifier"] == outcome.identifier]
    return {**found[0], "balance": platform.wallets.balance(me)["balance"]} if found else {}


def _limit(value: str | None) -> int:
    if value is None:
        return 20
    if not (value.isascii() and value.isdigit() and len(value) <= 3) or not (
        1 <= int(value) <= PAGE_LIMIT_MAX
    ):
        raise invalid("limit", f"limit must be between 1 and {PAGE_LIMIT_MAX}")
    return int(value)


@router.get("/sandbox/messages", tags=["sandbox"], responses=problems(404, 422))
def sandbox_messages(
    request: Request, to: str | None = None, limit: str | None = None
) -> dict[str, Any]:
    """Demo mode only: what the sandbox messenger would have sent, newest first."""
    platform = deps.platform_of(request)
    if not platform.sandbox_messages_visible:
        raise Problem("not-found", 404, "sandbox messages are shown only in demo mode")
    recipient = check_identifier(to, "to") if to is not None else None
    messages = platform.messenger.recent(to=recipient, limit=_limit(limit))
    return {"data": [message.view() for message in messages]}
