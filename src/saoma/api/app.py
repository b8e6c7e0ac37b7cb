"""The FastAPI application: wiring, the one place errors become problem documents, and limits."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saoma.platform import Platform
from saoma.problems import Problem, invalid

log = logging.getLogger(__name__)
BODY_BYTES_MAX = 64 * 1024
PROBLEM_JSON = "application/problem+json"


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    document = problem.document(instance=request.url.path)
    if problem.field and problem.field.lower() not in problem.detail.lower():
        document["detail"] = f"{problem.field}: {problem.detail}"  # the detail names the field
    return JSONResponse(
        document,
        status_code=problem.status,
        media_type=PROBLEM_JSON,
    )


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _too_large(scope: Scope) -> JSONResponse:
    problem = Problem("body-too-large", 413, f"a request body is {BODY_BYTES_MAX} bytes at most")
    return JSONResponse(problem.document(instance=scope["path"]), 413, media_type=PROBLEM_JSON)


class BodyLimit:
    """Refuse a body larger than ``BODY_BYTES_MAX`` (plain ASGI: no overhead).

    A declared Content-Length above the limit is refused before reading anything. Otherwise the
    bytes are counted as they arrive, so a chunked body (no Content-Length) or one that runs past
    its declared length is refused as soon as it crosses the limit; a body within the limit is
    handed on to the application whole.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > BODY_BYTES_MAX):
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


class PlainUrl:
    """Refuse a NUL character in the URL before any route sees it (plain ASGI).

    No id holds one and PostgreSQL cannot even compare a text column with one: a NUL in the
    path is a resource that does not exist (404), in the query string an invalid request (422).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem: Problem | None = None
            if "\x00" in scope["path"]:
                problem = Problem("not-found", 404, "no such resource", title="Not found")
            else:
                query = scope.get("query_string", b"").decode("latin-1")
                for name, value in parse_qsl(query, keep_blank_values=True):
                    if "\x00" in name or "\x00" in value:
                        problem = invalid(
                            name or "query",
                            f"{name or 'query'}: must not contain the NUL character",
                        )
                        break
            if problem is not None:
                document = problem.document(instance=scope["path"].replace("\x00", ""))
                response = JSONResponse(document, problem.status, media_type=PROBLEM_JSON)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# What a path that names a file type, or a live stream, answers instead of JSON.
_MEDIA_BY_SUFFIX = {".svg": "image/svg+xml", ".csv": "text/csv", "/events": "text/event-stream"}
_PROBLEM_SCHEMA = {"$ref": "#/components/schemas/ProblemDoc"}


def describe_responses(document: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document say what the server really sends.

    Every error is a problem document served as ``application/problem+json`` (FastAPI's own
    422 ``HTTPValidationError`` never leaves this app: the handlers below rewrite it); any
    operation may be refused with 422 (:class:`PlainUrl`), any with a body with 413
    (:class:`BodyLimit`); images, CSV files and event streams are not JSON.
    """
    from saoma.api.schemas import ProblemDoc

    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ProblemDoc", ProblemDoc.model_json_schema())
    for path, operations in document.get("paths", {}).items():
        media = next((t for s, t in _MEDIA_BY_SUFFIX.items() if path.endswith(s)), None)
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation and "413" not in responses:
                responses["413"] = {"description": "Body too large"}
            if "422" not in responses:  # a NUL in the query string, say (see PlainUrl)
                responses["422"] = {"description": ""}
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}}
                    if status == "422":
                        response["description"] = (
                            "Invalid request: the `field` member names what is wrong"
                        )
                elif media is not None and status.startswith("2") and "content" in response:
                    response["content"] = {media: {"schema": {"type": "string"}}}
    return document


def create_app(platform: Platform, *, start: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start:
            platform.start()
        yield
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
    )
    app.state.platform = platform
    app.add_middleware(PlainUrl)
    app.add_middleware(BodyLimit)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_responses(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "invalid request"}
        field = _field_of(tuple(first.get("loc", ())))
        detail = f"{field}: {first.get('msg', 'invalid')}"
        return problem_response(invalid(field, detail), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # the body is not JSON (not even UTF-8): a request to fix
            return problem_response(invalid("body", "body: not a JSON document in UTF-8"), request)
        slug = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(
            exc.status_code, "http-error"
        )
        return problem_response(Problem(slug, exc.status_code, str(exc.detail)), request)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            Problem("internal-error", 500, "something went wrong on our side; nothing was lost"),
            request,
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    from saoma.api import (
        consumer_routes,
        identity_routes,
        merchant_routes,
        p2p_routes,
        paycode_routes,
        promotion_routes,
    )

    app.include_router(consumer_routes.router)
    app.include_router(merchant_routes.router)
    app.include_router(promotion_routes.router)
    app.include_router(p2p_routes.router)
    app.include_router(paycode_routes.router)
    app.include_router(identity_routes.router)
    try:
        from saoma.web.routes import router as web_router

        app.include_router(web_router)
    except ImportError:
        pass
    return app
