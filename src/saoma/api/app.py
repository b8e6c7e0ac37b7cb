"""The FastAPI application: wiring, the one place errors become problem documents, and limits."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from saoma.platform import Platform
from saoma.problems import Problem

log = logging.getLogger(__name__)
BODY_BYTES_MAX = 64 * 1024
PROBLEM_JSON = "application/problem+json"


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.document(instance=request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
    )


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


class BodyLimit:
    """Refuse a body larger than ``BODY_BYTES_MAX`` before reading it (plain ASGI: no overhead)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            length = headers.get(b"content-length", b"0")
            if not length.isdigit() or int(length) > BODY_BYTES_MAX:
                problem = Problem(
                    "body-too-large", 413, f"a request body is {BODY_BYTES_MAX} bytes at most"
                )
                response = JSONResponse(
                    problem.document(instance=scope["path"]), 413, media_type=PROBLEM_JSON
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


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
    app.add_middleware(BodyLimit)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "invalid request"}
        field = _field_of(tuple(first.get("loc", ())))
        detail = f"{field}: {first.get('msg', 'invalid')}"
        return problem_response(
            Problem("invalid-request", 422, detail, field=field, title="Invalid request"), request
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
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
    try:
        from saoma.web.routes import router as web_router

        app.include_router(web_router)
    except ImportError:
        pass
    return app
