"""`aicensus models`: who built a model (whois), and the provenance catalog (list)."""

from __future__ import annotations

from collections.abc import Sequence

import click
import msgspec

from aicensus.attribute import (
    FamilySummary,
    attribute_model,
    is_cloud_name,
    list_families,
)
from aicensus.records import Attribution, ModelRecord

FORMATS = click.Choice(["table", "json"])
_WHOIS_COLUMNS = ("NAME", "DEVELOPER", "CC", "LICENCE", "BASE", "GUARDRAILS", "CONF")
_LIST_COLUMNS = ("FAMILY", "DEVELOPER", "CC", "LICENCE", "OPEN", "SINCE", "OLLAMA NAMES")
_MAX_CELL = 38


@click.group(name="models")
def models_group() -> None:
    """Attribute AI models to their developers, and browse the provenance catalog."""


@models_group.command("whois")
@click.argument("names", nargs=-1, required=True)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option(
    "--family",
    "family",
    default=None,
    metavar="ARCH",
    help="Ollama details.family / GGUF general.architecture reported with the names.",
)
def whois_command(names: Sequence[str], fmt: str, family: str | None) -> None:
    """Who developed each model NAME (Ollama name, Hugging Face id or GGUF file name)."""
    results = [(name, attribute_model(ModelRecord(name=name, family=family))) for name in names]
    if fmt == "json":
        rows = [_whois_json(name, att) for name, att in results]
        click.echo(msgspec.json.format(msgspec.json.encode(rows), indent=2).decode())
        return
    _echo_table(_WHOIS_COLUMNS, [_whois_row(name, att) for name, att in results])


def _whois_json(name: str, att: Attribution) -> dict[str, object]:
    return {
        "name": name,
        "status": att.status,
        "developer": att.developer,
        "country": att.country,
        "licence": att.licence,
        "family": att.family,
        "base": msgspec.to_builtins(att.base) if att.base else None,
        "guardrails_removed": att.guardrails_removed,
        "cloud": is_cloud_name(name),
        "confidence": att.confidence,
        "candidates": att.candidates,
        "evidence": att.evidence,
    }


def _whois_row(name: str, att: Attribution) -> tuple[str, ...]:
    if att.status == "attributed":
        developer = att.developer or "?"
    elif att.status == "ambiguous":
        developer = f"ambiguous: {', '.join(att.candidates[:3])}" + (
            f" +{len(att.candidates) - 3}" if len(att.candidates) > 3 else ""
        )
    else:
        developer = "unknown"
    base = f"{att.base.developer} ({att.base.country or '?'})" if att.base else ""
    return (
        name,
        developer,
        att.country or "",
        att.licence or "",
        base,
        "removed" if att.guardrails_removed else "",
        f"{att.confidence:.2f}",
    )


@models_group.command("list")
@click.option(
    "--country", default=None, help="Developer headquarters, ISO 3166-1 alpha-2 (CN, US, FR ...)."
)
@click.option("--developer", default=None, help="Developer name or id contains this text.")
@click.option("--licence", "--license", "licence", default=None, help="Licence contains this text.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def list_command(country: str | None, developer: str | None, licence: str | None, fmt: str) -> None:
    """List the model families in the provenance catalog."""
    rows = list_families(country=country, developer=developer, licence=licence)
    if fmt == "json":
        click.echo(msgspec.json.format(msgspec.json.encode(rows), indent=2).decode())
        return
    _echo_table(_LIST_COLUMNS, [_list_row(r) for r in rows])
    click.echo(f"{len(rows)} families", err=True)


def _list_row(row: FamilySummary) -> tuple[str, ...]:
    open_weights = (
        row.open_weights
        if isinstance(row.open_weights, str)
        else "yes"
        if row.open_weights
        else "no"
    )
    return (
        row.id,
        row.developer or "unknown",
        row.country or "",
        row.licence,
        open_weights,
        row.first_release,
        ", ".join(row.ollama),
    )


def _echo_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    cells = [[_clip(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(columns)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"
