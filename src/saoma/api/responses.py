"""The error responses each route documents in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from saoma.api.schemas import ProblemDoc

_MEANING = {
    400: "Bad request",
    401: "Not signed in, wrong signature, wrong PIN or wrong password",
    402: "Insufficient funds",
    403: "Not allowed",
    404: "No such object (or not yours)",
    409: "Conflict with the object's state, or the same Idempotency-Key still running",
    410: "Gone",
    413: "Body too large",
    422: "Invalid request: the `field` member names what is wrong",
    423: "PIN locked after too many wrong tries",
    429: "Too many tries",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "model": ProblemDoc,
            "description": _MEANING[status],
            "content": {"application/problem+json": {}},
        }
        for status in statuses
    }
