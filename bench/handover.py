"""What handing a request's work to a thread costs a loaded server, per request.

Serves one FastAPI app with uvicorn (uvloop, httptools), as ``saoma serve`` does, with four
routes that answer the same small JSON: one run on the event loop (the baseline: no hand-over),
one a plain ``def`` route (FastAPI hands it to anyio's thread pool), one an ``async def`` route
that hands its work to asyncio's executor (``loop.run_in_executor`` over a
``ThreadPoolExecutor``), and one that hands it over with :func:`saoma.api.deps.in_worker`, as
Saoma's payment routes do. Client threads in another process send keep-alive GETs one after
another on each of their connections; the server process's CPU time is read from /proc.

    .venv/bin/python bench/handover.py [--requests 8000] [--connections 4] [--rounds 2]

The machine's speed drifts within minutes here: compare the routes within one round.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from common import free_port

APP = textwrap.dedent(
    """
    import asyncio
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    from fastapi import FastAPI
    from saoma.api.deps import in_worker

    app = FastAPI()
    executor = ThreadPoolExecutor(max_workers=40)

    def work() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/loop")
    async def on_the_loop() -> dict[str, str]:
        return work()

    @app.get("/anyio")
    def in_anyio_thread() -> dict[str, str]:
        return work()

    @app.get("/executor")
    async def in_executor_thread() -> dict[str, str]:
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(executor, context.run, work)

    @app.get("/workers")
    async def in_worker_thread() -> dict[str, str]:
        return await in_worker(work)
    """
)
ROUTES = {
    "/loop": "on the event loop (baseline)",
    "/anyio": "def route: anyio's thread pool",
    "/executor": "async route + asyncio's executor",
    "/workers": "async route + in_worker (saoma.api.handover.Workers)",
}


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get_many(port: int, path: str, n: int) -> None:
    """``n`` GETs of ``path``, one after another on one keep-alive connection."""
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port)) as conn:
        for _ in range(n):
            conn.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            while len(body) < length:
                body += conn.recv(65536)


def load(pid: int, port: int, path: str, requests: int, connections: int) -> tuple[float, float]:
    """(server CPU µs per request, requests per second)."""
    each = requests // connections
    threads = [
        threading.Thread(target=get_many, args=(port, path, each)) for _ in range(connections)
    ]
    cpu0, t0 = cpu_s(pid), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu1, t1 = cpu_s(pid), time.perf_counter()
    done = each * connections
    return (cpu1 - cpu0) * 1e6 / done, done / (t1 - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    port = free_port()
    app_dir = Path(__file__).resolve().parent / ".handover"
    app_dir.mkdir(exist_ok=True)
    (app_dir / "handover_app.py").write_text(APP)
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir), "handover_app:app"]
    command += ["--port", str(port), "--loop", "uvloop", "--http", "httptools"]
    server = subprocess.Popen([*command, "--log-level", "warning", "--no-access-log"])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        for path in ROUTES:  # warm-up
            load(server.pid, port, path, 1000, args.connections)
        print(f"{args.requests} GETs per route, {args.connections} keep-alive connections")
        print("| round | route | server CPU per request | requests/s | hand-over's own CPU |")
        print("| ---: | --- | ---: | ---: | ---: |")
        for round_no in range(1, args.rounds + 1):
            base = 0.0
            for path, what in ROUTES.items():
                us, rate = load(server.pid, port, path, args.requests, args.connections)
                base = base or us
                extra = f"{us - base:.0f} µs" if path != "/loop" else "-"
                print(f"| {round_no} | {what} | {us:.0f} µs | {rate:,.0f} | {extra} |")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
