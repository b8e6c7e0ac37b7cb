"""Saoma's metrics, served in Prometheus's text format (prometheus-client).

One process keeps its metrics in memory and ``/metrics`` reads them. When several processes
serve one port, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder, the same for all of them,
before they start: prometheus-client then keeps each process's values in files there (it reads
the variable when first imported) and ``/metrics``, whichever process answers it, adds up every
process's. Counters and histograms add up; the pool gauges are summed over the live processes.

Recording is cheap by design: a labelled child is looked up once and kept (:func:`observe_request`
is a dict lookup and one histogram observation).
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
US = 1_000_000

REQUEST_SECONDS = Histogram(
    "saoma_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status class.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PAYMENTS = Counter(
    "saoma_payments_succeeded",
    "Payments and transfers that succeeded (committed), by flow.",
    ["flow"],
)
# The events that report a payment made, and the flow each is counted under; a payment's own
# kind (order, static, paycode) is its flow.
FLOW_OF_EVENT = {
    "mandate.debited": "mandate",
    "hold.captured": "capture",
    "transfer.sent": "transfer",
    "red_packet.claimed": "red_packet",
}
# saoma.payments.queries.PAYMENT_KINDS, which this module cannot import (payments imports it).
PAYMENT_KINDS = frozenset({"order", "static", "paycode", "capture", "mandate"})
PROBLEMS = Counter(
    "saoma_problems",
    "Problem responses (refusals and errors), by their problem type's slug.",
    ["type"],
)
WEBHOOK_LAG = Histogram(
    "saoma_webhook_lag_seconds",
    "Seconds from an event written to its webhook delivered (retries included).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 86400.0),
)
LEDGER_COMMIT_SECONDS = Histogram(
    "saoma_ledger_commit_seconds",
    "Seconds a money movement waits for the ledger's group commit (queueing included).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
LEDGER_BATCHES = Counter("saoma_ledger_batches", "Group commits made by the ledger.")
LEDGER_TRANSFERS = Counter(
    "saoma_ledger_transfers", "Transfers committed by the ledger (÷ batches: the batch size)."
)
LEDGER_AGAIN = Counter(
    "saoma_ledger_batches_again",
    "Pipelined batches that did not commit and went again, reading under lock.",
)
POOL_CHECKED_OUT = Gauge(
    "saoma_db_pool_checked_out",
    "Database connections in use (summed over the serving processes).",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "saoma_db_pool_size",
    "Database connections kept open per pool, without overflow (summed over the processes).",
    multiprocess_mode="livesum",
)
REPLICA_READS = Counter(
    "saoma_replica_reads",
    "Readings for reports, statements and search with a standby set: where each was read"
    " (replica, or primary with the reason the standby was passed over).",
    ["source", "reason"],
)

_requests: dict[tuple[str, str, str], Any] = {}
_payments: dict[str, Any] = {}
_problems: dict[str, Any] = {}
_STATUS_CLASS = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    key = (route, method, _STATUS_CLASS.get(status // 100, "other"))
    child = _requests.get(key)
    if child is None:
        child = _requests.setdefault(key, REQUEST_SECONDS.labels(*key))
    child.observe(seconds)


def flow_of(event_type: str, data: Any) -> str | None:
    """The flow of the payment an event reports, or None when it reports none."""
    if event_type == "payment.succeeded":
        kind = data.get("kind") if isinstance(data, dict) else None
        return kind if kind in PAYMENT_KINDS else "other"
    return FLOW_OF_EVENT.get(event_type)


def payment_succeeded(flow: str) -> None:
    child = _payments.get(flow)
    if child is None:
        child = _payments.setdefault(flow, PAYMENTS.labels(flow))
    child.inc()


def problem(slug: str) -> None:
    child = _problems.get(slug)
    if child is None:
        child = _problems.setdefault(slug, PROBLEMS.labels(slug))
    child.inc()


def webhook_delivered(created_at_us: int, delivered_at_us: int) -> None:
    WEBHOOK_LAG.observe(max(0, delivered_at_us - created_at_us) / US)


def replica_read(source: str, reason: str) -> None:
    REPLICA_READS.labels(source, reason).inc()


def ledger_waited(seconds: float) -> None:
    LEDGER_COMMIT_SECONDS.observe(seconds)


def process_registry() -> CollectorRegistry:
    """The metrics recorded above: this process's, or every process's in multiprocess mode."""
    if not MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def exposition(*registries: CollectorRegistry) -> bytes:
    """The registries' metrics in the text format, one after the other."""
    return b"".join(generate_latest(registry) for registry in registries)


def process_gone() -> None:
    """In multiprocess mode, drop this process's live gauges (its counters stay counted)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
