"""What observing a request costs: the same FastAPI route called through ASGI (no network) bare
and behind the request-id, metrics and log layer (``saoma.api.observability.Observed``), in
rounds taking turns in this run, in µs of CPU per request.

    .venv/bin/python bench/metrics.py [--requests 20000] [--rounds 5]

Cases: ``bare`` (no layer), ``observed`` (id, histogram, payment counter), ``observed+json``
(and one JSON log line, written to /dev/null), ``refused`` (a 402 problem: its type is read
from the body and counted).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message

from saoma.api.observability import Observed
from saoma.observe import logs

PROBLEM = {"type": "https://saoma.dev/problems/insufficient-funds", "title": "x", "status": 402}


def inner() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/orders/{order_id}/pay")
    async def pay(order_id: str) -> Any:
        if order_id == "poor":
            return JSONResponse(PROBLEM, status_code=402, media_type="application/problem+json")
        return {"id": "pay_1", "order_id": order_id, "amount": 2500}

    return app


def scope_for(order_id: str) -> dict[str, Any]:
    path = f"/v1/orders/{order_id}/pay"
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-length", b"0")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def run(app: ASGIApp, order_id: str, requests: int) -> float:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Message) -> None:
        return None

    started = time.process_time()
    for _ in range(requests):
        await app(scope_for(order_id), receive, send)
    return (time.process_time() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logs.use_json(open(os.devnull, "w"))  # noqa: SIM115 - for the whole run
    app = inner()
    cases: dict[str, tuple[ASGIApp, str]] = {
        "bare": (app, "ord_1"),
        "observed": (Observed(app), "ord_1"),
        "observed+json": (Observed(app, json_lines=True), "ord_1"),
        "bare 402": (app, "poor"),
        "refused": (Observed(app), "poor"),
    }
    figures: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (target, order_id) in cases.items():
            figures[name].append(asyncio.run(run(target, order_id, args.requests)))
    print(f"{args.requests} requests x {args.rounds} rounds, median µs of CPU per request")
    base = {"observed": "bare", "observed+json": "bare", "refused": "bare 402"}
    for name, values in figures.items():
        median = statistics.median(values)
        extra = ""
        if name in base:
            extra = f"  (+{median - statistics.median(figures[base[name]]):.1f} µs)"
        print(f"  {name:<14} {median:8.1f}{extra}")


if __name__ == "__main__":
    main()
