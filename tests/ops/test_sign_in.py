"""Operators sign in with a password and a TOTP code: each code once, tries limited, sessions
that end."""

from __future__ import annotations

import importlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from saoma.bootstrap import Platform
from saoma.core.errors import InvalidRequest, LoginTaken, SignInFailed
from saoma.operators import totp
from saoma.operators.service import FAILURES_MAX, LOCK_US, Added, Operators
from support import PASSWORD

LOGIN = "ana@ops.example"


def added(platform: Platform, role: str = "support") -> Added:
    return platform.operators.add(LOGIN, PASSWORD, role, "Ana")


def now_code(platform: Platform, secret: str) -> str:
    return totp.code(secret, platform.operators.clock() / 1e6)


def test_a_password_and_the_current_code_open_a_session(platform: Platform) -> None:
    new = added(platform)
    assert new.uri.startswith("otpauth://totp/Saoma%3Aana%40ops.example?secret=")
    session = platform.operators.sign_in(LOGIN, PASSWORD, now_code(platform, new.secret), "1.2.3.4")
    assert session.token.startswith("ot_")
    assert platform.operators.for_token(session.token) == new.operator
    platform.operators.sign_out(session.token)
    assert platform.operators.for_token(session.token) is None


def test_wrong_password_wrong_code_and_a_replayed_code_are_refused(platform: Platform) -> None:
    new = added(platform)
    good = now_code(platform, new.secret)
    wrong = f"{(int(good) + 1) % 10**6:06d}"
    with pytest.raises(SignInFailed):
        platform.operators.sign_in(LOGIN, "not the password", good)
    with pytest.raises(SignInFailed):
        platform.operators.sign_in(LOGIN, PASSWORD, wrong)
    with pytest.raises(SignInFailed):
        platform.operators.sign_in("nobody@ops.example", PASSWORD, good)
    platform.operators.sign_in(LOGIN, PASSWORD, good)
    with pytest.raises(SignInFailed, match="used already"):
        platform.operators.sign_in(LOGIN, PASSWORD, good)
    assert platform.operators.failures(LOGIN) == 1  # the replay; the success cleared the rest


def test_fifty_concurrent_wrong_tries_check_five_passwords_then_lock(platform: Platform) -> None:
    new = added(platform)
    code = now_code(platform, new.secret)

    def wrong_try(_: int) -> str:
        try:
            platform.operators.sign_in(LOGIN, "not the password", code)
        except SignInFailed as exc:
            return "locked" if "too many" in exc.detail else "wrong"
        return "signed in"

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(wrong_try, range(50)))
    assert outcomes.count("wrong") == FAILURES_MAX
    assert outcomes.count("locked") == 50 - FAILURES_MAX
    assert platform.operators.failures(LOGIN) == FAILURES_MAX
    with pytest.raises(SignInFailed, match="too many"):  # the right password waits too
        platform.operators.sign_in(LOGIN, PASSWORD, code)
    later = platform.operators.clock() + LOCK_US + 1
    platform.operators.clock = lambda: later
    platform.operators.sign_in(LOGIN, PASSWORD, now_code(platform, new.secret))
    assert platform.operators.failures(LOGIN) == 0


def test_a_session_ends_when_it_expires(platform: Platform, client: TestClient) -> None:
    new = added(platform)
    code = now_code(platform, new.secret)
    answer = client.post(
        "/v1/ops/sessions", json={"login": LOGIN, "password": PASSWORD, "code": code}
    )
    assert answer.status_code == 201, answer.text
    token = answer.json()["token"]
    assert answer.json()["operator"] == {
        "id": new.operator.id,
        "login": LOGIN,
        "name": "Ana",
        "role": "support",
    }
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/ops/me", headers=headers).json()["role"] == "support"
    later = platform.operators.clock() + platform.operators.session_us + 1
    platform.operators.clock = lambda: later
    refused = client.get("/v1/ops/me", headers=headers)
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]


