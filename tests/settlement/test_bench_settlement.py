"""The settlement benchmark's short form runs on both databases and settles every payment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import POSTGRES_SERVER_URL

BENCH = Path(__file__).resolve().parents[2] / "bench" / "settlement.py"


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_the_short_benchmark_settles_every_payment(
    database: str, request: pytest.FixtureRequest
) -> None:
    if database == "postgres":
        request.getfixturevalue("postgres_database")  # skips, or fails in CI, without a server
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--database",
            database,
            "--merchants",
            "100",
            "--payments",
            "5000",
            "--check",
        ],
        env=dict(os.environ, SAOMA_BENCH_POSTGRES_URL=POSTGRES_SERVER_URL),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "settled 5,000 of 5,000 payments: 10,000 lines in 100 settlements" in done.stdout
    assert "100 payouts sent to the bank stub; nets match the baseline's sums" in done.stdout
    assert "books: after generation ok" in done.stdout
