"""What the benchmarks share: percentiles, a free port, a `saoma serve` process to measure."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(database_url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``saoma serve`` on a free port over ``database_url``, once it answers /healthz."""
    port = free_port()
    env = dict(os.environ, SAOMA_DATABASE_URL=database_url, SAOMA_SANDBOX_BANK_DELAY_S="0.01")
    proc = subprocess.Popen(
        [sys.executable, "-m", "saoma.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            break
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(log.read_text()[-2000:])
