"""``saoma operators`` (add, list, reset, disable) and ``saoma audit verify``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

operators_app = typer.Typer(help="The people who run this installation, and their roles.")
audit_app = typer.Typer(help="The audit trail of operators' reads and actions.")
console = Console()
DatabaseOption = typer.Option(
    None, "--database-url", envvar="SAOMA_DATABASE_URL", help="Defaults to the embedded SQLite."
)

QrOption = typer.Option(None, "--qr", help="Write the QR code to a .png or .svg file.")
T = TypeVar("T")


def _platform(database_url: str | None):  # type: ignore[no-untyped-def]
    from saoma.bootstrap import Platform
    from saoma.config import normalise_database_url

    return Platform.open(normalise_database_url(database_url) if database_url else None)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@operators_app.command("add")
def add(
    login: str = typer.Argument(..., help="The operator's login (an e-mail, say)."),
    role: str = typer.Option(..., "--role", help="support, risk, finance or admin."),
    name: str = typer.Option("", "--name", help="The name shown in the console."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password."),
    qr: Path | None = QrOption,
    database_url: str | None = DatabaseOption,
) -> None:
    """Add an operator; prints the authenticator app's otpauth:// URI and QR code (once)."""
    password = _password(password_stdin)
    added = _on_operators(database_url, lambda ops: ops.add(login, password, role, name))
    _authenticator(added, qr)
    console.print(f"operator {added.operator.id} ({added.operator.role}) added")


def _authenticator(added: Any, qr: Path | None) -> None:
    """The authenticator app's QR code (in the terminal, or to ``qr``) and otpauth:// URI."""
    import segno

    code = segno.make(added.uri, error="m")
    if qr is not None:
        code.save(str(qr), scale=6)
    else:
        code.terminal(compact=True)
    console.print(added.uri, markup=False, soft_wrap=True)


@operators_app.command("reset")
def reset(
    login: str = typer.Argument(..., help="The operator's login."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password."),
    qr: Path | None = QrOption,
    database_url: str | None = DatabaseOption,
) -> None:
    """A new password and a new authenticator secret for an operator who lost either (or is
    locked out): their sessions end; prints the new otpauth:// URI and QR code (once)."""
    password = _password(password_stdin)

    def renew(ops: Any) -> tuple[Any, bool]:
        renewed = ops.reset(login, password)
        listed = {r["login"]: r for r in ops.listing()}
        return renewed, listed[renewed.operator.login]["disabled"]

    renewed, disabled = _on_operators(database_url, renew)
    _authenticator(renewed, qr)
    console.print(
        f"{renewed.operator.login}: new password and authenticator secret; sessions ended"
        + (" (still disabled)" if disabled else "")
    )


@operators_app.command("list")
def list_operators(database_url: str | None = DatabaseOption) -> None:
    """Every operator, their role, and whether they are disabled."""
    platform = _platform(database_url)
    try:
        rows = platform.operators.listing()
    finally:
        platform.close()
    for row in rows:
        state = "disabled" if row["disabled"] else "active"
        console.print(f"{row['login']}\t{row['role']}\t{state}\t{row['name']}", markup=False)


@operators_app.command("disable")
def disable(login: str, database_url: str | None = DatabaseOption) -> None:
    """Disable an operator and end their sessions (their audit entries stay)."""
    _on_operators(database_url, lambda ops: ops.disable(login))
    console.print(f"{login} disabled")


def _on_operators(database_url: str | None, action: Callable[[Any], T]) -> T:
    """``action`` on the installation's operators; a refusal is printed and exits 1."""
    from saoma.core.errors import SaomaError

    platform = _platform(database_url)
    try:
        return action(platform.operators)
    except SaomaError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    finally:
        platform.close()


@audit_app.command("verify")
def verify(database_url: str | None = DatabaseOption) -> None:
    """Recompute the audit log's chain and check it against its head (row and file); exits 1
    naming the first entry missing, changed or out of line."""
    platform = _platform(database_url)
    try:
        verdict = platform.audit.verify()
    finally:
        platform.close()
    if not verdict.ok:
        console.print(f"audit log broken at entry {verdict.seq}: {verdict.problem}", markup=False)
        raise typer.Exit(1)
    console.print(f"audit log intact: {verdict.checked} entries")
