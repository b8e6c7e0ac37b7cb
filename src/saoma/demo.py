"""A small Shenzhen world for ``saoma demo``: merchants, consumers with balances and some history.

Seeding is idempotent: running it again finds everyone already there and changes nothing.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from sqlalchemy import select

from saoma.bootstrap import Platform
from saoma.core.errors import CODE_HELD_BACK, NothingToSettle, SaomaError
from saoma.funding.bank import BankOutcome
from saoma.kyc.service import approve_directly
from saoma.merchants.service import Merchant
from saoma.operators import tables as operator_tables
from saoma.operators import totp
from saoma.operators.roles import ROLES

# Published on the demo start page: anyone may sign in to the demo world.
DEMO_PASSWORD = "saoma-demo-2026"  # noqa: S105  # nosec B105
DEMO_PIN = "123456"


@dataclass(frozen=True)
class DemoMerchant:
    login: str
    name: str
    name_zh: str
    category_code: str
    note: str


MERCHANTS = (
    DemoMerchant(
        "stall@huaqiangbei.demo",
        "HQB Phone Parts",
        "华强北手机配件",
        "5732",
        "an electronics stall in Huaqiangbei",
    ),
    DemoMerchant(
        "noodles@futian.demo", "Old Chen Noodles", "老陈面馆", "5814", "a noodle restaurant"
    ),
    DemoMerchant("grocery@nanshan.demo", "Nanshan Fresh Mart", "南山生鲜超市", "5411", "a grocery"),
    DemoMerchant(
        "busker@dongmen.demo",
        "Dongmen Busker A-Jie",
        "东门街头艺人阿杰",
        "7929",
        "a street busker with only a static code",
    ),
    DemoMerchant(
        "bikes@shekou.demo",
        "Shekou Bikes",
        "蛇口共享单车",
        "4121",
        "a shared-bike operator using holds",
    ),
    DemoMerchant(
        "court@futian.demo",
        "Futian Food Court",
        "福田美食广场",
        "5812",
        "a food court taking 8% of each stall's takings",
    ),
    DemoMerchant(
        "dumplings@futian.demo",
        "Auntie Wu Dumplings",
        "吴阿姨饺子",
        "5814",
        "a dumpling stall in the food court",
    ),
    DemoMerchant(
        "market@huaqiangbei.demo",
        "Huaqiangbei Market",
        "华强北市场",
        "5399",
        "a marketplace taking 5% (at most ¥20) from its sub-merchants",
    ),
    DemoMerchant(
        "robots@nanshan.demo",
        "Nanshan Robot Kitchen",
        "南山机器人餐厅",
        "5812",
        "a robot restaurant taking orders at the table through a mini-program",
    ),
    DemoMerchant(
        "passes@transit.demo",
        "Shenzhen Transit Pass",
        "深圳交通月票",
        "4111",
        "monthly transit passes paid under a mandate",
    ),
)
# Standing shares between demo merchants: (giver, receiver, share in ppm, cap in fen).
SHARES = (
    ("noodles@futian.demo", "court@futian.demo", 80_000, 0),
    ("dumplings@futian.demo", "court@futian.demo", 80_000, 0),
    ("stall@huaqiangbei.demo", "market@huaqiangbei.demo", 50_000, 2_000),
)

CONSUMERS = (
    ("+8613800000001", "Li Wei 李伟", 50_000),
    ("+8613800000002", "Zhang Min 张敏", 20_000),
    ("mei@example.demo", "Chen Mei 陈美", 8_000),
)


def prove(platform: Platform, consumer_id: str, login: str) -> None:
    """Verify a demo consumer's login the way a person does: the code from the sandbox outbox."""
    claims = platform.identifiers.of(consumer_id)
    if any(i["identifier"] == login and i["verified"] for i in claims):
        return
    try:
        platform.identifiers.send_code(consumer_id, login)
    except SaomaError as exc:
        if not isinstance(exc, CODE_HELD_BACK):  # a code sent within the minute is still good
            raise
    (message,) = platform.messenger.recent(to=login, limit=1)
    found = re.search(r"\b(\d{6})\b", message.body)
    if found is None:  # pragma: no cover - the sandbox writes every code into its text
        raise RuntimeError(f"no code in the sandbox message to {login}")
    platform.identifiers.verify(consumer_id, login, found.group(1))


def share(platform: Platform, giver: Merchant, receiver: Merchant, ppm: int, cap: int) -> None:
    """A standing share the receiver accepted, made once: seeded again, it is found."""
    for agreement in platform.splits.agreements_of(giver)["data"]:
        if agreement["receiver_id"] != receiver.id or agreement["state"] == "declined":
            continue
        if agreement["state"] == "proposed":
            platform.splits.accept(receiver, agreement["id"])
        if agreement["state"] != "ended":
            return
    proposed = platform.splits.propose(giver, receiver.id, share_ppm=ppm, cap=cap, standing=True)
    platform.splits.accept(receiver, proposed["id"])


def bank_account(platform: Platform, merchant: Merchant, number: str) -> None:
    """A verified bank account to be paid to, added once (the bank's check answered here, as
    the top-ups' are)."""
    if platform.settlement.accounts.current(merchant.id) is not None:
        return
    added = platform.settlement.accounts.register(
        platform.merchants.get(merchant.id),
        holder_name=merchant.name,
        account_number=number,
        manager_pin=DEMO_PIN,
    )
    platform.settlement.accounts.answered(BankOutcome("bv_" + added["id"], True, "SBXDEMO"))


PENDING_LOGIN = "tea@huaqiangbei.demo"
PENDING_DETAILS = {
    "legal_name": "深圳市华强北茶饮有限公司",
    "licence_number": "91440300MA5EXAMPL6",
    "category": "5814",
    "owner_id_number": "11010519491231002X",
}


