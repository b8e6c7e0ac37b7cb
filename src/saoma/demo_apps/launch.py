"""``saoma demo`` starts the shared bike beside the API: the seed gives Shekou Bikes a signing
key of its own, registers the bike's origin as a mini-program, approves it, and serves it. The
monthly transit pass is started the same way, for the merchant Shenzhen Transit Pass."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from saoma import signing
from saoma.config import get_settings
from saoma.demo_apps.bike import BikeService, create_app, serve_in_thread
from saoma.miniprograms import tables
from saoma.miniprograms.service import MiniPrograms

if TYPE_CHECKING:
    from saoma.bootstrap import Platform

BIKE_LOGIN = "bikes@shekou.demo"
ICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64"'
    ' rx="14" fill="#0a7d55"/><g fill="none" stroke="#fff" stroke-width="4"><circle cx="18"'
    ' cy="40" r="10"/><circle cx="46" cy="40" r="10"/><path d="M18 40l10-16h12l6 16M28 24l-4-6h-6'
    'M40 24l-6 16"/></g></svg>'
)
ICON = "data:image/svg+xml;base64," + base64.b64encode(ICON_SVG.encode()).decode()


def _key(platform: Platform, merchant_id: str, path: Path) -> dict[str, str]:
    """The bike operator's signing key, kept in the data folder; registered once."""
    if path.exists():
        key: dict[str, str] = json.loads(path.read_text())
        if any(k["id"] == key["key_id"] for k in platform.merchants.keys(merchant_id)):
            return key
    private = signing.new_private_key()
    public = base64.b64encode(signing.public_key_bytes(private)).decode()
    key = {"key_id": platform.merchants.add_key(merchant_id, public), "private_key": ""}
    key["private_key"] = signing.private_key_to_b64(private)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(key, out)
    return key


def register_bike(platform: Platform, origin: str) -> dict[str, Any]:
    """The bike's mini-program, registered and approved (found again on the next start)."""
    from saoma.demo import DEMO_PASSWORD

    bikes = platform.merchants.sign_in(BIKE_LOGIN, DEMO_PASSWORD)
    minis = MiniPrograms(platform.engine, platform.wallets, platform.identifiers)
    c = tables.mini_programs.c
    with platform.engine.connect() as conn:
        found = conn.execute(select(c.id).where(c.origin == origin)).scalar()
    if found is None:
        found = minis.register(
            bikes,
            name="Shekou Bikes",
            name_zh="蛇口共享单车",
            icon=ICON,
            origin=origin,
            scopes=["profile.masked_name"],
            allow_private=True,
        )["id"]
    return minis.approve(str(found))


def start_bike(platform: Platform, host: str, port: int, saoma_url: str) -> str:
    """Serve the bike on ``port`` (a thread of this process); its origin, as registered."""
    bike_host = "localhost" if host == "127.0.0.1" else host
    origin = f"http://{bike_host}:{port}"
    registered = register_bike(platform, origin)
    key = _key(platform, registered["merchant_id"], get_settings().data_dir / "demo-bike-key.json")
    service = BikeService(saoma_url, key["key_id"], key["private_key"])
    serve_in_thread(create_app(service, saoma_url), host, port)
    return origin


TRANSIT_LOGIN = "passes@transit.demo"
TRANSIT_ICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64"'
    ' rx="14" fill="#0b5cad"/><g fill="none" stroke="#fff" stroke-width="4"><rect x="16" y="10"'
    ' width="32" height="36" rx="8"/><path d="M16 30h32M24 54l4-8M40 54l-4-8"/></g><g'
    ' fill="#fff"><circle cx="24" cy="38" r="3"/><circle cx="40" cy="38" r="3"/></g></svg>'
)
TRANSIT_ICON = "data:image/svg+xml;base64," + base64.b64encode(TRANSIT_ICON_SVG.encode()).decode()


def register_transit(platform: Platform, origin: str) -> dict[str, Any]:
    """The transit pass's mini-program, registered and approved (found again on the next
    start), for its own demo merchant."""
    from saoma.demo import DEMO_PASSWORD

    operator = platform.merchants.sign_in(TRANSIT_LOGIN, DEMO_PASSWORD)
    minis = MiniPrograms(platform.engine, platform.wallets, platform.identifiers)
    c = tables.mini_programs.c
    with platform.engine.connect() as conn:
        found = conn.execute(select(c.id).where(c.origin == origin)).scalar()
    if found is None:
        found = minis.register(
            operator,
            name="Shenzhen Transit Pass",
            name_zh="深圳交通月票",
            icon=TRANSIT_ICON,
            origin=origin,
            scopes=["profile.masked_name"],
            allow_private=True,
        )["id"]
    return minis.approve(str(found))


def start_transit(platform: Platform, host: str, port: int, saoma_url: str) -> str:
    """Serve the transit pass on ``port`` (a thread of this process); its origin."""
    from saoma.demo_apps.transit import TransitService
    from saoma.demo_apps.transit import create_app as transit_app

    transit_host = "localhost" if host == "127.0.0.1" else host
    origin = f"http://{transit_host}:{port}"
    registered = register_transit(platform, origin)
    key_file = get_settings().data_dir / "demo-transit-key.json"
    key = _key(platform, registered["merchant_id"], key_file)
    service = TransitService(saoma_url, key["key_id"], key["private_key"])
    serve_in_thread(transit_app(service, saoma_url), host, port, name="demo-transit")
    return origin
