"""`aicensus models`: who built a model (whois), the provenance catalog (list), vendor due diligence
(card) and open alternatives from other countries (alternatives)."""

from __future__ import annotations

from collections.abc import Sequence

import click
import msgspec

from aicensus import api
from aicensus.cli.app import Group
from aicensus.cli.output import print_table
from aicensus.errors import AicensusError

FORMATS = click.Choice(["table", "json"])
CARD_FORMATS = click.Choice(list(api.CARD_FORMATS))
_WHOIS_COLUMNS = ("NAME", "DEVELOPER", "CC", "LICENCE", "BASE", "GUARDRAILS", "CONF")
_LIST_COLUMNS = ("FAMILY", "DEVELOPER", "CC", "LICENCE", "OPEN", "SINCE", "OLLAMA NAMES")
_MAX_CELL = 38


@click.group(name="models", cls=Group)
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
    results = api.whois(names, family=family)
    if fmt == "json":
        rows = [_whois_json(r) for r in results]
        click.echo(msgspec.json.format(msgspec.json.encode(rows), indent=2).decode())
        return
    print_table(_WHOIS_COLUMNS, [_whois_row(r) for r in results], clip=_MAX_CELL)
    for r in results:  # a family match is weaker than a name match: say what it rests on
        att = r.attribution
        if att.matched_by == "family" and att.evidence:
            click.echo(f"{r.name}: matched by family only: {att.evidence[0]}")


def _whois_json(result: api.Whois) -> dict[str, object]:
    att = result.attribution
    return {
        "name": result.name,
        "status": att.status,
        "developer": att.developer,
        "country": att.country,
        "licence": att.licence,
        "family": att.family,
        "base": msgspec.to_builtins(att.base) if att.base else None,
        "guardrails_removed": att.guardrails_removed,
        "cloud": result.cloud,
        "confidence": att.confidence,
        "matched_by": att.matched_by,
        "candidates": att.candidates,
        "evidence": att.evidence,
    }


def _whois_row(result: api.Whois) -> tuple[str, ...]:
    att = result.attribution
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
        result.name,
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
    rows = api.list_models(country=country, developer=developer, licence=licence)
    if fmt == "json":
        click.echo(msgspec.json.format(msgspec.json.encode(rows), indent=2).decode())
        return
    print_table(_LIST_COLUMNS, [_list_row(r) for r in rows], clip=_MAX_CELL)
    click.echo(f"{len(rows)} families", err=True)


def _list_row(row: api.FamilySummary) -> tuple[str, ...]:
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


@models_group.command("card")
@click.argument("name")
@click.option("--format", "fmt", type=CARD_FORMATS, default="table", show_default=True)
def card_command(name: str, fmt: str) -> None:
    """Due-diligence record for NAME: developer, jurisdictions, licence, data, advisories, sources.

    A fine-tune or distill also shows the record of the model its weights come from."""
    card = api.card(name)
    if card.model is None or card.status == "ambiguous":
        click.echo(f"aicensus: {card.message or f'{name}: unknown model'}", err=True)
        raise SystemExit(1)
    click.echo(api.format_card(card, fmt))


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
        return api.parse_max_params(value)
    except AicensusError as exc:
        raise click.BadParameter(str(exc)) from exc


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
    result = api.alternatives(
        name,
        exclude_countries=exclude,
        licence_class=licence_class,
        max_params=max_params,
        limit=limit,
    )
    if result is None:
        click.echo(f"aicensus: {name}: no catalog family matches this name", err=True)
        raise SystemExit(1)
    click.echo(api.format_alternatives(result, fmt))
