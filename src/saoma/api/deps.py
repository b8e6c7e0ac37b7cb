"""Who is calling: a consumer (bearer token or cookie), a merchant (signed request or session)."""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Literal, ParamSpec, Protocol, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from saoma.api.handover import Workers
from saoma.bootstrap import Platform
from saoma.core import request_ids
from saoma.core.errors import SaomaError, Unauthenticated
from saoma.db import is_sqlite
from saoma.merchants.service import Merchant
from saoma.miniprograms.service import TOKEN_PREFIX
from saoma.payments import idempotency
from saoma.wallets.service import Consumer

CONSUMER_COOKIE = "saoma_session"
MERCHANT_COOKIE = "saoma_merchant"
DEVICE_COOKIE = "saoma_device"  # a browser or app an account signed in from (device_of)
DEVICE_COOKIE_MAX_AGE_S = 90 * 24 * 3600
_DEVICE_TOKEN = re.compile(r"sd_[A-Za-z0-9_-]{43}")
R = TypeVar("R", bound=Response)
REPLAY_HEADER = "Idempotent-Replayed"
# Tests only: hold every claimed request this long before its work, so a test can kill the
# server while the request is in flight. Never set in production.
_PAUSE_AFTER_CLAIM_S = float(os.environ.get("SAOMA_TEST_PAUSE_AFTER_CLAIM_S", "0") or 0)
log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")


# As many threads as anyio's default for FastAPI's own routes, at most: they start as the work
# at once needs them, which the requests a process works on at once bound (``working_max``;
# the pages and live feeds are not counted there).
_WORKERS = Workers(40, "request")


