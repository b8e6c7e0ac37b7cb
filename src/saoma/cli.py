"""The ``saoma`` command line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from saoma.config import get_settings
from saoma.db import make_engine, migrate
from saoma.miniprograms.cli import approve_mini_program
from saoma.ops_cli import audit_app, operators_app
from saoma.qr.cli import app as qr_app
from saoma.settle_cli import app as settle_app

if TYPE_CHECKING:
    from saoma.bootstrap import Platform

app = typer.Typer(
    help="Saoma: open QR-code payments.", no_args_is_help=True, pretty_exceptions_enable=False
)
db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)
ledger_app = typer.Typer(help="The ledger: reconciliation and maintenance.", no_args_is_help=True)
bank_app = typer.Typer(help="Money to and from banks: what needs a person.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(bank_app, name="bank")
console = Console()

app.add_typer(qr_app, name="qr")  # the QR commands live with the QR package
app.add_typer(settle_app, name="settle")  # and settlement's with settlement
app.add_typer(operators_app, name="operators")  # the operators' and the audit trail's
app.add_typer(audit_app, name="audit")
app.command("approve-mini-program")(approve_mini_program)  # the mini-programs' own command

DatabaseOption = typer.Option(
    None, "--database-url", envvar="SAOMA_DATABASE_URL", help="Defaults to the embedded SQLite."
)


def _url(database_url: str | None) -> str:
    if database_url:
        from saoma.config import normalise_database_url

        return normalise_database_url(database_url)
    return get_settings().resolved_database_url()


@app.command("errors")
def errors_catalogue() -> None:
    """Print every problem type the API returns (slug, title, status, doc, type URI) as JSON."""
    from saoma.api.problems import catalogue

    print(json.dumps(catalogue(), indent=2, ensure_ascii=False))


@db_app.command("migrate")
def db_migrate(database_url: str | None = DatabaseOption) -> None:
    """Create or upgrade the schema to the newest migration."""
    url = _url(database_url)
    migrate(url)
    console.print(f"[green]migrated[/green] {url.split('@')[-1]}")


@ledger_app.command("check")
def ledger_check(
    database_url: str | None = DatabaseOption,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Prove the books add up: zero-sum per currency, balances = sums, flags respected."""
    from saoma.ledger.check import check_ledger

    report = check_ledger(make_engine(_url(database_url)))
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "accounts": report.accounts_checked,
                    "transfers": report.transfers_checked,
                    "posted_per_currency": report.currencies,
                    "problems": report.problems,
                }
            )
        )
    else:
        table = Table("currency", "posted volume (minor units)")
        for code, volume in sorted(report.currencies.items()):
            table.add_row(code, str(volume))
        console.print(table)
        console.print(
            f"{report.accounts_checked} accounts, {report.transfers_checked} transfers checked"
        )
        for problem in report.problems:
            console.print(f"[red]✗[/red] {problem}")
        if report.ok:
            console.print("[green]✓ the ledger balances[/green]")
    raise typer.Exit(0 if report.ok else 1)


