"""Routes for mini-programs: a merchant registers one; the wallet lists the approved ones, asks
the payer's consent and previews what a service asks to be paid; the service's server exchanges
a code for a token and reads the profile fields granted."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field, StrictStr

from saoma import targets
from saoma.api import deps
from saoma.api.consumer_routes import Me
from saoma.api.mandates_out import MandateOut
from saoma.api.merchant_routes import Shop
from saoma.api.mini_out import (
    CodeOut,
    GrantList,
    MiniProgramList,
    MiniProgramOut,
    TokenOut,
    UserInfoOut,
)
from saoma.api.payments_out import Preview
from saoma.api.responses import answer, problems
from saoma.api.schemas import Body
from saoma.core.errors import (
    AccessTokenInvalid,
    MandateNotOfService,
    NotFound,
    OrderNotOfService,
)
from saoma.miniprograms import rules
from saoma.miniprograms.service import MiniPrograms
from saoma.payments import codes

router = APIRouter(prefix="/v1", tags=["mini-programs"])
Scope = Annotated[StrictStr, Field(max_length=40)]
Scopes = Annotated[list[Scope], Field(max_length=len(rules.SCOPES) + 2)]


class RegisterMiniProgram(Body):
    name: StrictStr = Field(max_length=rules.NAME_CHARS_MAX, examples=["Shekou Bikes"])
    name_zh: StrictStr = Field(max_length=rules.NAME_CHARS_MAX, examples=["蛇口共享单车"])
    icon: StrictStr = Field(
        max_length=rules.ICON_CHARS_MAX,
        description="A PNG or SVG as a base64 data: URL, 16 KB at most.",
    )
    origin: StrictStr = Field(
        max_length=rules.ORIGIN_CHARS_MAX, examples=["https://bike.example.cn"]
    )
    scopes: Scopes = Field(default_factory=list, examples=[["profile.masked_name"]])


class Authorize(Body):
    scopes: Scopes = Field(examples=[["profile.masked_name"]])


class TokenRequest(Body):
    grant_type: Literal["authorization_code"]
    code: StrictStr = Field(max_length=128)


def minis(request: Request) -> MiniPrograms:
    platform = deps.platform_of(request)
    return MiniPrograms(platform.engine, platform.wallets, platform.identifiers)


# --- merchants --------------------------------------------------------------------------------


@router.post(
    "/mini-programs",
    status_code=201,
    response_model=MiniProgramOut,
    responses=problems(401, 409, 422),
)
def register(body: RegisterMiniProgram, shop: Shop, request: Request) -> Response:
    """Register a mini-program; the wallet lists it once an operator approved it."""
    registered = minis(request).register(
        shop,
        name=body.name,
        name_zh=body.name_zh,
        icon=body.icon,
        origin=body.origin,
        scopes=body.scopes,
        allow_private=targets.private_allowed(),
    )
    return answer(registered, status_code=201)


@router.get("/merchant/mini-programs", response_model=MiniProgramList, responses=problems(401))
def my_mini_programs(shop: Shop, request: Request) -> Response:
    return answer({"data": minis(request).of_merchant(shop)})


@router.post("/mini/tokens", response_model=TokenOut, responses=problems(400, 401, 422))
def exchange_code(body: TokenRequest, shop: Shop, request: Request) -> Response:
    """Exchange the payer's authorization code for an access token: once per code."""
    return answer(minis(request).exchange(shop, body.code))


@router.get("/mini/userinfo", response_model=UserInfoOut, responses=problems(401))
def userinfo(shop: Shop, request: Request) -> Response:
    """The profile fields the payer granted: a signed request carrying
    ``Authorization: Bearer <access_token>``."""
    token = deps.mini_access_token(request)
    if token is None:
        raise AccessTokenInvalid("send Authorization: Bearer <access_token>")
    return answer(minis(request).userinfo(shop, token))


# --- the wallet -------------------------------------------------------------------------------


@router.get("/mini-programs", response_model=MiniProgramList, responses=problems(401))
def approved(me: Me, request: Request) -> Response:
    """The approved mini-programs: the wallet's Services."""
    return answer({"data": minis(request).approved()})


@router.post(
    "/me/mini-programs/{mini_program_id}/authorizations",
    status_code=201,
    response_model=CodeOut,
    responses=problems(401, 404, 422),
)
def authorize(mini_program_id: str, body: Authorize, me: Me, request: Request) -> Response:
    """The payer agreed to share these scopes with the service: a single-use code for it."""
    return answer(minis(request).authorize(me, mini_program_id, body.scopes), status_code=201)


def _service_shop(request: Request, mini_program_id: str) -> Any:
    platform = deps.platform_of(request)
    return platform.merchants.get(minis(request).merchant_of(mini_program_id))


@router.get(
    "/me/mini-programs/{mini_program_id}/orders/{order_id}",
    response_model=Preview,
    responses=problems(401, 403, 404),
)
def order_preview(mini_program_id: str, order_id: str, me: Me, request: Request) -> Response:
    """What the wallet's own sheet shows when a service asks it to pay an order: refused
    unless the order is the service's own merchant's."""
    shop = _service_shop(request, mini_program_id)
    platform = deps.platform_of(request)
    try:
        order = platform.payments.get_order(shop, order_id)
    except NotFound as exc:
        raise OrderNotOfService(field="order_id") from exc
    return answer(codes.preview(platform, me, order["qr_payload"]))


@router.get(
    "/me/mini-programs/{mini_program_id}/holds/{hold_id}",
    response_model=Preview,
    responses=problems(401, 403, 404),
)
def hold_preview(mini_program_id: str, hold_id: str, me: Me, request: Request) -> Response:
    """The same for a hold (a deposit) the service asks the payer to allow."""
    shop = _service_shop(request, mini_program_id)
    platform = deps.platform_of(request)
    try:
        hold = platform.payments.get_hold(shop, hold_id)
    except NotFound as exc:
        raise OrderNotOfService(field="hold_id") from exc
    return answer(codes.preview(platform, me, hold["qr_payload"]))


@router.get(
    "/me/mini-programs/{mini_program_id}/mandates/{mandate_id}",
    response_model=MandateOut,
    responses=problems(401, 403, 404),
)
def mandate_preview(mini_program_id: str, mandate_id: str, me: Me, request: Request) -> Response:
    """The mandate a service asks the payer to agree to, as the wallet's sheet shows it:
    refused unless it is this payer's (404) and the service's own merchant asked for it (403)."""
    merchant_id = minis(request).merchant_of(mini_program_id)
    mandates = deps.platform_of(request).mandates
    row = mandates.of_consumer(me, mandate_id)
    if row.merchant_id != merchant_id:
        raise MandateNotOfService(field="mandate_id")
    return answer(mandates.view_for_consumer(row))


@router.get("/me/mini-program-grants", response_model=GrantList, responses=problems(401))
def my_grants(me: Me, request: Request) -> Response:
    """Services I have authorised."""
    return answer({"data": minis(request).grants_of(me)})


@router.delete(
    "/me/mini-program-grants/{mini_program_id}", status_code=204, responses=problems(401, 404)
)
def revoke(mini_program_id: str, me: Me, request: Request) -> Response:
    """Withdraw the service's access: its tokens are refused from the next request on."""
    minis(request).revoke(me, mini_program_id)
    return Response(status_code=204)