def test_a_disabled_operator_is_signed_out_and_cannot_sign_in(
    platform: Platform, client: TestClient
) -> None:
    new = added(platform)
    session = platform.operators.sign_in(LOGIN, PASSWORD, now_code(platform, new.secret))
    platform.operators.disable(LOGIN)
    assert (
        client.get("/v1/ops/me", headers={"Authorization": f"Bearer {session.token}"}).status_code
        == 401
    )
    later = platform.operators.clock() + 60_000_000
    platform.operators.clock = lambda: later
    with pytest.raises(SignInFailed):
        platform.operators.sign_in(LOGIN, PASSWORD, now_code(platform, new.secret))
    assert [o["disabled"] for o in platform.operators.listing()] == [True]


def test_adding_checks_the_role_and_the_login(platform: Platform) -> None:
    added(platform)
    with pytest.raises(LoginTaken):
        platform.operators.add(LOGIN.upper(), PASSWORD, "risk")
    with pytest.raises(InvalidRequest, match="role"):
        platform.operators.add("bo@ops.example", PASSWORD, "root")


def test_the_secret_is_sealed_under_the_key_file(platform: Platform, tmp_path: Path) -> None:
    sealed = Operators(platform.engine, key_file=tmp_path / "ops.key")
    new = sealed.add(LOGIN, PASSWORD, "risk")
    with platform.engine.connect() as conn:
        stored = conn.execute(text("SELECT totp_secret FROM operators")).scalar()
    assert stored != new.secret and new.secret not in stored and len(stored) == 64
    assert (tmp_path / "ops.key").stat().st_mode & 0o777 == 0o600
    code = totp.code(new.secret)
    elsewhere = Operators(platform.engine, key_file=tmp_path / "another.key")
    with pytest.raises(SignInFailed):  # the database without its key gives no codes
        elsewhere.sign_in(LOGIN, PASSWORD, code)
    assert sealed.sign_in(LOGIN, PASSWORD, code).operator == new.operator


