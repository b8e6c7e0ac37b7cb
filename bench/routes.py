"""What matching a request to its route costs, per payment request, in Saoma's own route table.

Starlette and FastAPI try the routes one by one, in the order they were added, at a few
microseconds each. Saoma adds the payments' own routes first (``saoma.api.app``); the baseline,
in the same run, is the same table with each of them at the head of its own module's router
instead (the most favourable place they could have held inside it, so the gain shown is a lower
bound). Builds the app over a scratch SQLite database (nothing is served) and times
``--rounds`` matches of each request.

    .venv/bin/python bench/routes.py [--rounds 5000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.routing import Match

from saoma.api import consumer_routes, merchant_routes, paycode_routes
from saoma.api.app import create_app
from saoma.bootstrap import build
from saoma.config import get_settings
from saoma.db import migrate

REQUESTS = (
    ("POST", "/v1/orders", "a merchant's order"),
    ("POST", "/v1/orders/ord_1/pay", "its payment"),
    ("POST", "/v1/charges", "a payment code's charge"),
    ("GET", "/v1/merchant", "not a payment: the merchant's profile"),
)


def per_match_us(routes: list[Any], scope: dict[str, Any], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for route in routes:
            if route.matches(scope)[0] == Match.FULL:
                break
    return (time.perf_counter() - start) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5000)
    args = parser.parse_args()
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='saoma-routes-')) / 'routes.db'}"
    migrate(url)
    app = create_app(build(get_settings().model_copy(update={"database_url": url})), start=False)
    ours = list(app.router.routes)
    modules = (merchant_routes, consumer_routes, paycode_routes)
    entry = {id(getattr(r, "original_router", None)): r for r in ours}
    firsts = {id(m.first) for m in modules}
    head_of_own = {id(m.router): entry[id(m.first)] for m in modules}
    baseline: list[Any] = []
    for route in ours:
        key = id(getattr(route, "original_router", None))
        if key in firsts:
            continue
        if key in head_of_own:
            baseline.append(head_of_own[key])
        baseline.append(route)
    print(f"{len(ours)} entries at the top of the route table, {args.rounds} matches each\n")
    print("| request | payments' routes first: µs | baseline (in their routers): µs |")
    print("| --- | ---: | ---: |")
    for method, path, what in REQUESTS:
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        scope |= {"headers": [], "query_string": b""}
        first_us = per_match_us(ours, scope, args.rounds)
        last_us = per_match_us(baseline, scope, args.rounds)
        print(f"| {method} {path} ({what}) | {first_us:.1f} | {last_us:.1f} |")


if __name__ == "__main__":
    main()
