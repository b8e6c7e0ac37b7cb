"""Success bodies of mini-programs: registrations, the payer's grants, codes, tokens, profiles.

Times are RFC 3339 in UTC; scopes are ``profile.masked_name`` and ``profile.phone``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from saoma.api.responses import Listing, Out, example, sometimes

ICON = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4="
MINI_PROGRAM = {
    "id": "mp_k3m4n5p6q7r8s2t3",
    "merchant_id": "m_2a3b4c5d6e7f",
    "name": "Shekou Bikes",
    "name_zh": "蛇口共享单车",
    "icon": ICON,
    "origin": "https://bike.example.cn",
    "scopes": ["profile.masked_name"],
    "state": "approved",
    "created_at": "2026-11-24T09:00:00.000Z",
    "approved_at": "2026-11-24T10:00:00.000Z",
}
GRANT = MINI_PROGRAM | {
    "granted_scopes": ["profile.masked_name"],
    "granted_at": "2026-11-24T12:00:00.000Z",
}


class MiniProgramOut(Out):
    """A mini-program: what the merchant registered, and whether an operator approved it."""

    model_config = example(MINI_PROGRAM)

    id: str
    merchant_id: str
    name: str
    name_zh: str
    icon: str = Field(description="A data: URL (PNG or SVG).")
    origin: str = Field(description="The https origin the service is served from.")
    scopes: list[str] = Field(description="The profile scopes it may ask the payer for.")
    state: Literal["pending", "approved"]
    created_at: datetime
    approved_at: datetime | None


class MiniProgramList(Listing[MiniProgramOut]):
    """Mini-programs, whole."""

    model_config = example({"data": [MINI_PROGRAM]})


class GrantOut(MiniProgramOut):
    """A service the payer authorised, and what it may read."""

    model_config = example(GRANT)

    granted_scopes: list[str]
    granted_at: datetime


class GrantList(Listing[GrantOut]):
    """The services the payer authorised and has not revoked."""

    model_config = example({"data": [GRANT]})


class CodeOut(Out):
    """An OAuth 2.0 authorization code: single use, for the service's server to exchange."""

    model_config = example({"code": "mac_2xQ9…", "expires_in": 60, "scope": "profile.masked_name"})

    code: str
    expires_in: int = Field(description="Seconds.")
    scope: str = Field(description="Space-separated scopes the payer agreed to.")


class TokenOut(Out):
    """An access token bound to one payer, one mini-program and the scopes agreed to."""

    model_config = example(
        {
            "access_token": "mat_Vb7…",  # nosec B105 - an example, cut short
            "token_type": "Bearer",  # nosec B105 - the token's kind
            "expires_in": 2592000,
            "scope": "profile.masked_name",
            "sub": "u_3f2a9c0d1e4b5a6c7d8e9f0a1b2c3d4e",
        }
    )

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds.")
    scope: str
    sub: str = Field(description="The payer's id for this mini-program only.")


class UserInfoOut(Out):
    """The profile fields the payer granted; a field not granted is absent."""

    model_config = example(
        {
            "sub": "u_3f2a9c0d1e4b5a6c7d8e9f0a1b2c3d4e",
            "masked_name": "李**",
            "scope": "profile.masked_name",
        }
    )

    sub: str
    masked_name: str | SkipJsonSchema[None] = sometimes(description="With profile.masked_name.")
    phone: str | SkipJsonSchema[None] | None = sometimes(
        description="With profile.phone: the payer's confirmed phone (null if none)."
    )
    scope: str
