"""Saoma on several PostgreSQL primaries (Citus), on paper: where a day's payments would land.

Generates a day of a city's payments with a seed -- merchant popularity Zipf-distributed (a few
hot merchants, many stalls), payers who mostly pay merchants of their own district and come back
to the same few, transfers between people (mostly neighbours), refunds of earlier payments,
top-ups from the bank, campaign subsidies -- or replays the payments, refunds, transfers and
top-ups of a Saoma database (``--database-url``). Then places every wallet and merchant on hash
shards as Citus does (the distribution key hashed to 32 bits, the hash space cut into equal
ranges, shard ``i`` placed on node ``i mod nodes``) and reports, for several layouts and
placements (see docs/scaling.md):

- the share of events (payments, refunds, transfers, top-ups) touching more than one shard, and
  more than one node (what Citus commits with two-phase commit);
- the load per shard (events touching it; an event touching two shards counts on both): the
  hottest shard, the 90th percentile (with at most 64 shards the 99th is the hottest itself), the
  mean and the hottest over the mean, and the share of the day's events that touch the hottest
  shard and the hottest node;
- how many node pairs carry the cross-node events, and how many payments one two-phase commit
  would carry at a peak rate if the ledger batched them by node pair.

The baseline, from the same run: one primary, where every event touches one node and the
hottest "shard" sees all of them.

    .venv/bin/python bench/shards.py [--seed 7] [--payments 400000] [--database-url URL]

Deterministic for a seed: the same arguments print the same tables.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import itertools
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Event kinds, and the platform's own account an event also touches.
PAYMENT, REFUND, P2P, TOPUP = 0, 1, 2, 3
KIND_NAMES = ("payment", "refund", "transfer", "top-up")
NO_SYSTEM, FEES, CLEARING, BUDGET = 0, 1, 2, 3
# The day's mix (the rest are payments) and its shape.
REFUND_SHARE = 0.02
P2P_SHARE = 0.12
TOPUP_SHARE = 0.06
SUBSIDY_SHARE = 0.06  # payments a campaign pays part of; half of those are the platform's
ZIPF_S = 1.0  # merchant popularity: weight of the k-th most popular is 1 / k**ZIPF_S
HOME_SHARE = 0.8  # a new merchant is chosen in the payer's own district this often
HABIT_SHARE = 0.6  # a payment goes to one of the payer's usual merchants this often
FAVOURITES = 5
FRIENDS_NEAR = 0.7  # a transfer goes to someone of the same district this often
HASH_SPACE = 2**32
FINEST_SHARDS = 64  # steered keys land in a range of this layout (it nests the coarser ones)
LAYOUTS = ((4, 4), (16, 16), (64, 64), (32, 4))  # (shards, nodes); Citus's default is 32 shards
PEAK_PER_S = 2000  # payments per second at the lunch peak
WINDOW_MS = 10  # how long a batch gathers at that rate


@dataclass(frozen=True, slots=True)
class Day:
    """Wallets 0..consumers-1, merchants consumers..consumers+merchants-1; each event is
    (kind, first party, second party or -1, the platform account it also touches)."""

    consumers: int
    merchants: int
    district: list[int]  # each party's district (a wallet's home)
    events: list[tuple[int, int, int, int]]
    history: list[tuple[int, int]]  # (wallet, merchant) payments of the day before


def key_hash(key: str) -> int:
    """A distribution key's 32-bit hash (stands in for PostgreSQL's hash of the column)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big")


def shard_of(h: int, shards: int) -> int:
    """The shard whose hash range holds ``h``: the space cut into ``shards`` equal ranges."""
    return h * shards // HASH_SPACE


def steer(rng: random.Random, target: int) -> int:
    """A hash in the same finest shard as ``target``: a wallet account id chosen (by trying
    random ids, about FINEST_SHARDS tries) so that its hash falls in the merchant's range."""
    width = HASH_SPACE // FINEST_SHARDS
    return shard_of(target, FINEST_SHARDS) * width + rng.randrange(width)


def zipf_cum(n: int, s: float) -> list[float]:
    return list(itertools.accumulate(1.0 / (k + 1) ** s for k in range(n)))


