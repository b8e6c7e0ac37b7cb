"""Who is calling: a consumer (bearer token or cookie), a merchant (signed request or session)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from saoma.bootstrap import Platform
from saoma.core.errors import Unauthenticated
from saoma.merchants.service import Merchant
from saoma.miniprograms.service import TOKEN_PREFIX
from saoma.payments import idempotency
from saoma.wallets.service import Consumer

CONSUMER_COOKIE = "saoma_session"
MERCHANT_COOKIE = "saoma_merchant"
REPLAY_HEADER = "Idempotent-Replayed"
# Tests only: hold every claimed request this long before its work, so a test can kill the
# server while the request is in flight. Never set in production.
_PAUSE_AFTER_CLAIM_S = float(os.environ.get("SAOMA_TEST_PAUSE_AFTER_CLAIM_S", "0") or 0)


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def _bearer(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def mini_access_token(request: Request) -> str | None:
    """A mini-program's access token (``Authorization: Bearer mat_…``) sent with a merchant's
    signed request, or None when the request carries none."""
    token = _bearer(request)
    return token if token.startswith(TOKEN_PREFIX) else None


async def consumer(request: Request) -> Consumer:
    token = _bearer(request) or request.cookies.get(CONSUMER_COOKIE, "")
    if not token.startswith("st_"):
        raise Unauthenticated("sign in first: send Authorization: Bearer <token>")
    found = await run_in_threadpool(platform_of(request).wallets.for_token, token)
    if found is None:
        raise Unauthenticated("the session has expired: sign in again")
    return found


async def merchant(request: Request) -> Merchant:
    platform = platform_of(request)
    token = _bearer(request) or request.cookies.get(MERCHANT_COOKIE, "")
    if token.startswith("mt_"):
        found = await run_in_threadpool(platform.merchants.for_token, token)
        if found is None:
            raise Unauthenticated("the session has expired: sign in again")
        return found
    body = await request.body()
    # The path as sent, percent-escapes and all: what the client signed (``url.path`` is decoded).
    path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    path_qs = path + (f"?{request.url.query}" if request.url.query else "")
    headers = {k.lower(): v for k, v in request.headers.items()}
    return await run_in_threadpool(
        platform.merchants.authenticate, headers, request.method, path_qs, body
    )


async def idempotent(
    request: Request,
    scope: str,
    work: Callable[[idempotency.Claim | None], Any],
    *,
    status_code: int = 201,
    required: bool = True,
) -> Any:
    """Run ``work`` once per Idempotency-Key: replays get the first response back, byte for byte.

    The key is ``required`` on every request that moves or reserves money (422
    ``idempotency-key-required`` without it). Money-moving work stores its response in its own
    transaction; for other work it is stored right after. The claim's lease is renewed while the
    work runs, so a retry can take it over within seconds of this process dying, not sooner.
    """
    key = request.headers.get("idempotency-key")
    if key is None:
        if required:
            raise idempotency.required()
        return JSONResponse(await run_in_threadpool(work, None), status_code=status_code)
    platform = platform_of(request)
    body = await request.body()
    fingerprint = idempotency.request_hash(request.method, request.url.path, body)

    def once() -> idempotency.Replay | Any:
        # One trip to the thread pool for the claim, the work and the stored response: each
        # trip costs a thread hand-over both ways.
        claim = idempotency.begin(platform.engine, scope, key, fingerprint)
        if isinstance(claim, idempotency.Replay):
            return claim
        with idempotency.leased(platform.engine, claim):
            if _PAUSE_AFTER_CLAIM_S:
                time.sleep(_PAUSE_AFTER_CLAIM_S)
            try:
                result = work(claim)
            except Exception:
                idempotency.release(platform.engine, claim)
                raise
            if not claim.stored:  # no money moved this time (a replay of the business key, say)
                idempotency.finish(platform.engine, claim, status_code, result)
        return result

    result = await run_in_threadpool(once)
    if isinstance(result, idempotency.Replay):
        return Response(
            result.body,
            status_code=result.status_code,
            media_type="application/json",
            headers={REPLAY_HEADER: "true"},
        )
    return Response(
        idempotency.render(result), status_code=status_code, media_type="application/json"
    )
