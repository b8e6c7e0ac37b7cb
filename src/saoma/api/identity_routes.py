"""Routes for owning a phone or e-mail: claim it, get a one-time code, type it back.

In demo mode (or with SAOMA_SANDBOX_MESSAGES_VISIBLE) the sandbox messenger's outbox is readable
at ``GET /v1/sandbox/messages``, since no real SMS or e-mail leaves the installation.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import Field, StrictStr

from saoma.api import deps
from saoma.api.accounts_out import IdentifierList, IdentifierOut, MessageList, VerifiedOut
from saoma.api.responses import answer, problems
from saoma.api.schemas import Body
from saoma.core.errors import InvalidRequest, NotFound
from saoma.pagination import PAGE_LIMIT_MAX
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


@router.get("/me/identifiers", response_model=IdentifierList, responses=problems(401))
def my_identifiers(me: Me, request: Request) -> Response:
    """The wallet's phones and e-mail addresses and whether each is verified."""
    return answer({"data": deps.platform_of(request).identifiers.of(me.id)})


@router.post(
    "/me/identifiers",
    status_code=201,
    response_model=IdentifierOut,
    responses=problems(401, 409, 422, 429),
)
def add_identifier(body: IdentifierBody, me: Me, request: Request) -> Response:
    """Claim another phone or e-mail: a code is sent to it; money reaches it once verified."""
    return answer(deps.platform_of(request).identifiers.add(me.id, body.identifier), 201)


@router.post(
    "/me/identifiers/code",
    status_code=202,
    response_model=IdentifierOut,
    responses=problems(401, 404, 409, 422, 429),
)
def send_code(body: IdentifierBody, me: Me, request: Request) -> Response:
    """Send a new code (once a minute, ten times a day); only the last one sent counts."""
    return answer(deps.platform_of(request).identifiers.send_code(me.id, body.identifier), 202)


@router.post(
    "/me/identifiers/verify",
    response_model=VerifiedOut,
    responses=problems(401, 404, 409, 410, 422, 423),
)
def verify_identifier(body: VerifyBody, me: Me, request: Request) -> Response:
    """Type the code: the phone or e-mail is verified, and money waiting for it arrives."""
    platform = deps.platform_of(request)
    outcome = platform.identifiers.verify(me.id, body.identifier, body.code)
    found = [i for i in platform.identifiers.of(me.id) if i["identifier"] == outcome.identifier]
    balance = platform.wallets.balance(me)["balance"]
    return answer({**found[0], "balance": balance} if found else {})


def _limit(value: str | None) -> int:
    if value is None:
        return 20
    if not (value.isascii() and value.isdigit() and len(value) <= 3) or not (
        1 <= int(value) <= PAGE_LIMIT_MAX
    ):
        raise InvalidRequest(f"limit must be between 1 and {PAGE_LIMIT_MAX}", field="limit")
    return int(value)


@router.get(
    "/sandbox/messages", tags=["sandbox"], response_model=MessageList, responses=problems(404, 422)
)
def sandbox_messages(request: Request, to: str | None = None, limit: str | None = None) -> Response:
    """Demo mode only: what the sandbox messenger would have sent, newest first."""
    platform = deps.platform_of(request)
    if not platform.sandbox_messages_visible:
        raise NotFound("sandbox messages are shown only in demo mode")
    recipient = check_identifier(to, "to") if to is not None else None
    messages = platform.messenger.recent(to=recipient, limit=_limit(limit))
    return answer({"data": [message.view() for message in messages]})