@bank_app.command("attention")
def bank_attention(
    database_url: str | None = DatabaseOption,
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List bank instructions only a person can settle (top-ups, withdrawals and merchants'
    payouts); exits 1 if there is any."""
    from saoma.core.money import format_minor
    from saoma.funding.service import needing_attention
    from saoma.settlement import payouts

    engine = make_engine(_url(database_url))
    try:
        rows = needing_attention(engine) + payouts.needing_attention(engine)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
    elif rows:
        table = Table()
        for column in ("instruction", "who", "amount", "bank reference"):
            table.add_column(column, no_wrap=True)
        table.add_column("why")
        for row in rows:
            table.add_row(
                row["id"],
                row["login"],
                f"{row['direction']} {row['currency']} "
                + format_minor(row["amount"], row["currency"]),
                row["bank_reference"],
                f"{row['why']} (since {row['updated_at']})",
            )
        console.print(table)
    else:
        console.print("[green]✓ no bank instruction needs a person[/green]")
    raise typer.Exit(1 if rows else 0)


@ledger_app.command("sweep")
def ledger_sweep(database_url: str | None = DatabaseOption) -> None:
    """Release every hold whose timeout has passed."""
    from saoma.ledger import Ledger

    with Ledger.from_url(_url(database_url)) as ledger:
        released = ledger.expire_due()
    console.print(f"released {released} expired holds")


HostOption = typer.Option("127.0.0.1", "--host", envvar="SAOMA_HOST", help="Address to listen on.")
PortOption = typer.Option(8000, "--port", envvar="SAOMA_PORT", help="Port to listen on.")


KEEP_ALIVE_S = 75


SWITCH_INTERVAL_S = 0.0005
WORKER_HEALTHCHECK_S = 120
WorkersOption = typer.Option(
    1,
    "--workers",
    envvar="SAOMA_WORKERS",
    min=1,
    max=64,
    help="Processes serving the one port (each with its own connections and background jobs).",
)


def _serve(url: str, host: str, port: int, *, demo: bool, workers: int = 1) -> None:
    import sys

    import uvicorn

    # Every database call gives up the GIL and must win it back; at the default 5 ms switch
    # interval a thread holding a row lock (or SQLite's write lock) waits behind busy threads.
    sys.setswitchinterval(SWITCH_INTERVAL_S)

    from saoma.bootstrap import Platform

    # Migrated and seeded once, here, before any worker starts.
    platform = Platform.open(url)
    platform.demo = demo
    if demo:
        from saoma.demo import seed

        seed(platform)
        from saoma.demo_apps.launch import start_bike, start_table, start_transit

        bike = start_bike(platform, host, port + 1, f"http://{host}:{port}")
        console.print(f"The shared-bike mini-program on {bike} (wallet → Services)")
        table, kitchen = start_table(platform, host, port + 2, f"http://{host}:{port}")
        console.print(f"Ordering at the table on {table} (wallet → Services)")
        console.print(f"  its kitchen's screen: {kitchen}", soft_wrap=True)
        transit = start_transit(platform, host, port + 3, f"http://{host}:{port}")
        console.print(f"The transit-pass mini-program on {transit} (wallet → Services)")
    console.print(
        f"[green]Saoma[/green] on http://{host}:{port}"
        + (" [yellow](demo mode)[/yellow]" if demo else "")
        + (f" — {workers} worker processes" if workers > 1 else "")
        + f" — database {url.split('@')[-1]}"
    )
    if demo:
        _print_demo_operators(platform, f"http://{host}:{port}")
    # Idle connections are kept longer than clients keep theirs (httpx: 5 s, browsers: more), so
    # the client closes first: a server closing at the same moment a client reuses the
    # connection makes the request fail with "disconnected without a response".
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "timeout_keep_alive": KEEP_ALIVE_S,
    }
    if workers == 1:
        from saoma.server import create_app

        uvicorn.run(create_app(platform, freeze_heap=True), **options)
        return
    platform.close()  # each worker builds its own over the database made ready above
    os.environ["SAOMA_DATABASE_URL"] = url
    os.environ["SAOMA_DEMO"] = "1" if demo else "0"
    # A worker answers the parent's health check once it has imported Saoma and built its
    # platform: seconds on a loaded machine, where uvicorn's 5 s would kill it and start another.
    uvicorn.run(
        "saoma.cli:worker_app",
        factory=True,
        workers=workers,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        **options,
    )


def worker_app() -> Any:
    """The application of one worker process of ``saoma serve --workers N``: a platform of its
    own (connections, background jobs) over the database the parent migrated (and seeded)."""
    import sys

    from saoma.bootstrap import Platform
    from saoma.server import create_app

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    get_settings.cache_clear()
    platform = Platform.open(settings=get_settings(), migrate_first=False)
    return create_app(platform, freeze_heap=True)


def _print_demo_operators(platform: Platform, url: str) -> None:
    """The demo's operators: their logins, the demo password, and the otpauth:// URIs to scan
    (also drawn as QR codes on the start page)."""
    from saoma.demo import DEMO_PASSWORD, demo_operators

    console.print(f"Operators sign in at {url}/console with password {DEMO_PASSWORD}:")
    for found in demo_operators(platform):
        console.print(f"  {found.role:<8} {found.login}  {found.uri}", soft_wrap=True)


@app.command()
def serve(
    host: str = HostOption,
    port: int = PortOption,
    database_url: str | None = DatabaseOption,
    workers: int = WorkersOption,
) -> None:
    """Run the API (and pages); a database that does not exist yet is created and migrated.
    With --workers N, N processes share the port (docs/processes.md)."""
    _serve(_url(database_url), host, port, demo=get_settings().demo, workers=workers)


@app.command()
def demo(
    host: str = HostOption,
    port: int = PortOption,
    database_url: str | None = DatabaseOption,
    workers: int = WorkersOption,
) -> None:
    """Seed a small Shenzhen world of merchants and consumers, then serve it in demo mode."""
    # The demo's webhooks go to the machine it runs on.
    os.environ.setdefault("SAOMA_ALLOW_PRIVATE_WEBHOOKS", "1")
    get_settings.cache_clear()
    _serve(_url(database_url), host, port, demo=True, workers=workers)


@app.command("rotate-pin-key")
def rotate_pin_key() -> None:
    """Put a new key first in SAOMA_PIN_KEY_FILE: new PINs are sealed under it, and each PIN
    sealed under an older key (which stays in the file) moves to it at its next right entry."""
    from saoma.core.keyfile import rotate

    path = get_settings().resolved_pin_key_file()
    console.print(f"PIN key {rotate(path)} is now first in {path}; restart nothing: processes")
    console.print("read the file again when they meet a PIN sealed under a key they do not know.")


@app.command("rotate-kyc-key")
def rotate_kyc_key(
    database_url: str | None = DatabaseOption,
    no_new_key: bool = typer.Option(
        False, "--no-new-key", help="Only re-encrypt what an older key still seals."
    ),
) -> None:
    """Put a new key first in SAOMA_KYC_KEY_FILE and re-encrypt every owner's ID number under
    it; then the older keys can leave the file (kept with the backups that still need them)."""
    from saoma.bootstrap import Platform
    from saoma.core.keyfile import load_or_make, rotate

    path = get_settings().resolved_kyc_key_file()
    key_id = load_or_make(path)[0][0] if no_new_key else rotate(path)
    platform = Platform.open(_url(database_url))
    try:
        moved, older = platform.kyc.reseal()
    finally:
        platform.close()
    console.print(
        f"KYC key {key_id} is first in {path}: {moved} ID numbers re-encrypted", soft_wrap=True
    )
    if older:  # sealed by a process still on the older key as this ran
        console.print(
            f"[yellow]{older} still under an older key: run saoma rotate-kyc-key --no-new-key"
            " again[/yellow]"
        )
        raise typer.Exit(1)
    console.print("Nothing is sealed under the older keys now: they may leave the file, kept")
    console.print("with the database backups made before (those still need them).")


@app.command("check-authorisations")
def check_authorisations_cmd(database_url: str | None = DatabaseOption) -> None:
    """Prove every consumer wallet debit rests on a consent the rules allowed: a recorded PIN
    check used once, a consented hold, or the no-PIN limits in force at the time (per wallet and
    day, in SAOMA_TIMEZONE). Exits 1 naming each debit that breaks them."""
    from zoneinfo import ZoneInfo

    from saoma.authorisations import check_authorisations

    engine = make_engine(_url(database_url))
    problems = check_authorisations(engine, tz=ZoneInfo(get_settings().timezone))
    for problem in problems:
        console.print(f"[red]✗[/red] {problem}")
    if not problems:
        console.print("[green]✓ every wallet debit rests on the payer's authorisation[/green]")
    raise typer.Exit(1 if problems else 0)


WIDE = 140  # a table of breaks: wide enough for whole ids when the output is not a terminal
StatementArgument = typer.Argument(
    None, help="The bank's statement (camt.053 XML) to import.", show_default=False
)


@app.command("reconcile")
def reconcile_cmd(
    file: Path | None = StatementArgument,
    show_open: bool = typer.Option(False, "--open", help="List the breaks still open."),
    resolve: str | None = typer.Option(None, "--resolve", metavar="BREAK_ID"),
    note: str | None = typer.Option(None, "--note", help="How the break was resolved."),
    database_url: str | None = DatabaseOption,
) -> None:
    """Match the bank's statement to Saoma's payouts, top-ups and withdrawals of its date and
    list every break; --resolve BREAK_ID --note TEXT closes one. Exits 1 while any break (of
    any statement) is open, 2 for a file that is not a camt.053 statement."""
    from saoma.core.errors import SaomaError
    from saoma.settlement import reconcile as recon

    asked = (file is not None) + (resolve is not None) + show_open
    if asked != 1 or (resolve is not None and not note):
        console.print("[red]give a FILE, --open, or --resolve BREAK_ID --note TEXT[/red]")
        raise typer.Exit(2)
    engine = make_engine(_url(database_url))
    try:
        if resolve is not None:
            done = recon.resolve(engine, resolve, note or "")
            console.print(f"[green]✓ resolved[/green] {done['kind']} {done['reference']}")
        elif file is not None:
            report = recon.reconcile(engine, file.read_bytes(), file_name=file.name)
            again = "" if report.imported else " (imported before: nothing changed)"
            console.print(
                f"statement {report.statement_id} of {report.day}: {report.lines} lines, "
                f"{len(report.breaks)} breaks{again}",
                soft_wrap=True,
            )
            _breaks_table(report.breaks)
        still_open = recon.open_breaks(engine)
    except (OSError, recon.StatementRefused, SaomaError) as exc:
        console.print(f"[red]✗ {exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    if show_open:
        _breaks_table(still_open)
    if still_open:
        console.print(f"[yellow]{len(still_open)} break(s) open[/yellow]")
    else:
        console.print("[green]✓ no break open[/green]")
    raise typer.Exit(1 if still_open else 0)


def _breaks_table(breaks: list[dict[str, Any]]) -> None:
    from saoma.core.money import format_minor

    code = get_settings().currency  # a break keeps no currency: the platform has one

    def money(amount: int | None) -> str:
        return "" if amount is None else format_minor(amount, code)

    table = Table()
    for column in ("break", "date", "kind", "reference", "Saoma amount", "bank amount", "state"):
        # an id is whole or useless: wrapped, never cut short
        table.add_column(
            column,
            overflow="fold",
            min_width=10 if column == "date" else None,
            justify="right" if "amount" in column else "left",
        )
    for b in breaks:
        state = b["state"] + (f": {b['note']}" if b["note"] else "")
        table.add_row(
            b["id"],
            b["statement_date"],
            b["kind"],
            b["reference"],
            money(b["expected"]),
            money(b["reported"]),
            state,
        )
    if breaks:
        (console if console.is_terminal else Console(width=WIDE)).print(table)


if __name__ == "__main__":  # pragma: no cover
    app()
