"""The FastAPI application: wiring, the one place errors become problem documents, and limits."""

from __future__ import annotations

import email.message
import gc
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saoma import signing
from saoma.api import observability, problems
from saoma.api.admission import Admission
from saoma.bootstrap import Platform
from saoma.config import get_settings
from saoma.core.errors import BodyTooLarge, InvalidRequest, NotFound, SaomaError
from saoma.pagination import CURSOR_DIGITS_MAX
from saoma.payments import idempotency

log = logging.getLogger(__name__)
BODY_BYTES_MAX = 64 * 1024
CONTENT_LENGTH_DIGITS_MAX = 12
PROBLEM_JSON = problems.PROBLEM_JSON
IDEMPOTENCY_KEY = "Idempotency-Key"


def _too_large(scope: Scope) -> JSONResponse:
    return _respond(scope, BodyTooLarge(f"a request body is {BODY_BYTES_MAX} bytes at most"))


def _respond(scope: Scope, problem: SaomaError) -> JSONResponse:
    return problems.response(problem, scope["path"])


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


def _parsed_as_json(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether FastAPI reads this body as JSON (``application/json`` or ``application/*+json``)."""
    content_type = dict(headers).get(b"content-type")
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type.decode("latin-1")
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def json_body_problem(body: bytes) -> InvalidRequest | None:
    """Why a JSON body is refused, or None: UTF-8, one JSON document, no key twice in an object.

    Python's parser keeps the last of two equal keys, so ``{"amount": 1, "amount": 2}`` would be
    read as 2 where another reader (a proxy that checked the amount, a log) sees 1.
    """
    try:
        json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        return InvalidRequest(f"{exc.key} appears twice in the JSON body", field=exc.key)
    except UnicodeDecodeError:
        return InvalidRequest("body: not UTF-8", field="body")
    except RecursionError:
        return InvalidRequest("body: nested too deep", field="body")
    except ValueError:
        return InvalidRequest("body: not a JSON document", field="body")
    return None


class BodyLimit:
    """Refuse a body larger than ``BODY_BYTES_MAX`` (plain ASGI).

    A declared Content-Length above the limit (or not 1 to 12 ASCII digits) is refused before
    reading anything. Otherwise the bytes are counted as they arrive, so a chunked body (no
    Content-Length) or one that runs past its declared length is refused as soon as it crosses
    the limit; a body within the limit is handed on whole, in one message (to
    :class:`StrictJson`, one place for every route).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (
            len(length) > CONTENT_LENGTH_DIGITS_MAX
            or not length.isdigit()  # bytes: ASCII digits only
            or int(length) > BODY_BYTES_MAX
        ):
            await _too_large(scope)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        pending: list[Message] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away before the end
                pending.append(message)
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > BODY_BYTES_MAX:
                await _too_large(scope)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        pending.insert(0, {"type": "http.request", "body": b"".join(chunks), "more_body": False})

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        await self.app(scope, replay, send)


class StrictJson:
    """Refuse a body FastAPI would read as JSON unless :func:`json_body_problem` passes it (plain
    ASGI): inside admission, so a request refused as the server is busy costs no parsing, behind
    :class:`BodyLimit`, whose whole body it reads as the first message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _parsed_as_json(scope["headers"]):
            await self.app(scope, receive, send)
            return
        first = await receive()
        body = first.get("body", b"") if first["type"] == "http.request" else b""
        problem = json_body_problem(body) if body else None
        if problem is not None:
            await _respond(scope, problem)(scope, receive, send)
            return
        given = [first]

        async def replay() -> Message:
            return given.pop() if given else await receive()

        await self.app(scope, replay, send)


class PlainUrl:
    """Refuse, before any route sees them, a URL or header no valid request holds (plain ASGI).

    No id holds a NUL and PostgreSQL cannot even compare a text column with one: a NUL in the
    path is a resource that does not exist (404). In the query string a NUL, or bytes that are not
    UTF-8 once percent-decoded, are an invalid request (422) naming the parameter. An
    Idempotency-Key that is not 1 to 255 printable ASCII characters is refused (422) on any route.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = _url_problem(scope) or _header_problem(scope)
            if problem is not None:
                await _respond(scope, problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _url_problem(scope: Scope) -> SaomaError | None:
    if "\x00" in scope["path"]:
        return NotFound("no such resource")
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True, encoding="latin-1"):
        field = name.encode("latin-1").decode("utf-8", "replace") or "query"
        if "\x00" in name or "\x00" in value:
            return InvalidRequest(f"{field}: must not contain the NUL character", field=field)
        try:
            name.encode("latin-1").decode("utf-8")
            value.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            return InvalidRequest(f"{field}: percent-encoded bytes that are not UTF-8", field=field)
    return None


# Headers a request holds once at most: with two, one reader (this layer, a proxy) may take the
# first and another (the route) the last, and check a body as one type that is read as another.
_ONCE = {b"content-type": "Content-Type", b"content-length": "Content-Length"}
_ONCE[b"idempotency-key"] = IDEMPOTENCY_KEY


def _header_problem(scope: Scope) -> SaomaError | None:
    seen: set[bytes] = set()
    for name, value in scope["headers"]:
        if name in _ONCE:
            if name in seen:
                return InvalidRequest(f"{_ONCE[name]} is sent twice", field=_ONCE[name])
            seen.add(name)
        if name == b"idempotency-key" and not idempotency.key_is_valid(value.decode("latin-1")):
            detail = f"{IDEMPOTENCY_KEY} {idempotency.KEY_RULE}"
            return InvalidRequest(detail, field=IDEMPOTENCY_KEY)
    return None


class Contained:
    """Answer an unexpected error with a 500 problem and keep the connection (plain ASGI).

    Starlette answers it too but raises it again, and uvicorn then closes the connection: a
    client's next request on it was reset. Outermost, so an error in any layer is contained; one
    raised after the response started cannot be answered and goes on to the server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            if started:
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            await _respond(scope, problems.internal_error())(scope, receive, send)


# What a path that names a file type, or a live stream, answers instead of JSON.
_MEDIA_BY_SUFFIX = {".svg": "image/svg+xml", ".csv": "text/csv", "/events": "text/event-stream"}
_PROBLEM_SCHEMA = {"$ref": "#/components/schemas/ProblemDoc"}
_MEDIA_EXAMPLES = {
    "image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" width="290" height="290">…</svg>',
    "text/csv": "time,payment_id,kind,order_id,note,currency,gross,fee,refunded,net,"
    "discount_paid_by_campaign,mandate_id\r\n2026-11-24T12:13:40+08:00,pay_0c4d5e6f7a8b,order,"
    "ord_5b1e0c2f7a9d,Beef noodles,CNY,25.00,0.15,0.00,24.85,0.00,\r\n",
    "text/event-stream": 'id: evt_5e4d3c2b1a09\nevent: payment.succeeded\ndata: {"id": '
    '"evt_5e4d3c2b1a09", "type": "payment.succeeded", "data": {"id": "pay_0c4d5e6f7a8b"}}\n\n',
}


def describe_responses(
    document: dict[str, Any], signed: frozenset[tuple[str, str]] = frozenset()
) -> dict[str, Any]:
    """Make the OpenAPI document say what the server really sends and reads.

    Every error is a problem document served as ``application/problem+json`` (FastAPI's own
    422 ``HTTPValidationError`` never leaves this app: the handlers below rewrite it); any
    operation may be refused with 422 (:class:`PlainUrl`), any with a body with 413
    (:class:`BodyLimit`), and any with 500 (:class:`Contained`); images, CSV files and event
    streams are not JSON, and each has an example. The headers read
    outside FastAPI's parameters are described too, in the format they are parsed with: the
    signature headers on the ``signed`` operations ((path, method) pairs), Idempotency-Key on
    every POST; and a cursor is its digits (:func:`saoma.pagination.parse_cursor`).
    """
    from saoma.api.responses import restore_examples
    from saoma.api.schemas import ProblemDoc

    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ProblemDoc", ProblemDoc.model_json_schema())
    restore_examples(schemas)
    for path, operations in document.get("paths", {}).items():
        media = next((t for s, t in _MEDIA_BY_SUFFIX.items() if path.endswith(s)), None)
        for method, operation in operations.items():
            _describe_parameters(operation, signed=(path, method) in signed, post=method == "post")
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation and "413" not in responses:
                responses["413"] = {"description": "Body too large"}
            if "422" not in responses:  # a NUL in the query string, say (see PlainUrl)
                responses["422"] = {"description": ""}
            responses.setdefault("500", {"description": "Something went wrong on our side"})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}}
                    if status == "422":
                        response["description"] = (
                            "Invalid request: the `field` member names what is wrong"
                        )
                elif media is not None and status.startswith("2") and "content" in response:
                    response["content"] = {
                        media: {"schema": {"type": "string"}, "example": _MEDIA_EXAMPLES[media]}
                    }
    return document


_SIGNATURE_HEADERS = [
    {
        "name": name,
        "in": "header",
        "required": False,
        "description": (
            f"{signing.HEADER_DETAILS[name]}. A merchant's server signs every request (see the "
            "API's description); the dashboard's session token may stand in for all four."
        ),
        "schema": {"type": "string", "pattern": pattern},
    }
    for name, pattern in signing.HEADER_PATTERNS.items()
]
_IDEMPOTENCY_HEADER = {
    "name": IDEMPOTENCY_KEY,
    "in": "header",
    "required": False,
    "description": "Printable ASCII, 1 to 255 characters: a retry with the same key and body "
    "gets the first response back; the money moves once.",
    "schema": {"type": "string", "pattern": idempotency.KEY_PATTERN},
}
# Empty is the first page; a list ordered by time adds ".<id>" to the digits.
_CURSOR_SCHEMA = {
    "type": "string",
    "pattern": f"^([0-9]{{1,{CURSOR_DIGITS_MAX}}}(\\.[a-z0-9_]{{1,32}})?)?$",
}


def _describe_parameters(operation: dict[str, Any], *, signed: bool, post: bool) -> None:
    parameters = operation.setdefault("parameters", [])
    known = {(p["in"], p["name"].lower()) for p in parameters}
    extra = (_SIGNATURE_HEADERS if signed else []) + ([_IDEMPOTENCY_HEADER] if post else [])
    parameters += [dict(p) for p in extra if ("header", str(p["name"]).lower()) not in known]
    for parameter in parameters:
        if parameter["in"] == "query" and parameter["name"] == "cursor":
            parameter["schema"] = dict(_CURSOR_SCHEMA)
            parameter.setdefault("description", "The `next_cursor` of the page before.")
    if not parameters:
        del operation["parameters"]


def _depends_on(dependant: Dependant, call: Any) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)


def signed_operations(app: FastAPI) -> frozenset[tuple[str, str]]:
    """(path, method) of every operation a merchant's signed request may call."""
    from saoma.api.deps import merchant, merchant_later

    routes = [context.original_route for context in iter_route_contexts(app.routes)]
    return frozenset(
        (route.path_format, method.lower())
        for route in routes
        if isinstance(route, APIRoute)
        and (_depends_on(route.dependant, merchant) or _depends_on(route.dependant, merchant_later))
        for method in route.methods or ()
    )


def _freeze_heap() -> None:
    """What a server's start made (modules, routes, models, the platform) left out of the
    garbage collector's full collections (``gc.freeze``), its own garbage collected first (a
    frozen cycle is never freed). A full collection stops every thread of the process: over the
    whole heap it took 126–133 ms under load, over what requests made since 6–8 ms. Not for a
    process that builds many apps (the tests): what it froze would never be collected."""
    gc.collect()
    gc.freeze()


def create_app(platform: Platform, *, start: bool = True, freeze_heap: bool = False) -> FastAPI:
    """The API over ``platform`` (started and closed with the app unless ``start`` is off;
    ``freeze_heap``, for ``saoma serve``: :func:`_freeze_heap` once started)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start:
            platform.start()
        sampler.start()
        if freeze_heap:
            _freeze_heap()
        yield
        sampler.close()
        if start:
            platform.close()

    app = FastAPI(
        title="Saoma API",
        version="1.0.0",
        summary="Open QR-code payments: orders, scan-to-pay, payment codes, holds, refunds.",
        description=(
            "Amounts are integers in the currency's minor unit (fen for CNY). Merchants' servers "
            "sign every request with Ed25519 (headers Saoma-Key-Id, Saoma-Timestamp, Saoma-Nonce, "
            "Saoma-Signature over METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY). Consumers use a "
            "bearer token. Every POST that moves money takes an Idempotency-Key header. Errors are "
            "RFC 9457 problem documents with a stable `type`."
        ),
        lifespan=lifespan,
        # Saoma's own metrics, logs and request ids observe requests (saoma.api.observability):
        # FastAPI's OpenTelemetry would only look up unconfigured providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.platform = platform
    app.add_middleware(StrictJson)
    app.add_middleware(
        Admission,
        limit=platform.max_in_flight,
        working_max=platform.working_max,
        queue_wait_ms=platform.queue_wait_ms,
    )
    # Outside admission: a client sending its body slowly holds its own connection, never one
    # of the process's working places.
    app.add_middleware(BodyLimit)
    app.add_middleware(PlainUrl)
    app.add_middleware(Contained)
    settings = get_settings()
    sampler = observability.install(
        app, platform, json_lines=settings.log_format == "json", token=settings.metrics_token
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)
            app.openapi_schema = describe_responses(document, signed_operations(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    problems.install(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    _include_routers(app)
    return app


def _include_routers(app: FastAPI) -> None:
    from saoma.api import (
        access_routes,
        bills_routes,
        consumer_routes,
        dispute_routes,
        freeze_routes,
        hold_routes,
        identity_routes,
        kyc_routes,
        mandate_routes,
        merchant_routes,
        mini_routes,
        ops_routes,
        p2p_routes,
        paycode_routes,
        promotion_routes,
        sandbox_routes,
        session_routes,
        settlement_routes,
        split_routes,
    )

    # A request is matched against the routes in this order, one by one, at a few microseconds
    # each: the payments' own routes come first (an order's creation and payment, a code's
    # charge), then their routers, so a payment's requests are not matched against every other
    # route first. No two routes answer the same request (tests/api/test_openapi_contract.py),
    # so the order changes no answer.
    for first in (merchant_routes.first, consumer_routes.first, paycode_routes.first):
        app.include_router(first)
    for module in (
        consumer_routes,
        merchant_routes,
        paycode_routes,
        hold_routes,
        promotion_routes,
        p2p_routes,
        identity_routes,
        settlement_routes,
        sandbox_routes,
        split_routes,
        dispute_routes,
        ops_routes,
        access_routes,
        session_routes,
        freeze_routes,
        kyc_routes,
        bills_routes,
        mini_routes,
        mandate_routes,
    ):
        app.include_router(module.router)
