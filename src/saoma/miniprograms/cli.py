"""``saoma approve-mini-program``: an operator lets a registered mini-program into the wallet."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console()
DatabaseOption = typer.Option(
    None, "--database-url", envvar="SAOMA_DATABASE_URL", help="Defaults to the embedded SQLite."
)


def approve_mini_program(
    mini_program_id: str = typer.Argument(..., help="The mini-program's id (mp_…)."),
    database_url: str | None = DatabaseOption,
) -> None:
    """Approve a mini-program: the wallet lists it under Services and may open its origin."""
    from saoma.bootstrap import Platform
    from saoma.config import normalise_database_url
    from saoma.core.errors import SaomaError
    from saoma.miniprograms.service import MiniPrograms

    platform = Platform.open(normalise_database_url(database_url) if database_url else None)
    try:
        minis = MiniPrograms(platform.engine, platform.wallets, platform.identifiers)
        approved = minis.approve(mini_program_id)
    except SaomaError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    finally:
        platform.close()
    console.print(
        f"{approved['id']} approved: {approved['name']} ({approved['name_zh']}),"
        f" served from {approved['origin']}",
        markup=False,
    )