def test_an_unknown_login_is_refused_after_a_password_check_like_a_known_one(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How long a refused sign-in takes must not tell which logins exist: for consumers,
    merchants and operators an unknown login's password is checked against a hash too."""
    checked: list[str] = []
    for module in ("saoma.wallets.service", "saoma.merchants.service", "saoma.operators.service"):
        real = importlib.import_module(module).password_matches

        def spy(hashed: str, secret: str, real: Any = real) -> bool:
            checked.append(hashed)
            return bool(real(hashed, secret))

        monkeypatch.setattr(f"{module}.password_matches", spy)
    platform.wallets.sign_up("+8613700000001", PASSWORD, "Li Wei")
    for sign_in in (
        lambda: platform.wallets.sign_in("+8613700000002", PASSWORD),
        lambda: platform.wallets.sign_in("+8613700000001", "wrong password"),
        lambda: platform.merchants.sign_in("nobody@example.cn", PASSWORD),
        lambda: platform.operators.sign_in("nobody@ops.example", PASSWORD, "123456"),
    ):
        before = len(checked)
        with pytest.raises(SignInFailed):
            sign_in()
        assert len(checked) == before + 1
        assert checked[-1].startswith("$argon2")


def _steps_later(platform: Platform, steps: int = 1) -> None:
    """The clock moved on ``steps`` TOTP steps, so a new code can be taken."""
    later = platform.operators.clock() + steps * 30_000_000
    platform.operators.clock = lambda: later


def _outcome(platform: Platform, password: str, code: str, device: str = "") -> str:
    try:
        platform.operators.sign_in(LOGIN, password, code, "203.0.113.9", device)
    except SignInFailed as exc:
        return "locked" if "too many" in exc.detail else "wrong"
    return "signed in"


def _signed_in_on_her_browser(platform: Platform) -> tuple[Added, str]:
    """Ana, once signed in on her browser ``sd_ana``; the code of the next step."""
    new = added(platform)
    platform.operators.sign_in(LOGIN, PASSWORD, now_code(platform, new.secret), "", "sd_ana")
    _steps_later(platform)
    return new, now_code(platform, new.secret)


def test_wrong_tries_elsewhere_do_not_lock_an_operator_out_of_their_own_browser(
    platform: Platform,
) -> None:
    ana, code = _signed_in_on_her_browser(platform)
    stranger = [_outcome(platform, "guess", code, f"sd_stranger{i}") for i in range(FAILURES_MAX)]
    assert stranger == ["wrong"] * FAILURES_MAX
    assert _outcome(platform, PASSWORD, code, "sd_new_laptop") == "locked"
    assert _outcome(platform, PASSWORD, code) == "locked"
    assert _outcome(platform, PASSWORD, code, "sd_ana") == "signed in"
    # Her sign-in leaves the lock the stranger's tries set, for every other browser.
    _steps_later(platform)
    assert _outcome(platform, PASSWORD, now_code(platform, ana.secret), "sd_new_laptop") == "locked"


def test_fifty_wrong_tries_at_once_from_a_known_browser_check_its_five_then_the_operators_five(
    platform: Platform,
) -> None:
    new, code = _signed_in_on_her_browser(platform)
    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(lambda _: _outcome(platform, "guess", code, "sd_ana"), range(50)))
    assert outcomes.count("wrong") == 2 * FAILURES_MAX
    assert outcomes.count("locked") == 50 - 2 * FAILURES_MAX
    assert platform.operators.failures(LOGIN) == FAILURES_MAX
    # Its own tries spent, the browser waits out the lock with the others, then is known again.
    assert _outcome(platform, PASSWORD, code, "sd_ana") == "locked"
    _steps_later(platform, LOCK_US // 30_000_000 + 1)
    assert _outcome(platform, PASSWORD, now_code(platform, new.secret), "sd_ana") == "signed in"
    _steps_later(platform)
    guesses = [_outcome(platform, "guess", code) for _ in range(FAILURES_MAX)]
    assert guesses == ["wrong"] * FAILURES_MAX
    assert _outcome(platform, PASSWORD, now_code(platform, new.secret), "sd_ana") == "signed in"


def test_a_reset_or_a_disable_forgets_the_operators_browsers(platform: Platform) -> None:
    new = added(platform)
    platform.operators.sign_in(LOGIN, PASSWORD, now_code(platform, new.secret), "", "sd_ana")
    renewed = platform.operators.reset(LOGIN, "a new long password")
    _steps_later(platform)
    code = now_code(platform, renewed.secret)
    assert [_outcome(platform, "guess", code) for _ in range(FAILURES_MAX)] == ["wrong"] * 5
    assert _outcome(platform, "a new long password", code, "sd_ana") == "locked"
    with platform.engine.connect() as conn:
        devices = conn.execute(text("SELECT count(*) FROM sign_in_devices")).scalar()
    assert devices == 0


def test_the_console_and_the_api_keep_the_browser_that_signed_in(platform: Platform) -> None:
    from saoma.server import create_app

    new = added(platform)
    client = TestClient(create_app(platform, start=False))
    for path in ("/v1/ops/sessions", "/console/session"):
        _steps_later(platform, LOCK_US // 30_000_000 + 1)  # past the lock the last round left
        body = {"login": LOGIN, "password": PASSWORD, "code": now_code(platform, new.secret)}
        client.cookies.clear()
        first = client.post(path, json=body)
        assert first.status_code == 201, first.text
        device = first.cookies["saoma_device"]
        _steps_later(platform)
        code = now_code(platform, new.secret)
        assert [_outcome(platform, "guess", code) for _ in range(FAILURES_MAX)] == ["wrong"] * 5
        body["code"] = code
        client.cookies.clear()
        refused = client.post(path, json=body)
        assert refused.status_code == 401 and "too many" in refused.json()["detail"]
        client.cookies.set("saoma_device", device)
        again = client.post(path, json=body)
        assert again.status_code == 201, again.text
        assert again.cookies["saoma_device"] == device
