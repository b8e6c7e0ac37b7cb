"""``saoma demo`` starts the demo's mini-programs beside the API: the shared bike, ordering at
the table and the monthly transit pass. For each, the seeded merchant gets a signing key of its
own, the service's origin is registered as a mini-program and approved, and the service is
served."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from saoma import signing
from saoma.config import get_settings
from saoma.demo_apps import bike, table, transit
from saoma.demo_apps.serving import serve_in_thread
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
TABLE_LOGIN = "robots@nanshan.demo"
TABLE_ICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64"'
    ' rx="14" fill="#b23a22"/><path d="M10 34h44q-2 16-22 16T10 34z" fill="#fff"/><g fill="none"'
    ' stroke="#fff" stroke-width="4" stroke-linecap="round"><path d="M40 10l-8 20M50 14l-12 16"/>'
    "</g></svg>"
)
TRANSIT_LOGIN = "passes@transit.demo"
TRANSIT_ICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64"'
    ' rx="14" fill="#0b5cad"/><g fill="none" stroke="#fff" stroke-width="4"><rect x="16" y="10"'
    ' width="32" height="36" rx="8"/><path d="M16 30h32M24 54l4-8M40 54l-4-8"/></g><g'
    ' fill="#fff"><circle cx="24" cy="38" r="3"/><circle cx="40" cy="38" r="3"/></g></svg>'
)


@dataclass(frozen=True)
class DemoApp:
    """A demo mini-program: the seeded merchant that runs it and how the wallet lists it."""

    login: str
    name: str
    name_zh: str
    icon_svg: str
    key_file: str  # its signing key, in the data folder

    @property
    def icon(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.icon_svg.encode()).decode()


BIKE = DemoApp(BIKE_LOGIN, "Shekou Bikes", "蛇口共享单车", ICON_SVG, "demo-bike-key.json")
TABLE = DemoApp(
    TABLE_LOGIN, "Nanshan Robot Kitchen", "南山机器人餐厅", TABLE_ICON_SVG, "demo-table-key.json"
)
TRANSIT = DemoApp(
    TRANSIT_LOGIN,
    "Shenzhen Transit Pass",
    "深圳交通月票",
    TRANSIT_ICON_SVG,
    "demo-transit-key.json",
)


def _key(platform: Platform, merchant_id: str, path: Path) -> dict[str, str]:
    """A demo service's signing key, kept in the data folder; registered once."""
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


def register(platform: Platform, app: DemoApp, origin: str) -> dict[str, Any]:
    """The service's mini-program, registered and approved (found again on the next start)."""
    from saoma.demo import DEMO_PASSWORD

    merchant = platform.merchants.sign_in(app.login, DEMO_PASSWORD)
    minis = MiniPrograms(platform.engine, platform.wallets, platform.identifiers)
    c = tables.mini_programs.c
    with platform.engine.connect() as conn:
        found = conn.execute(select(c.id).where(c.origin == origin)).scalar()
    if found is None:
        found = minis.register(
            merchant,
            name=app.name,
            name_zh=app.name_zh,
            icon=app.icon,
            origin=origin,
            scopes=["profile.masked_name"],
            allow_private=True,
        )["id"]
    return minis.approve(str(found))


def _registered(
    platform: Platform, app: DemoApp, host: str, port: int
) -> tuple[str, dict[str, str]]:
    """The service's origin on ``port``, registered, and its signing key."""
    shown_host = "localhost" if host == "127.0.0.1" else host
    origin = f"http://{shown_host}:{port}"
    registered = register(platform, app, origin)
    path = get_settings().data_dir / app.key_file
    return origin, _key(platform, registered["merchant_id"], path)


def start_bike(platform: Platform, host: str, port: int, saoma_url: str) -> str:
    """Serve the bike on ``port`` (a thread of this process); its origin, as registered."""
    origin, key = _registered(platform, BIKE, host, port)
    service = bike.BikeService(saoma_url, key["key_id"], key["private_key"])
    serve_in_thread(bike.create_app(service, saoma_url), host, port, "demo-bike")
    return origin


def start_table(platform: Platform, host: str, port: int, saoma_url: str) -> tuple[str, str]:
    """Serve ordering at the table on ``port``; its origin, and the kitchen screen's address
    with a key made for this run (orders live only as long as the process)."""
    origin, key = _registered(platform, TABLE, host, port)
    kitchen_key = secrets.token_urlsafe(18)
    service = table.TableService(saoma_url, key["key_id"], key["private_key"], kitchen_key)
    serve_in_thread(table.create_app(service, saoma_url), host, port, "demo-table")
    return origin, f"{origin}/kitchen#key={kitchen_key}"


def start_transit(platform: Platform, host: str, port: int, saoma_url: str) -> str:
    """Serve the monthly transit pass on ``port``; its origin."""
    origin, key = _registered(platform, TRANSIT, host, port)
    service = transit.TransitService(saoma_url, key["key_id"], key["private_key"])
    serve_in_thread(transit.create_app(service, saoma_url), host, port, "demo-transit")
    return origin
