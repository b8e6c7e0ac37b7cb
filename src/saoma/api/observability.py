"""Seeing a server run: the request id, metrics and log line of every request; ``/metrics`` and
``/readyz``.

:class:`Observed` is the outermost layer (plain ASGI, for speed). It takes a sane incoming
``X-Request-Id`` or makes one, sets it for the code the request runs (:mod:`saoma.core.requests
<saoma.core.request_ids>`: the outbox events and bank instructions it writes keep it) and answers
it in the response's ``X-Request-Id``; once answered, it records the time taken under the route's
template (never the raw path), a problem by its type, and, with
``SAOMA_LOG_FORMAT=json``, writes one log line. See docs/operations.md for every metric.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saoma.api import problems
from saoma.bootstrap import Platform
from saoma.core import request_ids
from saoma.core.errors import TYPE_BASE, NotReady, Unauthenticated, by_slug
from saoma.db import alembic_config, read
from saoma.observe import logs, metrics
from saoma.webhooks.dispatcher import GAVE_UP_US

UNMATCHED = "unmatched"  # the route label of every path no route serves
PROBLEM_BODY_MAX = 8192
PROBLEM_JSON = problems.PROBLEM_JSON.encode()
SAMPLE_EVERY_S = 5.0  # multiprocess mode: how often a process publishes its pool and ledger


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def route_of(scope: Scope) -> str:
    """The template of the route that served ``scope`` (``/v1/orders/{order_id}/pay``), or
    :data:`UNMATCHED`: a label for each route, never one per path."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def problem_slug(body: bytes) -> str:
    """The slug of a problem document's ``type``; ``other`` for one not in Saoma's catalogue."""
    try:
        kind = json.loads(body).get("type", "")
    except (ValueError, AttributeError):
        return "other"
    slug = kind.removeprefix(TYPE_BASE) if isinstance(kind, str) else ""
    return slug if slug in by_slug else "other"


class _Answer:
    """What :class:`Observed` learns from a response as it is sent."""

    __slots__ = ("problem", "status")

    def __init__(self) -> None:
        self.status = 500  # nothing sent: the server gave up on it
        self.problem: bytearray | None = None  # the body of a problem document


class Observed:
    """Request id, metrics and log line of every HTTP request (plain ASGI, outermost)."""

    def __init__(self, app: ASGIApp, *, json_lines: bool = False) -> None:
        self.app = app
        self.json_lines = json_lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        info = request_ids.RequestInfo(request_ids.accept(_header(scope, b"x-request-id")))
        echoed = (b"x-request-id", info.id.encode("ascii"))
        answer = _Answer()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                headers = list(message.get("headers", ()))
                for key, value in headers:
                    if key == b"content-type" and value.startswith(PROBLEM_JSON):
                        answer.problem = bytearray()
                headers.append(echoed)
                message["headers"] = headers
            elif answer.problem is not None and len(answer.problem) < PROBLEM_BODY_MAX:
                answer.problem += message.get("body", b"")
            await send(message)

        token = request_ids.CURRENT.set(info)
        try:
            await self.app(scope, receive, sending)
        finally:
            request_ids.CURRENT.reset(token)
            self._record(scope, answer, info, time.perf_counter() - started)

    def _record(
        self, scope: Scope, answer: _Answer, info: request_ids.RequestInfo, seconds: float
    ) -> None:
        route, method, status = route_of(scope), scope["method"], answer.status
        metrics.observe_request(route, method, status, seconds)
        if answer.problem is not None:
            metrics.problem(problem_slug(bytes(answer.problem)))
        if self.json_lines:
            fields: dict[str, object] = {
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "request_id": info.id,
            }
            if info.merchant_id is not None:
                fields["merchant_id"] = info.merchant_id
            if info.consumer_id is not None:
                fields["consumer_id"] = info.consumer_id
            logs.request_line(fields)


