"""The one table from error classes to HTTP statuses, and errors as RFC 9457 problem responses.

A status is found by walking the error's class hierarchy (the way Starlette looks up an
exception handler), so a cause that subclasses its slug's class answers with the same status.
The catalogue is served as JSON (``GET /v1/problems``) for clients, the pages and the OpenAPI
document.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from saoma.api.responses import answer, example
from saoma.core import errors as e
from saoma.db import database_unavailable

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"

STATUS: dict[type[object], int] = {
    # The request itself
    e.InvalidRequest: 422,
    e.BodyTooLarge: 413,
    e.Overloaded: 503,
    e.MethodNotAllowed: 405,
    e.NotFound: 404,
    e.InternalError: 500,
    e.IdempotencyKeyRequired: 422,
    e.IdempotencyKeyReused: 422,
    e.RequestInProgress: 409,
    # Who is calling
    e.Unauthenticated: 401,
    e.OperatorForbidden: 403,
    e.Frozen: 403,
    e.MerchantNotVerified: 403,
    e.KycNotPending: 409,
    e.KycAlreadySubmitted: 409,
    e.SignInFailed: 401,
    e.PasswordWrong: 401,
    e.LoginTaken: 409,
    e.SignatureMissing: 401,
    e.SignatureInvalid: 401,
    e.TimestampOutOfRange: 401,
    e.KeyUnknown: 401,
    e.NonceReused: 401,
    # PINs
    e.PinRequired: 401,
    e.PinWrong: 401,
    e.PinLocked: 423,
    e.PinNotSet: 409,
    e.PinBusy: 409,
    e.ManagerPinWrong: 401,
    e.ManagerPinLocked: 423,
    e.ManagerPinNotSet: 409,
    # Phones and e-mails
    e.IdentifierTaken: 409,
    e.IdentifierVerified: 409,
    e.IdentifierUnknown: 404,
    e.VerificationCodeWrong: 422,
    e.VerificationCodeExpired: 410,
    e.VerificationCodeLocked: 423,
    e.VerificationCodeTooSoon: 429,
    e.VerificationCodesExhausted: 429,
    # Money
    e.InsufficientFunds: 402,
    e.CurrencyMismatch: 422,
    e.AmountTooLarge: 422,
    e.LedgerRefused: 422,
    e.DailyLimit: 422,
    e.BankAccountMissing: 409,
    e.NothingToSettle: 409,
    e.SelfTransfer: 422,
    # Orders and refunds
    e.OrderNumberReused: 409,
    e.OrderAlreadyPaid: 409,
    e.OrderPaid: 409,
    e.OrderClosed: 409,
    e.OrderExpired: 409,
    e.OrderNotPayable: 409,
    e.RefundNumberReused: 409,
    e.RefundExceedsPayment: 422,
    # Holds
    e.HoldNotOpen: 409,
    e.HoldExpired: 409,
    e.HoldReferenceReused: 409,
    e.HoldAlreadyCaptured: 409,
    e.CaptureExceedsHold: 422,
    # Codes
    e.CodeUnreadable: 422,
    e.CodeMalformed: 422,
    e.CodeUnknown: 422,
    e.CodeExpired: 422,
    e.CodeUsed: 409,
    e.TooManyTries: 429,
    e.ChargeExpired: 409,
    # Between people
    e.PacketEmpty: 409,
    e.PacketClosed: 409,
    # Promotions
    e.CampaignEnded: 409,
    e.OfferUnavailable: 409,
    # Disputes, every cause
    e.DisputeRefused: 409,
    # Conflicts, every cause
    e.Conflict: 409,
    # Looking up who has a wallet
    e.TooManyLookups: 429,
    e.TooManySignIns: 429,
    # Mini-programs
    e.OrderNotOfService: 403,
    e.MandateNotOfService: 403,
    e.InvalidGrant: 400,
    e.AccessTokenInvalid: 401,
    # The database away for a moment (a failover)
    e.DatabaseUnavailable: 503,
    # Readiness (GET /readyz)
    e.NotReady: 503,
    # Mandates
    e.MandateNotRequested: 409,
    e.MandateNotAgreed: 409,
    e.MandatePaused: 409,
    e.MandateRevoked: 409,
    e.MandateNotStarted: 422,
    e.MandateEnded: 422,
    e.MandateAmountAboveMax: 422,
    e.MandateTooSoon: 422,
    e.MandateNoticeMissing: 422,
    e.MandateNoticeTooRecent: 422,
    e.MandateNoticeObjected: 409,
    e.MandateNoticeAmount: 422,
    e.MandateNoticeUsed: 409,
    e.MandateNoticeExpired: 422,
}
DATABASE_RETRY_AFTER_S = 1  # a failover takes seconds; a retry finds the new primary

# An error passed on from the framework keeps the status it came with; this when it has none.
HTTP_ERROR_DEFAULT = 400


def status_of(error: e.SaomaError) -> int:
    """The HTTP status of ``error``: the table's entry for its nearest listed class."""
    if isinstance(error, e.PassedOn):
        return error.http_status
    return _class_status(type(error))


def document(error: e.SaomaError, instance: str = "") -> dict[str, Any]:
    """The problem document: type, title, status, detail, then instance, field, extra members."""
    doc: dict[str, Any] = {
        "type": error.type,
        "title": error.title,
        "status": status_of(error),
        "detail": error.detail,
    }
    if instance:
        doc["instance"] = instance
    if error.field:
        doc["field"] = error.field
    doc.update(error.extra)
    return doc