async def in_worker(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``work(*args, **kwargs)`` in a worker thread, with the request's context variables (its
    request id).

    :class:`Workers` rather than anyio's ``to_thread`` (FastAPI's ``run_in_threadpool``) or
    asyncio's executor: the same hand-over with less around it (bench/handover.py).
    """
    if args or kwargs:
        return await _WORKERS.run(partial(work, *args, **kwargs))
    return await _WORKERS.run(work)


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def address_of(request: Request) -> str:
    """The caller's address: behind a proxy, what it sends in ``X-Forwarded-For`` when its
    address is in ``FORWARDED_ALLOW_IPS`` (uvicorn's; 127.0.0.1 and ::1 by default)."""
    return request.client.host if request.client is not None else ""


def device_of(request: Request) -> str:
    """The token of the browser or app signing in (its ``saoma_device`` cookie), or a new one
    when it has none: a right password makes it known to the account (saoma.wallets.signins)."""
    sent = request.cookies.get(DEVICE_COOKIE, "")
    if _DEVICE_TOKEN.fullmatch(sent):
        return sent
    return "sd_" + secrets.token_urlsafe(32)


def with_cookie(
    request: Request,
    response: R,
    name: str,
    value: str,
    max_age_s: int,
    samesite: Literal["lax", "strict"] = "strict",
) -> R:
    """``response`` setting the cookie ``name``: HttpOnly, for the whole site, Secure over
    HTTPS (behind a proxy named in FORWARDED_ALLOW_IPS, the scheme it was reached by)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age_s,
        httponly=True,
        samesite=samesite,
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


def with_device(request: Request, response: R, device: str) -> R:
    """``response`` keeping the device's token (for ``DEVICE_COOKIE_MAX_AGE_S``)."""
    return with_cookie(request, response, DEVICE_COOKIE, device, DEVICE_COOKIE_MAX_AGE_S, "lax")


def consumer_token(request: Request) -> str:
    """The consumer's session token the request came with (bearer or the wallet's cookie)."""
    return _bearer(request) or request.cookies.get(CONSUMER_COOKIE, "")


def merchant_token(request: Request) -> str:
    """The merchant's session token the request came with (bearer or the dashboard's cookie)."""
    return _bearer(request) or request.cookies.get(MERCHANT_COOKIE, "")


def _bearer(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def mini_access_token(request: Request) -> str | None:
    """A mini-program's access token (``Authorization: Bearer mat_…``) sent with a merchant's
    signed request, or None when the request carries none."""
    token = _bearer(request)
    return token if token.startswith(TOKEN_PREFIX) else None


def _by_session(find: Callable[[str], T | None], token: str) -> Callable[[], T]:
    """The session's holder, looked up when called: 401 once the session has expired."""

    def look_up() -> T:
        found = find(token)
        if found is None:
            raise Unauthenticated("the session has expired: sign in again")
        return found

    return look_up


class Lookup(Generic[T]):
    """Who is calling, looked up when called: in the worker thread, with the request's work
    (one hand-over to the thread pool instead of two). Where ``claims`` (a payer's session on
    PostgreSQL), ``claim`` finds the caller and claims an Idempotency-Key in their scope in one
    statement."""

    __slots__ = ("_claiming", "_look_up", "ran")

    def __init__(
        self,
        look_up: Callable[[], T],
        claiming: Callable[[str, str], tuple[T, bool]] | None = None,
    ) -> None:
        self._look_up = look_up
        self._claiming = claiming
        self.ran = False

    def __call__(self) -> T:
        self.ran = True
        return self._look_up()

    @property
    def claims(self) -> bool:
        return self._claiming is not None

    def claim(self, key: str, fingerprint: str) -> tuple[T, bool]:
        """The caller, and whether ``key`` (a valid key) was claimed in their scope."""
        assert self._claiming is not None
        self.ran = True
        return self._claiming(key, fingerprint)


def _first_if_refused(request: Request, lookup: Lookup[T]) -> Lookup[T]:
    """``lookup``, kept where a refusal of the request's body (422, which FastAPI finds before
    the route runs) asks for it first, unless it ran already: an unknown caller hears 401, not
    what its body lacked (a signed request's nonce is then taken, as by any request)."""

    async def refusal() -> Any:
        if lookup.ran:  # a dependency that looked the caller up before the body was read
            return None
        try:
            await in_worker(lookup)
        except SaomaError as refused:
            return refused
        except Exception:  # the database is away, say: the body's refusal stands
            return None
        return None

    request.state.caller_refusal = refusal
    return lookup


def _session_claiming(
    platform: Platform, token: str
) -> Callable[[str, str], tuple[Consumer, bool]]:
    def claiming(key: str, fingerprint: str) -> tuple[Consumer, bool]:
        finder = platform.wallets.session_finder(token)
        row = idempotency.find_and_claim(platform.engine, finder, key, fingerprint)
        if row is None:
            raise Unauthenticated("the session has expired: sign in again")
        request_ids.caller_known(consumer_id=row.id)  # for the request's log line
        return Consumer.of(row), bool(row.idem_claimed)

    return claiming


async def consumer_later(request: Request) -> Lookup[Consumer]:
    """The consumer calling, as a lookup to run in the worker thread with the request's work. A
    request with no session token at all is refused here, on the event loop."""
    token = consumer_token(request)
    if not token.startswith("st_"):
        raise Unauthenticated("sign in first: send Authorization: Bearer <token>")
    platform = platform_of(request)
    look_up = _by_session(platform.wallets.for_token, token)
    claiming = None if is_sqlite(platform.engine) else _session_claiming(platform, token)
    return _first_if_refused(request, Lookup(look_up, claiming))


async def consumer(request: Request) -> Consumer:
    return await in_worker(await consumer_later(request))


async def merchant_later(request: Request) -> Lookup[Merchant]:
    """The merchant calling (a session, or a signed request checked with its body), as a
    lookup to run in the worker thread with the request's work."""
    merchants = platform_of(request).merchants
    token = merchant_token(request)
    if token.startswith("mt_"):
        return _first_if_refused(request, Lookup(_by_session(merchants.for_token, token)))
    body = await request.body()
    # The path as sent, percent-escapes and all: what the client signed (``url.path`` is decoded).
    path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    path_qs = path + (f"?{request.url.query}" if request.url.query else "")
    headers = {k.lower(): v for k, v in request.headers.items()}
    signed = partial(merchants.authenticate, headers, request.method, path_qs, body)
    platform = platform_of(request)
    claiming = None
    if not is_sqlite(platform.engine):
        claiming = _signature_claiming(platform, headers, request.method, path_qs, body)
    return _first_if_refused(request, Lookup(signed, claiming))


def _signature_claiming(
    platform: Platform, headers: dict[str, str], method: str, path_qs: str, body: bytes
) -> Callable[[str, str], tuple[Merchant, bool]]:
    """PostgreSQL: the signer found, the nonce noted and an Idempotency-Key claimed in the
    merchant's scope by one statement; a request whose signature then fails frees the key
    again (and its nonce), so only a signed request holds one."""

    def claiming(key: str, fingerprint: str) -> tuple[Merchant, bool]:
        merchants = platform.merchants
        signed = merchants.signed_request(headers, method, path_qs, body)
        finder = merchants.signer_finder(signed)
        row = idempotency.find_and_claim(platform.engine, finder, key, fingerprint)
        claimed = row is not None and bool(row.idem_claimed)
        try:
            merchant = merchants.signer(signed, row)
            request_ids.caller_known(merchant_id=merchant.id)  # for the request's log line
        except BaseException:
            if claimed:
                idempotency.release(platform.engine, idempotency.Claim(row.id, key))
            raise
        return merchant, claimed

    return claiming


async def merchant(request: Request) -> Merchant:
    return await in_worker(await merchant_later(request))


class _Caller(Protocol):
    @property
    def id(self) -> str: ...


Who = TypeVar("Who", bound=_Caller)


@dataclass(frozen=True, slots=True)
class _Known:
    id: str


def _fingerprint(
    platform: Platform, method: str, path: str, body: bytes
) -> idempotency.Fingerprint:
    """The request's fingerprint under the PIN keys; before a rotation (here or in another
    process) or before fingerprints were keyed, its key may have been claimed in another form."""
    message = idempotency.request_message(method, path, body)
    pins = platform.wallets.pins

    def earlier() -> list[str]:
        return [
            *pins.fingerprints(message, again=True),
            idempotency.request_hash(method, path, body),
        ]

    return idempotency.Fingerprint(pins.fingerprint(message), earlier)


async def idempotent(
    request: Request,
    scope: str,
    work: Callable[[idempotency.Claim | None], Any],
    *,
    status_code: int = 201,
    required: bool = True,
) -> Any:
    """``idempotent_as`` for a caller already known: its Idempotency-Keys live in ``scope``."""
    return await idempotent_as(
        request,
        lambda: _Known(scope),
        lambda _known, claim: work(claim),
        status_code=status_code,
        required=required,
    )


def _caller_and_claim(
    platform: Platform,
    caller: Callable[[], Who],
    key: str | None,
    fingerprint: str,
    check: Callable[[Who], None] | None,
) -> tuple[Who, idempotency.Claim | None]:
    """The caller (``check`` passed), and ``key`` claimed for them where the lookup could claim
    it in the same statement; None where ``idempotency.begin`` is still to claim it."""
    claims = isinstance(caller, Lookup) and caller.claims
    if key is None or not claims or not idempotency.key_is_valid(key):  # ``begin`` says why not
        who = caller()
        if check is not None:
            check(who)
        return who, None
    assert isinstance(caller, Lookup)
    who, claimed = caller.claim(key, fingerprint)
    claim = idempotency.Claim(who.id, key) if claimed else None
    if check is not None:
        try:
            check(who)
        except BaseException:
            if claim is not None:  # refused before its work: the key is free again
                idempotency.release(platform.engine, claim)
            raise
    return who, claim


async def idempotent_as(
    request: Request,
    caller: Callable[[], Who],
    work: Callable[[Who, idempotency.Claim | None], Any],
    *,
    status_code: int = 201,
    required: bool = True,
    check: Callable[[Who], None] | None = None,
) -> Any:
    """Run ``work`` once per Idempotency-Key of the caller: replays get the first response
    back, byte for byte; ``check`` may refuse the caller (a currency) before the claim.

    ``caller`` looks up who is calling (``consumer_later``, ``merchant_later``); it runs first,
    in the same trip to the thread pool as the claim, the work and the stored response (each
    trip costs a thread hand-over both ways), and the caller's id scopes the keys.

    The key is ``required`` on every request that moves or reserves money (422
    ``idempotency-key-required`` without it, after the caller is known: an unknown caller hears
    401). So is a body that fails the route's schema (FastAPI refuses it before the route
    runs; its handler asks ``request.state.caller_refusal`` first).

    Money-moving work stores its response in its own transaction; for other work it is stored
    right after. The claim's lease is renewed while the work runs, so a retry can take it over
    within seconds of this process dying, not sooner.
    """
    key = request.headers.get("idempotency-key")
    if key is None and required:
        await in_worker(caller)
        raise idempotency.required()
    platform = platform_of(request)
    method, path = request.method, request.url.path
    body = await request.body() if key is not None else b""

    def once() -> idempotency.Replay | Any:
        # Made here, in the worker: the first one reads the key file.
        fingerprint = idempotency.Fingerprint("")
        if key is not None:
            fingerprint = _fingerprint(platform, method, path, body)
        who, claimed = _caller_and_claim(platform, caller, key, fingerprint.value, check)
        if key is None:
            return work(who, None)
        claim = claimed or idempotency.begin(platform.engine, who.id, key, fingerprint)
        if isinstance(claim, idempotency.Replay):
            return claim
        with idempotency.leased(platform.engine, claim):
            if _PAUSE_AFTER_CLAIM_S:
                time.sleep(_PAUSE_AFTER_CLAIM_S)
            try:
                result = work(who, claim)
            except Exception:
                idempotency.release(platform.engine, claim)
                raise
            if not claim.stored:  # no money moved this time (a replay of the business key, say)
                idempotency.finish(platform.engine, claim, status_code, result)
        return result

    result = await in_worker(once)
    if key is None:
        return JSONResponse(result, status_code=status_code)
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