def waiting_for_review(platform: Platform) -> None:
    """A tea stall that signed up and submitted its business details: the console's queue has
    something to approve."""
    try:
        platform.merchants.sign_in(PENDING_LOGIN, DEMO_PASSWORD)
        return
    except SaomaError:
        pass
    tea = platform.merchants.sign_up(
        login=PENDING_LOGIN,
        password=DEMO_PASSWORD,
        name="HQB Tea Stall",
        name_zh="华强北茶摊",
        city="Shenzhen",
        category_code="5814",
    )
    platform.kyc.submit(tea, PENDING_DETAILS)


@dataclass(frozen=True)
class DemoOperator:
    login: str
    role: str
    uri: str  # otpauth://: what an authenticator app scans


OPERATOR_LOGINS = {role: f"{role}@demo.saoma" for role in ROLES}


def demo_operators(platform: Platform, *, create: bool = False) -> list[DemoOperator]:
    """One operator per role, with the demo's password; their TOTP secrets are made by the
    service (sealed with the installation's key) and, in a demo only, opened again to be shown."""
    o = operator_tables.operators.c
    found = []
    for role, login in OPERATOR_LOGINS.items():
        with platform.engine.connect() as conn:
            row = conn.execute(select(o.id, o.totp_secret).where(o.login == login)).first()
        if row is not None:
            secret = platform.operators.sealer.open(row.totp_secret, row.id)
            found.append(DemoOperator(login, role, totp.uri(secret, login)))
        elif create:
            added = platform.operators.add(login, DEMO_PASSWORD, role, f"Demo {role}")
            found.append(DemoOperator(login, role, added.uri))
    return found


def open_dispute(platform: Platform, shop: Merchant) -> None:
    """Li Wei disputes a grocery payment and the shop contests it: the console has a dispute
    to decide (made once)."""
    payer = platform.wallets.by_login(CONSUMERS[0][0])
    if payer is None or platform.disputes.reads.listed(consumer_id=payer.id, ops=True)["disputes"]:
        return
    paid = platform.payments.pay_static(payer, shop.id, amount=1_280, pin=DEMO_PIN)
    opened = platform.disputes.open(
        payer, paid["id"], reason="not_as_described", text_="Half the eggs were broken."
    )
    platform.disputes.contest(shop, opened["id"], text_="They were whole when packed.")


def seed(platform: Platform) -> None:
    merchants = []
    for spec in MERCHANTS:
        try:
            merchants.append(platform.merchants.sign_in(spec.login, DEMO_PASSWORD))
        except Exception:
            merchants.append(
                platform.merchants.sign_up(
                    login=spec.login,
                    password=DEMO_PASSWORD,
                    name=spec.name,
                    name_zh=spec.name_zh,
                    city="Shenzhen",
                    category_code=spec.category_code,
                )
            )
            # Refunds at the demo's cashiers take the manager PIN: the same demo PIN.
            platform.merchants.set_manager_pin(
                merchants[-1].id, DEMO_PIN, password=DEMO_PASSWORD, old_pin=None
            )
    for merchant in merchants:  # the demo's shops trade as established, approved merchants
        approve_directly(platform.engine, merchant.id, by="demo")
    waiting_for_review(platform)
    by_login = {spec.login: m for spec, m in zip(MERCHANTS, merchants, strict=True)}
    for giver, receiver, ppm, cap in SHARES:
        share(platform, by_login[giver], by_login[receiver], ppm, cap)
    noodles, grocery, busker, bikes = merchants[1:5]
    for login, display_name, balance in CONSUMERS:
        existing = platform.wallets.by_login(login)
        if existing is not None:
            prove(platform, existing.id, login)  # a world seeded before codes existed
            continue
        consumer = platform.wallets.sign_up(login, DEMO_PASSWORD, display_name)
        prove(platform, consumer.id, login)
        platform.wallets.set_pin(consumer.id, DEMO_PIN, password=DEMO_PASSWORD, old_pin=None)
        top_up = platform.funding.top_up(consumer, balance)
        platform.funding.settled(BankOutcome(top_up["id"], True, "SBXDEMO"))
        history = [(noodles, 2_500, "Beef noodles"), (grocery, 3_860, "Vegetables and eggs")]
        for n, (merchant, amount, what) in enumerate(history):
            order, _ = platform.payments.create_order(
                merchant,
                merchant_order_no=f"DEMO-{consumer.id[-6:]}-{n}",
                amount=amount,
                currency=merchant.currency,
                description=what,
            )
            platform.payments.pay_order(consumer, order["id"], pin=DEMO_PIN)
        platform.payments.pay_static(consumer, busker.id, amount=1_000, pin=DEMO_PIN, note="加油!")
        if balance < 20_000:
            continue
        # A shared-bike ride: a ¥99 deposit held at unlock, the fare taken at lock.
        ride = platform.payments.create_hold(
            bikes,
            merchant_ref=f"RIDE-{consumer.id[-6:]}",
            amount=9_900,
            currency=bikes.currency,
            expires_in_s=24 * 3600,
            description="Bike deposit",
        )
        platform.payments.consent_hold(consumer, ride["id"], pin=DEMO_PIN)
        platform.payments.capture_hold(bikes, ride["id"], amount=150)
    platform.splits.apply_standing()  # the court's share of the noodles sold above
    for n, merchant in enumerate(merchants):
        bank_account(platform, merchant, f"62220210011188{n + 1:02d}")
    # The noodle shop was paid out once already, so its dashboard shows a settlement (seeded
    # again, there is nothing new to pay).
    with contextlib.suppress(NothingToSettle):
        platform.settlement.instant(platform.merchants.get(noodles.id))
    open_dispute(platform, grocery)
    demo_operators(platform, create=True)
