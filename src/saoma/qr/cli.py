"""``saoma qr``: make, read and draw EMVCo payment codes from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from saoma.qr import images
from saoma.qr.emv import ADDITIONAL, EmvError, conformant, decode, name_of

app = typer.Typer(help="EMVCo QR payment codes: encode, decode, render.", no_args_is_help=True)
console = Console()


@app.command("encode")
def encode_cmd(
    merchant_id: str = typer.Option(..., help="The merchant id (e.g. m_…)."),
    name: str = typer.Option(..., help="Merchant name, 25 characters at most."),
    city: str = typer.Option("Shenzhen", help="Merchant city, 15 characters at most."),
    mcc: str = typer.Option("5999", help="Merchant category code (ISO 18245)."),
    currency: str = typer.Option("CNY", help="ISO 4217 code."),
    amount: str | None = typer.Option(None, help="Amount in major units, e.g. 25.00 (dynamic)."),
    reference: str | None = typer.Option(None, help="Order reference."),
    name_zh: str = typer.Option("", help="The name in Chinese (alternate language template)."),
) -> None:
    """Print a Saoma payload (static without --amount, dynamic with it)."""
    from saoma.core.money import currency as currency_of
    from saoma.core.money import parse_major
    from saoma.qr.saoma import saoma_payload

    try:
        code = currency_of(currency).alpha  # "cny" and "156" too; an unknown one said as such
        minor = parse_major(amount, code) if amount is not None else None
        payload = saoma_payload(
            merchant_id=merchant_id,
            reference=reference,
            amount_minor=minor,
            currency=code,
            merchant_name=name,
            merchant_name_zh=name_zh,
            city=city,
            category_code=mcc,
        )
        conformant(payload)
    except (ValueError, KeyError) as exc:
        console.print(f"[red]cannot encode:[/red] {exc}")
        raise typer.Exit(2) from exc
    typer.echo(payload)


@app.command("decode")
def decode_cmd(
    payload_text: str | None = typer.Argument(
        None, metavar="PAYLOAD", help="The payload, as text (any length)."
    ),
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Read the payload from this image (PNG, JPEG…) instead."),
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a payload's fields and any tolerated deviation from EMVCo (warnings); exits non-zero
    with the reason when it is not valid."""
    if (payload_text is None) == (file is None):
        console.print("[red]give a payload, or --file with an image, not both[/red]")
        raise typer.Exit(2)
    texts = [payload_text or ""]
    if file is not None:
        if not file.is_file():
            console.print(f"[red]no such file:[/red] {file}", soft_wrap=True)
            raise typer.Exit(2)
        texts = images.read(file)
        if not texts:
            console.print("[red]no code found in the image[/red]")
            raise typer.Exit(1)
    try:
        payload = decode(texts[0])
    except EmvError as exc:
        if as_json:
            typer.echo(json.dumps({"valid": False, "error": str(exc)}))
        else:
            console.print(f"[red]invalid:[/red] {exc}")
        raise typer.Exit(1) from exc
    if as_json:
        out = {"valid": True, "fields": payload.as_dict(), "warnings": list(payload.warnings)}
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    table = Table("ID", "field", "value")
    for f in payload.fields:
        if isinstance(f.value, str):
            table.add_row(f.tag, name_of(f.tag), f.value)
            continue
        table.add_row(f.tag, name_of(f.tag), "")
        for sub in f.value:
            label = ADDITIONAL.get(sub.tag, "") if f.tag == "62" else ""
            table.add_row("", f"  {sub.tag} {label}".rstrip(), sub.text())
    console.print(table)
    if payload.get("54") is not None:
        console.print(f"amount: {payload.amount_minor} minor units of {payload.currency}")
    for warning in payload.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


@app.command("render")
def render_cmd(
    out: Annotated[
        Path, typer.Option("-o", "--out", help="file.png, file.svg or file.pdf (A6 sticker)")
    ],
    payload: str = typer.Argument(..., help="The payload to draw."),
    name: str = typer.Option("", help="Print the merchant's name under the code (PNG, PDF)."),
    name_zh: str = typer.Option("", help="And in Chinese."),
) -> None:
    """Draw the code: SVG, PNG, or a printable A6 sticker at 300 dpi (PDF, or PNG with --name)."""
    try:
        decode(payload)
    except EmvError as exc:
        console.print(f"[red]invalid:[/red] {exc}")
        raise typer.Exit(1) from exc
    suffix = out.suffix.lower()
    if suffix == ".svg":
        out.write_bytes(images.svg(payload))
    elif suffix == ".png" and not (name or name_zh):
        out.write_bytes(images.png(payload))
    elif suffix in (".png", ".pdf"):
        images.sticker(payload, name, name_zh=name_zh).save(out, resolution=300.0)
    else:
        console.print("[red]the output must end in .png, .svg or .pdf[/red]")
        raise typer.Exit(2)
    console.print(f"wrote {out}", soft_wrap=True, markup=False)  # a path to copy: never wrapped
