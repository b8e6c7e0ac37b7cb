"""One running Saoma: the database, the ledger and the services over them, started together."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from saoma.bank.connector import SandboxBank
from saoma.config import Settings, get_settings
from saoma.db import make_engine, migrate
from saoma.ledger import Ledger
from saoma.merchants.service import Merchants
from saoma.messaging.connector import SandboxMessenger
from saoma.p2p.service import People
from saoma.paycode.service import PaymentCodes
from saoma.payments.funding import Funding
from saoma.payments.reports import Reports
from saoma.payments.service import Payments
from saoma.promotions.service import Promotions
from saoma.wallets.identifiers import Identifiers
from saoma.wallets.service import Wallets
from saoma.webhooks.dispatcher import Dispatcher
from saoma.webhooks.live import LiveFeed

log = logging.getLogger(__name__)
MAINTENANCE_EVERY_S = 5.0


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
    bank: SandboxBank
    promotions: Promotions
    people: People
    paycodes: PaymentCodes
    reports: Reports
    messenger: SandboxMessenger
    identifiers: Identifiers
    demo: bool = False
    sandbox_messages_visible: bool = False  # GET /v1/sandbox/messages answers (demo mode)
    _stop: threading.Event = field(default_factory=threading.Event)
    _maintenance: threading.Thread | None = None

    @classmethod
    def open(
        cls, url: str | None = None, *, settings: Settings | None = None, migrate_first: bool = True
    ) -> Platform:
        settings = settings or get_settings()
        url = url or settings.resolved_database_url()
        if migrate_first:
            if url.startswith("sqlite:///"):
                from pathlib import Path

                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            migrate(url)
        engine = make_engine(url, pool_size=settings.pool_size)
        ledger = Ledger(engine, batch_max=min(settings.ledger_batch_max, 8190))
        wallets = Wallets(
            engine, ledger, currency_code=settings.currency, tz=ZoneInfo(settings.timezone)
        )
        merchants = Merchants(
            engine, ledger, currency_code=settings.currency, fee_ppm=settings.fee_ppm
        )
        dispatcher = Dispatcher(engine)
        live = LiveFeed(engine)

        def committed(_event_ids: list[str]) -> None:
            dispatcher.wake()
            live.wake()

        payments = Payments(engine, ledger, wallets, merchants, on_events=committed)
        promotions = Promotions(engine, payments)
        payments.promotions = promotions
        people = People(engine, payments, wallets)
        paycodes = PaymentCodes(
            engine, merchant_failures_max=settings.paycode_merchant_failures_max
        )
        payments.paycodes = paycodes
        funding = Funding(engine, payments)
        bank = SandboxBank(funding.settled, delay_s=settings.sandbox_bank_delay_s)
        funding.bank = bank
        messenger = SandboxMessenger(engine)  # no real SMS or mail connector yet
        identifiers = Identifiers(engine, messenger)

        def deliver(consumer_id: str, value: str) -> None:  # money waiting for a proven login
            people.claim_waiting(wallets.get(consumer_id), value)

        identifiers.on_verified = deliver
        payments.ensure_system_accounts()
        people.ensure_accounts()
        return cls(
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
            Reports(engine, ZoneInfo(settings.timezone)),
            messenger,
            identifiers,
            settings.demo,
            settings.demo or settings.sandbox_messages_visible,
        )

    def start(self) -> None:
        # What a process before this one sent the bank may have been answered to it as it died.
        try:
            self.funding.resend_pending(older_than_us=0)
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
                self.people.deliver_verified()  # first: what its owner proved is not returned
                self.people.return_unclaimed()
                self.people.settle_packets()
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
