"""`aicensus models`: who built a model (whois), the provenance catalog (list), vendor due diligence
(card) and open alternatives from other countries (alternatives)."""

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
from aicensus.attribute.alternatives import find_alternatives, parse_max_params
from aicensus.attribute.card_format import alternatives_text, card_markdown, card_text
from aicensus.attribute.diligence import model_card
from aicensus.records import Attribution, ModelRecord

FORMATS = click.Choice(["table", "json"])
CARD_FORMATS = click.Choice(["table", "json", "markdown"])
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
    for name, att in results:  # a family match is weaker than a name match: say what it rests on
        if att.matched_by == "family" and att.evidence:
            click.echo(f"{name}: matched by family only: {att.evidence[0]}")


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
        "matched_by": att.matched_by,
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


@models_group.command("card")
@click.argument("name")
@click.option("--format", "fmt", type=CARD_FORMATS, default="table", show_default=True)
def card_command(name: str, fmt: str) -> None:
    """Due-diligence record for NAME: developer, jurisdictions, licence, data, advisories, sources.

    A fine-tune or distill also shows the record of the model its weights come from."""
    card = model_card(name)
    if card.model is None or card.status == "ambiguous":
        click.echo(f"aicensus: {card.message or f'{name}: unknown model'}", err=True)
        raise SystemExit(1)
    if fmt == "json":
        click.echo(msgspec.json.format(msgspec.json.encode(card), indent=2).decode())
    elif fmt == "markdown":
        click.echo(card_markdown(card))
    else:
        click.echo(card_text(card))


def _countries(_ctx: click.Context, _param: click.Parameter, values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        for code in value.replace(",", " ").split():
            if len(code) != 2 or not code.isalpha():
                raise click.BadParameter(f"'{code}' is not an ISO 3166-1 alpha-2 country code")
            out.append(code.upper())
    return out


def _max_params(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    try:
        return parse_max_params(value)
    except ValueError as exc:
        raise click.BadParameter(f"'{value}' is not a parameter count (8, 8b, 500m)") from exc


@models_group.command("alternatives")
@click.argument("name")
@click.option(
    "--exclude-country",
    "exclude",
    multiple=True,
    callback=_countries,
    metavar="CC",
    help="Drop models whose developer, or whose base weights' developer, is in this country "
    "(repeatable; ISO 3166-1 alpha-2).",
)
@click.option(
    "--licence-class",
    "--license-class",
    "licence_class",
    type=click.Choice(["permissive", "any"]),
    default="any",
    show_default=True,
)
@click.option(
    "--max-params",
    default=None,
    callback=_max_params,
    metavar="N",
    help="Largest model to propose, in billions of parameters (8, 8b, 500m).",
)
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def alternatives_command(
    name: str,
    exclude: list[str],
    licence_class: str,
    max_params: float | None,
    limit: int,
    fmt: str,
) -> None:
    """Open models comparable to NAME (purpose, modality, capabilities, size, context), ranked."""
    result = find_alternatives(
        name,
        exclude_countries=exclude,
        licence_class=licence_class,
        max_params=max_params,
        limit=limit,
    )
    if result is None:
        click.echo(f"aicensus: {name}: no catalog family matches this name", err=True)
        raise SystemExit(1)
    if fmt == "json":
        click.echo(msgspec.json.format(msgspec.json.encode(result), indent=2).decode())
        return
    click.echo(alternatives_text(result))