def response(error: e.SaomaError, path: str) -> JSONResponse:
    """``error`` as ``application/problem+json``; the detail names the field at fault."""
    doc = document(error, instance=path.replace("\x00", ""))
    if error.field and error.field.lower() not in error.detail.lower():
        doc["detail"] = f"{error.field}: {error.detail}"
    answer = JSONResponse(doc, status_code=doc["status"], media_type=PROBLEM_JSON)
    if isinstance(error, e.DatabaseUnavailable):
        answer.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
    elif isinstance(error.extra.get("retry_after_s"), int):
        answer.headers["Retry-After"] = str(error.extra["retry_after_s"])
    return answer


def catalogue() -> list[dict[str, Any]]:
    """Every error class as the clients, the pages and the OpenAPI document read it.

    ``cause`` differs from ``slug`` where one slug covers several causes today: it is the
    precise slug the cause will answer with once clients are told.
    """
    rows = []
    for klass in e.catalogue:
        status = HTTP_ERROR_DEFAULT if issubclass(klass, e.PassedOn) else _class_status(klass)
        rows.append(
            {
                "name": klass.__name__,
                "slug": klass.slug,
                "cause": klass.cause,
                "title": klass.title,
                "status": status,
                "doc": klass.doc(),
                "type": e.TYPE_BASE + klass.slug,
            }
        )
    return rows


def _class_status(klass: type[e.SaomaError]) -> int:
    for base in klass.__mro__:
        status = STATUS.get(base)
        if status is not None:
            return status
    raise LookupError(f"{klass.__name__} has no HTTP status in saoma.api.problems.STATUS")


def describe(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the catalogue to an OpenAPI document: ``x-problem-types`` and a ``Problem`` schema.

    The ``Problem`` schema's ``type`` lists every type URI a response may carry.
    """
    rows = catalogue()
    openapi["x-problem-types"] = rows
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = {
        "title": "Problem",
        "type": "object",
        "description": "An RFC 9457 problem document; `type` is stable, see x-problem-types.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "enum": sorted({row["type"] for row in rows})},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "field": {"type": "string"},
        },
        "additionalProperties": True,
    }
    return openapi


_EXAMPLE = {
    "name": "InsufficientFunds",
    "slug": "insufficient-funds",
    "cause": "insufficient-funds",
    "title": "Insufficient funds",
    "status": 402,
    "doc": "The account that would pay does not hold enough money.",
    "type": e.TYPE_BASE + "insufficient-funds",
}


class ProblemType(BaseModel):
    """One entry of the catalogue of problem types."""

    model_config = example(_EXAMPLE)

    name: str
    slug: str
    cause: str
    title: str
    status: int
    doc: str
    type: str


class ProblemCatalogue(BaseModel):
    """Every problem type the API returns, with its HTTP status and when it is given."""

    model_config = example({"data": [_EXAMPLE]})

    data: list[ProblemType]


router = APIRouter()


@router.get(
    "/v1/problems",
    tags=["problems"],
    summary="Every problem type the API returns",
    response_model=ProblemCatalogue,
)
def problem_types() -> Response:
    return answer({"data": catalogue()})


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    """Answer every error raised in a route as a problem document, and serve the catalogue.

    The OpenAPI document, however it is assembled, gets the catalogue (see :func:`describe`).
    """
    app.include_router(router)
    assemble = app.openapi

    def openapi() -> dict[str, Any]:
        document = assemble()
        if "x-problem-types" not in document:
            describe(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(e.SaomaError)
    async def _refused(request: Request, exc: e.SaomaError) -> JSONResponse:
        return response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # A caller still to be looked up (a route that does so with its work) is refused first.
        caller_refusal = getattr(request.state, "caller_refusal", None)
        refused = await caller_refusal() if caller_refusal is not None else None
        if refused is not None:
            return response(refused, request.url.path)
        first = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "invalid request"}
        field = _field_of(tuple(first.get("loc", ())))
        detail = f"{field}: {first.get('msg', 'invalid')}"
        return response(e.InvalidRequest(detail, field=field), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return response(from_http(exc.status_code, str(exc.detail)), request.url.path)

    # The database's own errors are answered here, where the connection is kept; any other
    # error (and one raised outside the routes) by Starlette's last resort, then raised again.
    @app.exception_handler(DBAPIError)
    @app.exception_handler(psycopg.Error)
    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        if database_unavailable(exc):
            log.warning(
                "the database is unavailable on %s %s: %s", request.method, request.url.path, exc
            )
            return unavailable(request.url.path)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return response(internal_error(), request.url.path)


def from_http(status: int, detail: str) -> e.SaomaError:
    """The framework's own refusals (no route, wrong method, a body that is not JSON)."""
    if status == 400:  # the body is not JSON (not even UTF-8): a request to fix
        return e.InvalidRequest("body: not a JSON document in UTF-8", field="body")
    if status == 404:
        return e.NotFound(detail)
    if status == 405:
        return e.MethodNotAllowed(detail)
    if status == 413:
        return e.BodyTooLarge(detail)
    return e.HttpError(detail, http_status=status)


def unavailable(path: str) -> JSONResponse:
    """503 ``database-unavailable`` with ``Retry-After``: the caller retries with its key."""
    refused = e.DatabaseUnavailable(
        f"the database is unavailable for a moment: try again in {DATABASE_RETRY_AFTER_S} s"
        " (with the same Idempotency-Key, if the request had one)"
    )
    return response(refused, path)


def internal_error() -> e.InternalError:
    return e.InternalError("something went wrong on our side; nothing was lost")
