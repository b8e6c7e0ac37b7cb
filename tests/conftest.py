"""Fixtures shared by every test: real databases, SQLite and PostgreSQL, and the platform.

``db_url`` runs a test once on a fresh SQLite file and once on a PostgreSQL database created
for this test session (emptied before each test). With SAOMA_REQUIRE_POSTGRES=1 (CI) a missing
PostgreSQL fails the run instead of skipping its half. ``platform`` is every service over that
database in this process; a module gives it another bank, messenger or settings by overriding
``wiring``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from saoma.bootstrap import Platform
from saoma.db import make_engine, migrate
from saoma.ledger import Ledger
from saoma.ledger.check import check_ledger
from saoma.wallets import credentials
from support import POSTGRES_SERVER_URL, REQUIRE_POSTGRES, Wiring, assert_books_hold, open_platform

# One Playwright and one Chromium for the whole run, whichever folders of browser tests run: a
# session fixture imported by two conftests would be made twice, and a second sync Playwright
# cannot start while the first runs.
from support_web import browser, playwright, shots

__all__ = ["browser", "playwright", "shots"]

# The tests' webhook receivers listen on 127.0.0.1; tests of the target rule turn this off.
os.environ.setdefault("SAOMA_ALLOW_PRIVATE_WEBHOOKS", "1")
# Passwords at Argon2id's lowest cost, in the servers the tests start and in this process: the
# suite signs up thousands of wallets and shops, each hash costing 0.2 s of CPU at full cost.
# tests/api/test_wallets.py checks that a process without the setting hashes at full cost.
os.environ.setdefault("SAOMA_TEST_CHEAP_PASSWORDS", "1")
credentials.password_hasher = credentials.CHEAP_HASHER


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that may restart PostgreSQL runs last: the restart cuts every open connection."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_postgres") is not None)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "saoma.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own for this test session, migrated once, dropped at the end."""
    server = make_url(POSTGRES_SERVER_URL)
    name = f"saoma_test_{uuid.uuid4().hex[:10]}"
    # pre-ping: the last test may have restarted the server under this engine's connection
    admin = create_engine(server, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but unreachable at {server!r}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {server!r}")
    url = server.set(database=name).render_as_string(hide_password=False)
    migrate(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename <> 'alembic_version'"
                )
            )
        ]
        if tables:
            quoted = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "saoma.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def ledger(engine: Engine) -> Iterator[Ledger]:
    """A ledger whose books must balance when the test ends, whatever the test did."""
    with Ledger(engine) as led:
        yield led
    report = check_ledger(engine)
    assert report.ok, report.problems


@pytest.fixture
def wiring() -> Wiring:
    """What ``platform`` is built with besides the database: the sandboxes and the settings.
    Override it in a test module for a bank, a messenger or settings of the module's own."""
    return Wiring()


@pytest.fixture
def platform(db_url: str, wiring: Wiring) -> Iterator[Platform]:
    """Every service over the test's database, in this process; when the test has passed, its
    books must add up and every wallet debit must rest on the payer's authorisation."""
    opened = open_platform(db_url, wiring)
    try:
        yield opened
    finally:
        opened.close()
    assert_books_hold(db_url, authorisations=wiring.check_authorisations)
