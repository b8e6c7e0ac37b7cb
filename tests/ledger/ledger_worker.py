"""A writer process for the concurrency and crash tests: random transfers, acknowledged to a file.

    python ledger_worker.py URL SEED COUNT OUT [--shared-prefix P]

Each line written to OUT is "<transfer id> <result>", flushed only after the ledger returned, so
every line is an acknowledgement a client would have received.
"""

from __future__ import annotations

import random
import sys

from saoma.ledger import Ledger, Transfer, TransferCode

WALLETS = range(1_000, 1_020)
MERCHANTS = range(2_000, 2_005)


def main() -> None:
    url, seed, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    shared = sys.argv[6] if len(sys.argv) > 6 and sys.argv[5] == "--shared-prefix" else None
    rng = random.Random(seed)
    with Ledger.from_url(url) as ledger, open(out, "a", buffering=1) as acks:
        for i in range(count):
            debit = rng.choice(WALLETS)
            credit = rng.choice([w for w in WALLETS if w != debit] + list(MERCHANTS))
            amount = rng.randrange(1, 3_000)
            if shared is not None and i % 5 == 0:
                # The same idempotency key sent by every worker at about the same moment.
                tid = f"{shared}-{i}"
                debit, credit, amount = WALLETS[i % 20], MERCHANTS[0], 100
            else:
                tid = f"{seed}-{i}"
            batch = [Transfer(tid, debit, credit, amount, TransferCode.PAYMENT)]
            if rng.random() < 0.2:  # a client retrying what it already sent
                batch = batch * 2
            results = ledger.create_transfers(batch)
            acks.write(f"{tid} {results[0].value}\n")


if __name__ == "__main__":
    main()
