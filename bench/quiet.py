"""``saoma serve`` whose pollers by the clock wait an hour: for counting what requests cost.

A server polls its database on a clock as well as when woken: the live feed four times a second,
the webhook dispatcher once a second (it is also woken by every commit that writes an event), and
maintenance every five seconds. Under callgrind a server runs about fifty times slower, so those
polls would be about half of what a run counts, and they vary with its length. Here they wait an
hour instead; everything a request does, its webhook included, still happens when it happens.

    python bench/quiet.py serve --port 8000    (the arguments of ``saoma``)
"""

from __future__ import annotations

from saoma import bootstrap
from saoma.cli import app
from saoma.webhooks.dispatcher import Dispatcher
from saoma.webhooks.live import LiveFeed

HOUR_S = 3600.0

bootstrap.MAINTENANCE_EVERY_S = HOUR_S  # read by the maintenance loop at each wait
for polled in (Dispatcher, LiveFeed):
    defaults = polled.__init__.__kwdefaults__
    assert defaults is not None and "poll_s" in defaults, polled
    defaults["poll_s"] = HOUR_S

if __name__ == "__main__":
    app()
