"""One JSON line per request, for log collectors (``SAOMA_LOG_FORMAT=json``).

A line holds what an operator needs to follow a request and nothing personal: the time, the
method, the route's template (never the path, which can hold ids of people's things), the status,
the duration, the request id and the merchant's or consumer's id once known. Never a name, a
phone number, a PIN, a token or a body.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO

REQUESTS = logging.getLogger("saoma.requests")


def _stamp(at: float, _cache: list[object] = [0, ""]) -> str:  # noqa: B006 - a per-second cache
    second = int(at)
    if _cache[0] != second:
        _cache[0] = second
        _cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{_cache[1]}.{int((at - second) * 1000):03d}Z"


class JsonLines(logging.Formatter):
    """Any log record as one JSON object: ``time``, ``level``, ``logger``, ``message`` and the
    record's ``fields`` (a dict passed as ``extra={"fields": {...}}``)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": _stamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, separators=(",", ":"), ensure_ascii=False)


def use_json(stream: TextIO | None = None) -> None:
    """Every record as a JSON line on ``stream`` (standard error), and one line per request."""
    global _requests_to
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    REQUESTS.setLevel(logging.INFO)
    _requests_to = stream


_requests_to: TextIO | None = None  # where use_json sent the lines


def request_line(fields: dict[str, object]) -> None:
    """One request's line, as :class:`JsonLines` writes a record, written straight to the stream
    :func:`use_json` chose: a logging record per request cost more than the rest of this layer."""
    if _requests_to is None:
        REQUESTS.info("request", extra={"fields": fields})
        return
    head = {"time": _stamp(time.time()), "level": "info", "logger": REQUESTS.name}
    line = json.dumps(head | {"message": "request"} | fields, separators=(",", ":"))
    _requests_to.write(line + "\n")
    _requests_to.flush()
