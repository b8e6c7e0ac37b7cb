"""Who is calling a ``/v1/ops/`` route: a signed-in operator, with a role allowed to.

Operator sessions are bearer tokens ``ot_…`` (or the console's HttpOnly cookie); a consumer's or
merchant's credential is never one, so no ops route answers them. A route that reads or acts on a
person's data also needs the reason the operator typed (a ticket number or a sentence), sent as
the ``Saoma-Reason`` header, percent-encoded UTF-8: it goes into the audit entry written before
the data is returned or with the action.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote

from fastapi import Request

from saoma.api.deps import _bearer, address_of, in_worker, platform_of
from saoma.core.errors import InvalidRequest, OperatorForbidden, Unauthenticated
from saoma.operators.roles import may
from saoma.operators.service import SESSION_TOKEN_PREFIX, Operator

OPS_COOKIE = "saoma_ops"
REASON_HEADER = "Saoma-Reason"
REASON_MIN = 3
REASON_MAX = 200


@dataclass(frozen=True, slots=True)
class Actor:
    """An operator making one request: who, from where, and why (when the route needs it)."""

    operator: Operator
    address: str
    reason: str = ""


async def operator(request: Request) -> Operator:
    token = _bearer(request) or request.cookies.get(OPS_COOKIE, "")
    if not token.startswith(SESSION_TOKEN_PREFIX):
        raise Unauthenticated("operators sign in first: send Authorization: Bearer <ot_ token>")
    found = await in_worker(platform_of(request).operators.for_token, token)
    if found is None:
        raise Unauthenticated("the operator session has expired: sign in again")
    return found


def reason_of(request: Request) -> str:
    """The reason typed for this request (header ``Saoma-Reason``), checked."""
    raw = request.headers.get(REASON_HEADER)
    if raw is None:
        raise InvalidRequest(
            f"{REASON_HEADER}: type why you need this (a ticket number or a sentence)",
            field=REASON_HEADER,
        )
    try:
        reason = " ".join(unquote(raw, errors="strict").split())
    except UnicodeDecodeError:
        raise InvalidRequest(
            f"{REASON_HEADER}: percent-encoded bytes that are not UTF-8", field=REASON_HEADER
        ) from None
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise InvalidRequest(
            f"{REASON_HEADER}: {REASON_MIN} to {REASON_MAX} characters", field=REASON_HEADER
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in reason):
        raise InvalidRequest(f"{REASON_HEADER}: control characters", field=REASON_HEADER)
    return reason


def allowed(permission: str, *, reason: bool = False) -> Callable[[Request], Awaitable[Actor]]:
    """A dependency: the calling operator, if their role has ``permission`` (403 otherwise),
    with the typed reason when ``reason`` (422 without one)."""

    async def actor(request: Request) -> Actor:
        found = await operator(request)
        if not may(found.role, permission):
            raise OperatorForbidden(f"the {found.role} role may not do this ({permission})")
        typed = reason_of(request) if reason else ""
        return Actor(found, address_of(request), typed)

    actor.permission = permission  # type: ignore[attr-defined]  # read by the route-walk test
    actor.needs_reason = reason  # type: ignore[attr-defined]
    return actor
