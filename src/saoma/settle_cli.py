"""``saoma settle``: a settlement run now, and the operator's settlement terms per merchant."""

from __future__ import annotations

import time

import typer
from rich.console import Console

app = typer.Typer(
    help="Settle merchants' money and pay it to their banks.", invoke_without_command=True
)
console = Console()
DatabaseOption = typer.Option(
    None, "--database-url", envvar="SAOMA_DATABASE_URL", help="Defaults to the embedded SQLite."
)
WAIT_S = 30.0  # how long a run waits for the sandbox bank's answers before it exits


def _platform(database_url: str | None):  # type: ignore[no-untyped-def]
    from saoma.bootstrap import Platform
    from saoma.config import normalise_database_url

    return Platform.open(normalise_database_url(database_url) if database_url else None)


@app.callback()
def settle(
    ctx: typer.Context,
    database_url: str | None = DatabaseOption,
    at: str | None = typer.Option(
        None, "--at", help="Run as if it were this ISO time (e.g. 2026-12-06T00:05+08:00)."
    ),
) -> None:
    """Settle every merchant whose cut-off has passed and send the payouts (safe to run while
    servers run, and in several processes at once)."""
    if ctx.invoked_subcommand is not None:
        return
    from saoma.core.errors import SaomaError
    from saoma.settlement.terms import run_time

    try:
        now = None if at is None else run_time(at, "--at")
    except SaomaError as exc:
        console.print(f"[red]{exc} (got {at!r})")
        raise typer.Exit(2) from None
    platform = _platform(database_url)
    try:
        figures = platform.settlement.run(now)
        quiet = getattr(platform.bank, "quiet", None)
        deadline = time.monotonic() + WAIT_S
        while quiet is not None and not quiet() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        platform.close()
    console.print(
        f"settled {figures['merchants']} merchants: {figures['settlements']} settlements made,"
        f" {figures['moved']} moved that an earlier run had closed"
    )


@app.command("terms")
def terms(
    merchant_id: str = typer.Argument(..., help="The merchant's id (m_…)."),
    schedule: str | None = typer.Option(None, help="daily or weekly"),
    cutoff_hour: int | None = typer.Option(None, help="0-23, local time (0 is T+1)"),
    weekday: str | None = typer.Option(None, help="monday … sunday (weekly)"),
    reserve_percent: float | None = typer.Option(None, help="rolling reserve, e.g. 10"),
    reserve_days: int | None = typer.Option(None, help="how long a reserve is held"),
    overdraft: int | None = typer.Option(None, help="overdraft limit, minor units"),
    database_url: str | None = DatabaseOption,
) -> None:
    """Show or change a merchant's settlement terms (the reserve and overdraft are the
    operator's; the schedule the merchant can also choose in the dashboard)."""
    from saoma.core.errors import SaomaError

    changes = {
        "schedule": schedule,
        "cutoff_hour": cutoff_hour,
        "weekday": weekday,
        "reserve_ppm": None if reserve_percent is None else round(reserve_percent * 10_000),
        "reserve_days": reserve_days,
        "overdraft_limit": overdraft,
    }
    platform = _platform(database_url)
    try:
        platform.merchants.get(merchant_id)
        shown = platform.settlement.settlements.terms.set(merchant_id, **changes)
    except SaomaError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from None
    finally:
        platform.close()
    for name, value in shown.items():
        console.print(f"{name:16} {value}")
