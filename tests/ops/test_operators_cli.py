"""``saoma operators add / list / disable``: the authenticator's URI and QR code, then sign-in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from saoma.bootstrap import Platform
from saoma.cli import app
from saoma.config import get_settings
from saoma.core.errors import SignInFailed
from saoma.operators import totp
from saoma.operators.service import Operators
from support import PASSWORD


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SAOMA_OPS_KEY_FILE", str(tmp_path / "ops.key"))
    get_settings.cache_clear()
    yield tmp_path / "ops.key"
    get_settings.cache_clear()


def test_add_prints_the_uri_writes_the_qr_and_the_operator_signs_in(
    platform: Platform, db_url: str, tmp_path: Path, key_file: Path
) -> None:
    runner = CliRunner()
    qr = tmp_path / "ana.svg"
    added = runner.invoke(
        app,
        [
            "operators",
            "add",
            "Ana@Ops.example",
            "--role",
            "risk",
            "--name",
            "Ana",
            "--password-stdin",
            "--qr",
            str(qr),
            "--database-url",
            db_url,
        ],
        input=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    secret = re.search(r"secret=([A-Z2-7]+)", added.output)
    assert secret is not None and qr.read_text().startswith("<?xml")
    operators = Operators(platform.engine, key_file=key_file)
    session = operators.sign_in("ana@ops.example", PASSWORD, totp.code(secret.group(1)))
    assert session.operator.role == "risk"

    listed = runner.invoke(app, ["operators", "list", "--database-url", db_url])
    assert listed.output.split() == ["ana@ops.example", "risk", "active", "Ana"]
    again = runner.invoke(
        app,
        [
            "operators",
            "add",
            "ana@ops.example",
            "--role",
            "risk",
            "--password-stdin",
            "--database-url",
            db_url,
        ],
        input=PASSWORD + "\n",
    )
    assert again.exit_code == 1
    gone = runner.invoke(app, ["operators", "disable", "ana@ops.example", "--database-url", db_url])
    assert gone.exit_code == 0
    assert operators.for_token(session.token) is None
    assert (
        runner.invoke(app, ["operators", "disable", "nobody", "--database-url", db_url]).exit_code
        == 1
    )


def test_reset_gives_a_locked_out_operator_a_new_password_and_secret(
    platform: Platform, db_url: str, key_file: Path
) -> None:
    operators = Operators(platform.engine, key_file=key_file)
    old = operators.add("bo@ops.example", PASSWORD, "support")
    session = operators.sign_in("bo@ops.example", PASSWORD, totp.code(old.secret))
    for _ in range(5):  # five wrong codes lock the operator out
        with pytest.raises(SignInFailed):
            operators.sign_in("bo@ops.example", PASSWORD, "000000")
    with pytest.raises(SignInFailed) as locked:
        operators.sign_in("bo@ops.example", PASSWORD, totp.code(old.secret))
    assert "15 minutes" in locked.value.detail

    runner = CliRunner()
    new_password = "a new battery staple"
    reset = runner.invoke(
        app,
        ["operators", "reset", "BO@ops.example", "--password-stdin", "--database-url", db_url],
        input=new_password + "\n",
    )
    assert reset.exit_code == 0, reset.output
    assert "sessions ended" in reset.output and "still disabled" not in reset.output
    secret = re.search(r"secret=([A-Z2-7]+)", reset.output)
    assert secret is not None and secret.group(1) != old.secret
    assert operators.for_token(session.token) is None  # the old session ended
    with pytest.raises(SignInFailed):  # the old password no longer signs in
        operators.sign_in("bo@ops.example", PASSWORD, totp.code(secret.group(1)))
    renewed = operators.sign_in("bo@ops.example", new_password, totp.code(secret.group(1)))
    assert renewed.operator.login == "bo@ops.example"

    nobody = runner.invoke(
        app,
        ["operators", "reset", "nobody", "--password-stdin", "--database-url", db_url],
        input=new_password + "\n",
    )
    assert nobody.exit_code == 1 and "no operator nobody" in nobody.output
