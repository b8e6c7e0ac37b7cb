"""`saoma serve` leaves what its start made (modules, routes, models, the platform) out of the
garbage collector's full collections: such a collection stops every thread of the process, and
over the whole heap it took over 100 ms under load. Apps built by tests freeze nothing."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from saoma import cli
from saoma.bootstrap import Platform
from saoma.config import get_settings
from saoma.server import create_app


@pytest.fixture
def unfrozen() -> Iterator[None]:
    assert gc.get_freeze_count() == 0
    switching = sys.getswitchinterval()  # `saoma serve` sets its own
    try:
        yield
    finally:
        gc.unfreeze()  # the rest of this process's tests collect as before
        sys.setswitchinterval(switching)


def assert_started_frozen(app: Any) -> None:
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        frozen = gc.get_freeze_count()
        # A full collection now looks at what requests made since, a fraction of the heap.
        assert frozen > 4 * len(gc.get_objects()), (frozen, len(gc.get_objects()))


def test_saoma_serve_freezes_what_its_start_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app))
    cli._serve(f"sqlite:///{tmp_path / 'saoma.db'}", "127.0.0.1", 8000, demo=False)
    assert gc.get_freeze_count() == 0  # not before the app has started
    assert_started_frozen(served["app"])


def test_each_worker_of_saoma_serve_freezes_what_its_start_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    url = f"sqlite:///{tmp_path / 'saoma.db'}"
    Platform.open(url).close()  # migrated, as the parent process does
    monkeypatch.setenv("SAOMA_DATABASE_URL", url)
    try:
        assert_started_frozen(cli.worker_app())
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()  # the next test reads its own settings


def test_an_app_built_as_tests_build_it_freezes_nothing(tmp_path: Path, unfrozen: None) -> None:
    platform = Platform.open(f"sqlite:///{tmp_path / 'saoma.db'}")
    with TestClient(create_app(platform)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() == 0