def generate(seed: int, payments: int, consumers: int, merchants: int, districts: int) -> Day:
    """A day (and the payments of the day before, for the habits) with this seed."""
    rng = random.Random(seed)
    district_cum = zipf_cum(districts, 0.6)  # some districts denser than others
    by_rank = rng.sample(range(merchants), merchants)  # merchant at each popularity rank
    popularity = [0.0] * merchants
    for rank, m in enumerate(by_rank):
        popularity[m] = 1.0 / (rank + 1) ** ZIPF_S
    district = rng.choices(range(districts), cum_weights=district_cum, k=consumers + merchants)
    local: list[list[int]] = [[] for _ in range(districts)]
    for m in range(merchants):
        local[district[consumers + m]].append(m)
    local_cum = [list(itertools.accumulate(popularity[m] for m in ms)) for ms in local]
    global_cum = list(itertools.accumulate(popularity))
    people: list[list[int]] = [[] for _ in range(districts)]
    for c in range(consumers):
        people[district[c]].append(c)

    def new_merchant(c: int) -> int:
        d = district[c]
        if local[d] and rng.random() < HOME_SHARE:
            pick = bisect.bisect(local_cum[d], rng.random() * local_cum[d][-1])
            return consumers + local[d][pick]
        return consumers + bisect.bisect(global_cum, rng.random() * global_cum[-1])

    favourites = [[new_merchant(c) for _ in range(FAVOURITES)] for c in range(consumers)]
    fav_cum = list(itertools.accumulate(1.0 / (k + 1) for k in range(FAVOURITES)))
    activity = list(itertools.accumulate(rng.paretovariate(2.0) for _ in range(consumers)))

    def payment() -> tuple[int, int]:
        c = bisect.bisect(activity, rng.random() * activity[-1])
        if rng.random() < HABIT_SHARE:
            return c, favourites[c][bisect.bisect(fav_cum, rng.random() * fav_cum[-1])]
        return c, new_merchant(c)

    history = [payment() for _ in range(payments)]
    events = _day_events(rng, payments, payment, people, district, activity)
    return Day(consumers, merchants, district, events, history)


def _day_events(
    rng: random.Random,
    payments: int,
    payment: Callable[[], tuple[int, int]],
    people: list[list[int]],
    district: list[int],
    activity: list[float],
) -> list[tuple[int, int, int, int]]:
    total = round(payments / (1 - REFUND_SHARE - P2P_SHARE - TOPUP_SHARE))
    events: list[tuple[int, int, int, int]] = []
    paid: list[tuple[int, int]] = []
    for _ in range(total):
        r = rng.random()
        if r < REFUND_SHARE and paid:
            c, m = paid[rng.randrange(len(paid))]
            events.append((REFUND, m, c, FEES))  # the merchant gives back; the fee comes back
        elif r < REFUND_SHARE + P2P_SHARE:
            a = bisect.bisect(activity, rng.random() * activity[-1])
            near = people[district[a]]
            b = near[rng.randrange(len(near))] if rng.random() < FRIENDS_NEAR else -1
            if b in (-1, a):
                b = rng.randrange(len(activity))
            if b != a:
                events.append((P2P, a, b, NO_SYSTEM))
        elif r < REFUND_SHARE + P2P_SHARE + TOPUP_SHARE:
            a = bisect.bisect(activity, rng.random() * activity[-1])
            events.append((TOPUP, a, -1, CLEARING))
        else:
            c, m = payment()
            paid.append((c, m))
            subsidy = rng.random() < SUBSIDY_SHARE / 2  # the platform's campaign pays a part
            events.append((PAYMENT, c, m, BUDGET if subsidy else FEES))
    return events


