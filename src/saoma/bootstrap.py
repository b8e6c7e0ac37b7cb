"""One running Saoma: ``build`` wires the services over one database; ``Platform`` runs them.

The order of ``build`` is the order of the packages: the database and the ledger, then wallets
and merchants, then what moves money between them (payments, promotions, people, payment codes,
funding), then what tells the world (the webhook dispatcher, the live feed). The HTTP API and the
pages sit on top: they take a built ``Platform`` (``saoma.server.create_app``) and nothing here
imports them. The bank and the messenger are the two adapters to the outside: a test or an
installation passes its own, and the sandboxes stand in otherwise.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from saoma.audit.log import Audit
from saoma.config import Settings, get_settings
from saoma.db import make_engine, migrate
from saoma.disputes.service import Disputes
from saoma.freezes.service import Freezes
from saoma.funding.bank import BankConnector, BankOutcome, SandboxBank
from saoma.funding.service import Funding
from saoma.kyc.crypto import Sealer
from saoma.kyc.service import Onboarding
from saoma.ledger import Ledger
from saoma.mandates.service import Mandates
from saoma.merchants.service import Merchants
from saoma.messaging.connector import SandboxMessenger
from saoma.operators.people import Lookup
from saoma.operators.service import Operators
from saoma.p2p.service import People
from saoma.paycode.service import PaymentCodes
from saoma.payments.reports import Reports
from saoma.payments.service import Payments
from saoma.promotions.service import Promotions
from saoma.replicas import Replicas
from saoma.settlement.desk import SettlementDesk
from saoma.settlement.service import Policy
from saoma.settlement.splits import Splits
from saoma.wallets.identifiers import Identifiers
from saoma.wallets.pinkeys import PinKeys
from saoma.wallets.service import Wallets
from saoma.wallets.tables import consumers
from saoma.webhooks.dispatcher import Dispatcher
from saoma.webhooks.live import LiveFeed

log = logging.getLogger(__name__)
MAINTENANCE_EVERY_S = 5.0
LEDGER_BATCH_MAX = 8190  # the most the ledger's store takes in one group commit
LEDGER_DIRECT_POOL = 4  # the ledger's direct connections behind a pooler (and as many overflow)
REPLICA_POOL = 4  # connections to the standby for reading work (and as many overflow)


@dataclass
class Platform:
    engine: Engine
    ledger: Ledger
    wallets: Wallets
    merchants: Merchants
    payments: Payments
    funding: Funding
    dispatcher: Dispatcher
    live: LiveFeed
    bank: BankConnector
    promotions: Promotions
    people: People
    paycodes: PaymentCodes
    reports: Reports
    messenger: SandboxMessenger
    identifiers: Identifiers
    settlement: SettlementDesk
    splits: Splits
    operators: Operators
    lookup: Lookup
    audit: Audit
    disputes: Disputes
    freezes: Freezes
    kyc: Onboarding
    mandates: Mandates
    demo: bool = False
    sandbox_messages_visible: bool = False  # GET /v1/sandbox/messages answers (demo mode)
    max_in_flight: int = 64  # API requests held at once; beyond, 503 (api.admission)
    working_max: int = 16  # API requests worked on at once; the others wait their turn
    queue_wait_ms: int = 250  # a request not started within this is answered 503
    stream_session_check_s: float = 15.0  # a live stream's session is looked at this often
    _stop: threading.Event = field(default_factory=threading.Event)
    _maintenance: threading.Thread | None = None

    @classmethod
    def open(
        cls, url: str | None = None, *, settings: Settings | None = None, migrate_first: bool = True
    ) -> Platform:
        """The platform over ``url`` (default: the settings' database), migrated first."""
        settings = settings or get_settings()
        if url is not None:
            settings = settings.model_copy(update={"database_url": url})
        if migrate_first:
            # Behind a pooler, the schema changes on a connection of their own.
            resolved = settings.resolved_direct_url() or settings.resolved_database_url()
            if resolved.startswith("sqlite:///"):
                Path(resolved.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            migrate(resolved)
        return build(settings)

    def start(self) -> None:
        # What a process before this one sent the bank may have been answered to it as it died.
        try:
            self.funding.resend_pending(older_than_us=0)
            self.settlement.start()
        except Exception:
            log.exception("sending pending bank instructions again failed")
        self.dispatcher.start()
        self.live.start()
        self._maintenance = threading.Thread(target=self._maintain, name="maintenance", daemon=True)
        self._maintenance.start()

    def _maintain(self) -> None:
        from saoma.payments import idempotency

        while not self._stop.wait(MAINTENANCE_EVERY_S):
            try:
                self.ledger.expire_due()
                self.payments.expire_holds()
                self.funding.time_out_stale()  # first: what is given up is not sent again
                self.funding.resend_pending()
                idempotency.purge(self.engine)
                self.merchants.purge_nonces()
                self.wallets.sign_ins.forget_old()  # consumers' and merchants' alike
                self.people.deliver_verified()  # first: what its owner proved is not returned
                self.people.return_unclaimed()
                self.people.settle_packets()
                self.promotions.campaigns.return_ended_budgets()
                self.settlement.maintain()
                self.disputes.escalate_due()  # unanswered in time: support decides
                self.audit.record_head()  # the head, copied outside the database when it moved
            except Exception:
                log.exception("maintenance failed")

    def close(self) -> None:
        self._stop.set()
        if self._maintenance is not None:
            self._maintenance.join(timeout=10)
        self.bank.close()
        self.dispatcher.close()
        self.live.close()
        self.ledger.close()
        self.engine.dispose()
        if self.ledger.engine is not self.engine:
            self.ledger.engine.dispose()


def _settlement_desk(
    settings: Settings, engine: Engine, merchants: Merchants, payments: Payments, tz: ZoneInfo
) -> tuple[SettlementDesk, Splits]:
    policy = Policy(
        instant_max=settings.instant_payout_max,
        instant_fee_ppm=settings.instant_payout_fee_ppm,
        default_overdraft=settings.merchant_overdraft,
    )
    desk = SettlementDesk(
        engine, merchants, payments.movements, currency=settings.currency, tz=tz, policy=policy
    )
    desk.reconcile_daily = settings.reconcile_daily
    splits = Splits(engine, payments, merchants)
    desk.before_run = splits.apply_standing  # a day's standing splits are in its settlement
    return desk, splits


def _connect_bank(
    settings: Settings,
    bank: BankConnector | None,
    funding: Funding,
    settlement: SettlementDesk,
) -> BankConnector:
    """One bank for top-ups and withdrawals, payouts and account checks; its answers go to the
    service that sent the instruction."""

    def answered(outcome: BankOutcome) -> None:
        if settlement.answers(outcome.instruction_id):
            settlement.answered(outcome)
        else:
            funding.settled(outcome)

    if bank is None:
        bank = SandboxBank(answered, delay_s=settings.sandbox_bank_delay_s)
    # The sandbox bank answers through the services, so they exist first: removed once
    # Funding(..., bank=) takes the connector and the sandbox is given the callback after.
    funding.bank = bank
    settlement.connect(bank)
    return bank


def _operations(
    settings: Settings, engine: Engine, payments: Payments, replicas: Replicas
) -> dict[str, Any]:
    """The services that run the installation: operators, and what they act on (the fields of
    ``Platform`` after ``splits``)."""
    kyc = Onboarding(
        engine,
        payments.ctx.merchants,
        payments.movements,
        Sealer(settings.resolved_kyc_key_file()),
        pending_daily_limit=settings.kyc_pending_daily_limit,
        tz=ZoneInfo(settings.timezone),
    )
    # Every payment into a merchant takes from its limit until its details are approved.
    payments.ctx.admit = kyc.take_in
    head_file = settings.audit_head_file or settings.data_dir / "audit-head.log"
    return {
        "kyc": kyc,
        "operators": Operators(
            engine,
            session_s=settings.ops_session_s,
            key_file=settings.ops_key_file or settings.data_dir / "ops.key",
        ),
        "lookup": Lookup(engine, payments, replicas),
        "audit": Audit(engine, head_file),
        "disputes": Disputes(engine, payments, answer_s=settings.dispute_answer_s),
        "freezes": Freezes(
            engine, payments.ctx.movements, payments.ctx.wallets, payments.ctx.merchants
        ),
        "mandates": Mandates(engine, payments, tz=ZoneInfo(settings.timezone)),
    }


def _identifiers(
    engine: Engine, messenger: SandboxMessenger, wallets: Wallets, people: People
) -> Identifiers:
    identifiers = Identifiers(engine, messenger)

    def deliver(consumer_id: str, value: str) -> None:  # money waiting for a proven login
        people.claim_waiting(wallets.get(consumer_id), value)

    # Wallets sit below p2p, so a verified login reaches the waiting money through a callback:
    # removed once Identifiers(..., on_verified=) takes it (or emits an event p2p listens to).
    identifiers.on_verified = deliver
    return identifiers


def _engines(settings: Settings) -> tuple[Engine, Engine, Replicas]:
    """The engine of every service, the ledger's, and the readers of reading work.

    The ledger's is the same engine, unless the database is reached through a pooler in
    transaction mode (``SAOMA_DATABASE_DIRECT_URL`` set). Then the ledger keeps connections of its
    own to PostgreSQL: its pipelined connection holds prepared statements (docs/processes.md,
    "Behind PgBouncer"). Reading work goes to the standby of ``SAOMA_DATABASE_REPLICA_URL`` when
    one is set (``saoma.replicas``).
    """
    direct = settings.resolved_direct_url()
    engine = make_engine(
        settings.resolved_database_url(), pool_size=settings.pool_size, pooled=bool(direct)
    )
    ledger_engine = make_engine(direct, pool_size=LEDGER_DIRECT_POOL) if direct else engine
    standby_url = settings.resolved_replica_url()
    standby = make_engine(standby_url, pool_size=REPLICA_POOL) if standby_url else None
    return engine, ledger_engine, Replicas(engine, standby, lag_max_s=settings.replica_lag_max_s)


def _people_and_shops(
    settings: Settings, engine: Engine, ledger: Ledger, tz: ZoneInfo
) -> tuple[Wallets, Merchants]:
    """Wallets and shops, their PINs sealed under one key, wrong passwords limited alike."""
    pins = PinKeys(settings.resolved_pin_key_file())
    wallets = Wallets(engine, ledger, currency_code=settings.currency, tz=tz, pins=pins)
    merchants = Merchants(
        engine, ledger, currency_code=settings.currency, fee_ppm=settings.fee_ppm, pins=pins
    )
    for service in (wallets, merchants):
        service.sign_ins.per_address = settings.sign_in_address_failures_max
    return wallets, merchants


def _paycodes(settings: Settings, engine: Engine) -> PaymentCodes:
    """Payment codes, a charge's payer read with the code's claim."""
    failures_max = settings.paycode_merchant_failures_max
    return PaymentCodes(engine, merchant_failures_max=failures_max, payer=consumers)


def build(
    settings: Settings,
    *,
    bank: BankConnector | None = None,
    messenger: SandboxMessenger | None = None,
) -> Platform:
    """Every service over the settings' (already migrated) database, wired in package order.

    ``bank`` defaults to the sandbox bank answering after ``settings.sandbox_bank_delay_s``;
    ``messenger`` to the sandbox messenger, which writes each message to the database.
    """
    tz = ZoneInfo(settings.timezone)
    engine, ledger_engine, replicas = _engines(settings)
    ledger = Ledger(ledger_engine, batch_max=min(settings.ledger_batch_max, LEDGER_BATCH_MAX))
    wallets, merchants = _people_and_shops(settings, engine, ledger, tz)
    dispatcher = Dispatcher(engine)
    live = LiveFeed(engine)

    def committed(_event_ids: list[str]) -> None:
        dispatcher.wake()
        live.wake()

    payments = Payments(engine, ledger, wallets, merchants, on_events=committed)
    promotions = Promotions(engine, payments)
    # Payments prices an order with the campaigns, and Promotions moves money through Payments:
    # removed once Payments takes its offers through its constructor (or promotions stops
    # calling Payments and uses Movements directly).
    payments.promotions = promotions
    people = People(engine, payments, wallets)
    paycodes = _paycodes(settings, engine)
    # Payments charges payment codes: removed once Payments(..., paycodes=) takes them.
    payments.paycodes = paycodes
    funding = Funding(engine, payments)
    settlement, splits = _settlement_desk(settings, engine, merchants, payments, tz)

    bank = _connect_bank(settings, bank, funding, settlement)
    messenger = messenger or SandboxMessenger(engine)  # no real SMS or mail connector yet
    identifiers = _identifiers(engine, messenger, wallets, people)
    payments.ensure_system_accounts()
    settlement.ensure_accounts()
    people.ensure_accounts()
    return Platform(
        engine,
        ledger,
        wallets,
        merchants,
        payments,
        funding,
        dispatcher,
        live,
        bank,
        promotions,
        people,
        paycodes,
        Reports(replicas, tz),
        messenger,
        identifiers,
        settlement,
        splits,
        **_operations(settings, engine, payments, replicas),
        demo=settings.demo,
        sandbox_messages_visible=settings.demo or settings.sandbox_messages_visible,
        max_in_flight=settings.max_in_flight,
        working_max=settings.working_max,
        queue_wait_ms=settings.queue_wait_ms,
        stream_session_check_s=settings.stream_session_check_s,
    )