class Backlogs(Collector):
    """Read at each scrape, one cheap query each: webhook events not delivered yet, and bank
    instructions the bank has not answered. ``saoma_database_up`` is 0 when they failed."""

    def __init__(self, platform: Platform) -> None:
        self.engine = platform.engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("saoma_database_up", "1 when the scrape's queries answered.")
        try:
            backlog, pending = self._read()
        except Exception:
            logs.REQUESTS.warning("the metrics' database queries failed", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        events = GaugeMetricFamily(
            "saoma_webhook_backlog_events",
            "Webhook events not delivered: pending (being retried) or failed (given up).",
            labels=["state"],
        )
        for state in ("pending", "failed"):
            events.add_metric([state], backlog.get(state, 0))
        yield events
        bank = GaugeMetricFamily(
            "saoma_bank_instructions_pending",
            "Bank instructions sent and not answered yet, by kind.",
            labels=["kind"],
        )
        for kind in ("topup", "withdraw", "payout"):
            bank.add_metric([kind], pending.get(kind, 0))
        yield bank

    def _read(self) -> tuple[dict[str, int], dict[str, int]]:
        with read(self.engine) as conn:
            backlog = conn.execute(
                text(
                    "SELECT CASE WHEN next_attempt_at_us >= :gave_up THEN 'failed'"
                    " ELSE 'pending' END AS state, count(*) FROM outbox_due GROUP BY 1"
                ),
                {"gave_up": GAVE_UP_US},
            ).all()
            pending = conn.execute(
                text(
                    "SELECT direction, count(*) FROM bank_transfers WHERE state = 'pending'"
                    " GROUP BY direction"
                    " UNION ALL SELECT 'payout', count(*) FROM payouts WHERE state = 'pending'"
                )
            ).all()
        return {r[0]: int(r[1]) for r in backlog}, {r[0]: int(r[1]) for r in pending}


class Sampler:
    """This process's connection pool and ledger counters, copied into the metrics: at each
    scrape, and in multiprocess mode every few seconds too (a scrape reaches one process)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._lock = threading.Lock()
        self._seen = (0, 0, 0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        pool: Any = self.platform.engine.pool
        committer = self.platform.ledger.committer
        with self._lock:
            if hasattr(pool, "checkedout"):
                metrics.POOL_CHECKED_OUT.set(pool.checkedout())
                metrics.POOL_SIZE.set(pool.size())
            now = (committer.batches, committer.transfers, committer.pipelined_again)
            for counter, before, after in zip(
                (metrics.LEDGER_BATCHES, metrics.LEDGER_TRANSFERS, metrics.LEDGER_AGAIN),
                self._seen,
                now,
                strict=True,
            ):
                if after > before:
                    counter.inc(after - before)
            self._seen = now

    def start(self) -> None:
        if metrics.MULTIPROCESS and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="metrics", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.sample()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        metrics.process_gone()


class Readiness:
    """Whether this server can serve: its database answers and is at the revision this code
    expects (found once, from the migrations it ships)."""

    def __init__(self, platform: Platform) -> None:
        self.engine = platform.engine
        self._head: str | None = None

    def head(self) -> str:
        if self._head is None:
            from alembic.script import ScriptDirectory

            url = self.engine.url.render_as_string(hide_password=False)
            self._head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        return self._head or ""

    def problem(self) -> NotReady | None:
        expected = self.head()
        try:
            with read(self.engine) as conn:
                found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
                revisions = sorted(str(r) for r in found)
        except Exception as exc:
            logs.REQUESTS.warning("the readiness check's query failed", exc_info=True)
            return NotReady(f"the database does not answer ({type(exc).__name__})")
        if revisions != [expected]:
            at = ", ".join(revisions) or "none"
            return NotReady(
                f"the database is at revision {at}; this code expects {expected}:"
                " run `saoma db migrate`",
                revision=at,
                expected=expected,
            )
        return None


def _token_problem(request: Request, token: str) -> Unauthenticated | None:
    if not token:
        return None
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return None
    return Unauthenticated("send Authorization: Bearer <SAOMA_METRICS_TOKEN>")


def install(app: FastAPI, platform: Platform, *, json_lines: bool, token: str) -> Sampler:
    """Add ``/metrics`` and ``/readyz`` (neither in the OpenAPI document) and the outermost
    :class:`Observed` layer; the sampler returned is started and closed with the app."""
    sampler = Sampler(platform)
    readiness = Readiness(platform)
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(Backlogs(platform))
    if json_lines:
        logs.use_json()
        _note_callers(platform)

    @app.get("/metrics", include_in_schema=False)
    def metrics_route(request: Request) -> Response:
        refused = _token_problem(request, token)
        if refused is not None:
            return problems.response(refused, request.url.path)
        sampler.sample()
        body = metrics.exposition(metrics.process_registry(), scraped)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> Response:
        problem = readiness.problem()
        if problem is not None:
            return problems.response(problem, request.url.path)
        return Response(b'{"status":"ready"}', media_type="application/json")

    app.add_middleware(Observed, json_lines=json_lines)
    return sampler


def _note_callers(platform: Platform) -> None:
    """Have the services that authenticate a request note who sent it, for its log line.

    The API's dependencies call these three to know the caller; each is wrapped once, so that
    the merchant's or consumer's id reaches :class:`Observed` through the request's context. (A
    payer found by the statement that also claims an Idempotency-Key is noted by
    ``deps.consumer_later`` itself.)
    """
    wallets, merchants = platform.wallets, platform.merchants
    if getattr(wallets.for_token, "notes_caller", False):
        return
    consumer_for_token, merchant_for_token = wallets.for_token, merchants.for_token
    authenticate = merchants.authenticate

    def consumer_of(token: str) -> Any:
        found = consumer_for_token(token)
        if found is not None:
            request_ids.caller_known(consumer_id=found.id)
        return found

    def merchant_of(token: str) -> Any:
        found = merchant_for_token(token)
        if found is not None:
            request_ids.caller_known(merchant_id=found.id)
        return found

    def signed_by(*args: Any) -> Any:
        found = authenticate(*args)
        request_ids.caller_known(merchant_id=found.id)
        return found

    consumer_of.notes_caller = True  # type: ignore[attr-defined]
    wallets.for_token = consumer_of  # type: ignore[method-assign]
    merchants.for_token = merchant_of  # type: ignore[method-assign]
    merchants.authenticate = signed_by  # type: ignore[method-assign,assignment]