def replay(url: str) -> Day:
    """The payments, refunds, transfers and top-ups of a Saoma database, oldest first."""
    from sqlalchemy import text  # the replay alone needs the database

    from saoma.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        wallets = [r[0] for r in conn.execute(text("SELECT id FROM consumers ORDER BY id"))]
        shops = [r[0] for r in conn.execute(text("SELECT id FROM merchants ORDER BY id"))]
        cities = dict(conn.execute(text("SELECT id, city FROM merchants")).all())
        rows = conn.execute(text(_REPLAY_SQL)).all()
    engine.dispose()
    index = {w: i for i, w in enumerate(wallets)}
    index.update({m: len(wallets) + j for j, m in enumerate(shops)})
    city_ids = {c: i for i, c in enumerate(sorted(set(cities.values())))}
    district = [0] * len(wallets) + [city_ids[cities[m]] for m in shops]
    events: list[tuple[int, int, int, int]] = []
    for kind, a, b, _at in rows:
        if a not in index or (b is not None and b not in index):
            continue  # a transfer still waiting for its recipient has no second wallet yet
        second = -1 if b is None else index[b]
        system = {PAYMENT: FEES, REFUND: FEES, P2P: NO_SYSTEM, TOPUP: CLEARING}[kind]
        events.append((kind, index[a], second, system))
    history = [(a, b) for kind, a, b, _ in events if kind == PAYMENT]
    for c, m in history:  # a wallet's district: that of the merchant it paid last
        district[c] = district[m]
    return Day(len(wallets), len(shops), district, events, history)


_REPLAY_SQL = (
    "SELECT 0, consumer_id, merchant_id, created_at_us FROM payments"
    " UNION ALL SELECT 1, r.merchant_id, p.consumer_id, r.created_at_us"
    " FROM refunds r JOIN payments p ON p.id = r.payment_id"
    " UNION ALL SELECT 2, sender_id, recipient_id, created_at_us FROM p2p_transfers"
    " WHERE recipient_id IS NOT NULL"
    " UNION ALL SELECT 3, consumer_id, NULL, created_at_us FROM bank_transfers"
    " WHERE direction = 'topup' ORDER BY 4"
)


def placements(day: Day, seed: int) -> dict[str, list[int]]:
    """Each party's 32-bit hash under each placement (see docs/scaling.md)."""
    rng = random.Random(seed + 1)
    n = day.consumers + day.merchants
    owner = [key_hash(f"account:{i}") for i in range(n)]
    most: dict[int, Counter[int]] = {}
    for c, m in day.history:
        most.setdefault(c, Counter())[m] += 1
    affinity = list(owner)
    for c, counts in most.items():
        favourite = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        affinity[c] = steer(rng, owner[favourite])
    by_district = [key_hash(f"district:{d}") for d in day.district]
    return {"owner": owner, "owner, one fee account": owner, "affinity": affinity,
            "district": by_district}  # fmt: skip


@dataclass(slots=True)
class Tally:
    """One layout under one placement: what the day's events did to its shards and nodes."""

    shards: int
    nodes: int
    events: int
    cross_shard: int  # events touching more than one shard
    cross_node: int  # ... more than one node
    per_kind: Counter[int]  # cross-shard events by kind
    load: list[int]  # events touching each shard
    node_load: list[int]
    pairs: Counter[tuple[int, int]]  # cross-node payments by (payer's, merchant's) node


