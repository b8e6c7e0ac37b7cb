"""What sending one webhook costs the dispatcher's thread: ``saoma.targets.Sender`` posting to a
receiver on this machine over a kept-alive connection.

The receiver (``http.server``, in this process) answers each delivery ``200`` with a
``Content-Length`` of 0, as ``bench/common.Receiver`` does. Rounds alternate the answer read as
``http.client`` reads it (its headers parsed by the email package: the baseline) and as Saoma
reads it (``targets._Answer``: the headers by name, the same limits); the sending thread's own
CPU time (``time.thread_time``) per delivery is printed.

    .venv/bin/python bench/sender.py [--deliveries 4000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from saoma import targets

HEADERS = {
    "content-type": "application/json",
    "webhook-id": "evt_bench",
    "webhook-timestamp": "1700000000",
    "webhook-signature": "v1,c2lnbmF0dXJl",
    "Saoma-Request-Id": "req_bench",
}
BODY = b'{"type":"payment.succeeded","data":{"id":"pay_bench","amount":100,"currency":"CNY"}}'


class Hooks(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def per_delivery_us(sender: targets.Sender, url: str, deliveries: int) -> float:
    for _ in range(deliveries // 10):
        sender.post(url, BODY, HEADERS)
    start = time.thread_time()
    for _ in range(deliveries):
        assert sender.post(url, BODY, HEADERS) == 200
    return (time.thread_time() - start) * 1e6 / deliveries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    ways = {"http.client's answer (baseline)": http.client.HTTPResponse, "Saoma's": targets._Answer}
    print(f"{args.deliveries} deliveries each, the sending thread's CPU per delivery (µs)")
    print("| round | " + " | ".join(ways) + " |")
    print("| ---: |" + " ---: |" * len(ways))
    try:
        for round_no in range(1, args.rounds + 1):
            figures = []
            for answer in ways.values():
                targets._GuardedHTTP.response_class = answer
                sender = targets.Sender(5.0, allow_private=True)
                try:
                    figures.append(per_delivery_us(sender, url, args.deliveries))
                finally:
                    sender.close()
            print(f"| {round_no} | " + " | ".join(f"{f:.0f}" for f in figures) + " |")
    finally:
        targets._GuardedHTTP.response_class = targets._Answer
        server.shutdown()


if __name__ == "__main__":
    main()