def tally(day: Day, hashes: list[int], shards: int, nodes: int, split: bool) -> Tally:
    """``split``: the platform's accounts (fees, bank clearing, its campaigns' budgets) have a
    copy on every shard, the one beside the merchant (or wallet) is used; otherwise each is one
    row on one shard."""
    shard = [h * shards // HASH_SPACE for h in hashes]
    system_shard = [-1] * 4
    if not split:
        for s in (FEES, CLEARING, BUDGET):
            system_shard[s] = shard_of(key_hash(f"system:{s}"), shards)
    load, node_load, per_kind = [0] * shards, [0] * nodes, [0] * len(KIND_NAMES)
    pairs: Counter[tuple[int, int]] = Counter()
    cross_shard = cross_node = 0
    for kind, a, b, system in day.events:
        sa = shard[a]
        sb = shard[b] if b >= 0 else sa
        sx = system_shard[system]
        if sx < 0:
            sx = sa
        load[sa] += 1
        if sb != sa:
            load[sb] += 1
        if sx not in (sa, sb):
            load[sx] += 1
        if sa != sb or sx != sa:
            cross_shard += 1
            per_kind[kind] += 1
        na, nb, nx = sa % nodes, sb % nodes, sx % nodes
        node_load[na] += 1
        if nb != na:
            node_load[nb] += 1
        if nx not in (na, nb):
            node_load[nx] += 1
        if na != nb or nx != na:
            cross_node += 1
            if kind == PAYMENT:
                pairs[(na, nb)] += 1
    return Tally(
        shards, nodes, len(day.events), cross_shard, cross_node,
        Counter(dict(enumerate(per_kind))), load, node_load, pairs,
    )  # fmt: skip


def nearest_rank(values: Sequence[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def batch_fill(pairs: Counter[tuple[int, int]], payments: int) -> tuple[float, float]:
    """Payments per two-phase commit if the ledger batched cross-node payments by node pair,
    at PEAK_PER_S payments a second gathered for WINDOW_MS: (payments, commits) per window."""
    crossing = sum(pairs.values())
    if not crossing or not payments:
        return 0.0, 0.0
    per_window = PEAK_PER_S * WINDOW_MS / 1000 * crossing / payments
    commits = sum(1 - math.exp(-per_window * n / crossing) for n in pairs.values())
    return per_window, commits


def row(label: str, t: Tally, payments: int) -> str:
    mean = sum(t.load) / t.shards
    per_window, commits = batch_fill(t.pairs, payments)
    fill = f"{per_window / commits:5.1f}" if commits else "    -"
    return (
        f"| {label} | {t.shards:>3} on {t.nodes:>2} | {100 * t.cross_shard / t.events:5.1f}% "
        f"| {100 * t.cross_node / t.events:5.1f}% | {max(t.load):>7,} | "
        f"{nearest_rank(t.load, 0.9):>7,} | {mean:>9,.0f} | {max(t.load) / mean:5.2f} | "
        f"{100 * max(t.load) / t.events:5.1f}% | {100 * max(t.node_load) / t.events:5.1f}% "
        f"| {len(t.pairs):>5,} | {fill} |"
    )


HEADER = (
    "| placement | shards on nodes | cross-shard | cross-node (2PC) | hottest shard | p90 shard"
    " | mean | max/mean | hottest shard's share | hottest node's share | node pairs"
    " | payments per 2PC |\n"
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def report(day: Day, seed: int) -> None:
    kinds = Counter(kind for kind, *_ in day.events)
    payments = kinds[PAYMENT]
    print(f"{len(day.events):,} events: " + ", ".join(
        f"{kinds[k]:,} {KIND_NAMES[k]}s" for k in (PAYMENT, REFUND, P2P, TOPUP)
    ) + f"; {day.consumers:,} wallets, {day.merchants:,} merchants\n")  # fmt: skip
    hottest = Counter(b for kind, _a, b, _s in day.events if kind == PAYMENT).most_common(10)
    top = ", ".join(f"{100 * n / payments:.2f}%" for _m, n in hottest[:5])
    top10 = 100 * sum(n for _m, n in hottest) / payments
    print(f"The most paid merchants' shares of the payments: {top}; the top ten {top10:.1f}%\n")
    print(HEADER)
    n = len(day.events)
    print(f"| one primary (baseline) |   1 on  1 |   0.0% |   0.0% | {n:>7,} | {n:>7,} | {n:>9,} "
          "|  1.00 | 100.0% | 100.0% |     0 |     - |")  # fmt: skip
    by_kind: dict[str, Tally] = {}
    for name, hashes in placements(day, seed).items():
        split = name != "owner, one fee account"
        for shards, nodes in LAYOUTS:
            t = tally(day, hashes, shards, nodes, split)
            print(row(name, t, payments))
            if shards == 16 and nodes == 16:
                by_kind[name] = t
    print("\nCross-shard share by kind, 16 shards on 16 nodes:\n")
    print("| placement | " + " | ".join(KIND_NAMES) + " |\n| --- |" + " ---: |" * len(KIND_NAMES))
    for name, t in by_kind.items():
        cells = [f"{100 * t.per_kind[k] / max(1, kinds[k]):5.1f}%" for k in range(len(KIND_NAMES))]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--payments", type=int, default=400_000, help="payments in the day")
    parser.add_argument("--consumers", type=int, default=200_000)
    parser.add_argument("--merchants", type=int, default=20_000)
    parser.add_argument("--districts", type=int, default=40)
    parser.add_argument("--database-url", help="replay this Saoma database instead")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.database_url:
        day = replay(args.database_url)
    else:
        day = generate(args.seed, args.payments, args.consumers, args.merchants, args.districts)
    report(day, args.seed)
    print(f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
