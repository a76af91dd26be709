"""`aicensus advisories list|show|update`: the offline advisory bundle (assess/advisories)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import msgspec

from aicensus import api
from aicensus.cli.app import Group


def _row(adv: api.Advisory) -> dict[str, object]:
    return {
        "id": adv.id,
        "aliases": adv.osv.aliases,
        "product": adv.product,
        "severity": adv.severity,
        "cvss": adv.score,
        "known_exploited": bool(adv.known_exploited),
        "confidence": adv.confidence,
        "affected": api.affected_ranges(adv),
        "summary": adv.osv.summary,
    }


@click.group("advisories", cls=Group)
def advisories_group() -> None:
    """Published advisories (OSV) for the products aicensus identifies: bundled, offline."""


@advisories_group.command("list")
@click.option("--product", "-p", help="Only this product (e.g. ollama, vllm).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def list_command(product: str | None, fmt: str) -> None:
    """List the advisories of the installed bundle."""
    chosen = api.advisories(product)
    bundle = api.advisory_bundle()
    if fmt == "json":
        doc = {
            "bundle": {"date": bundle.date, "location": bundle.location},
            "advisories": [_row(a) for a in chosen],
        }
        click.echo(json.dumps(doc, indent=1))
        return
    click.echo(f"# advisory bundle of {bundle.date}: {len(chosen)} advisories")
    for a in chosen:
        score = f"{a.score:.1f}" if a.score is not None else "-"
        kev = " KEV" if a.known_exploited else ""
        line = (
            f"{a.id:<22} {a.product:<16} {a.severity:<8} {score:>4}{kev}  {api.affected_ranges(a)}"
        )
        click.echo(f"{line}  {a.osv.summary[:80]}")


@advisories_group.command("show")
@click.argument("ident")
def show_command(ident: str) -> None:
    """Show one advisory (by its id or any alias) as OSV JSON, with aicensus's reading of it."""
    for adv in api.advisory(ident):
        doc = msgspec.to_builtins(adv.osv)
        doc["aicensus_reading"] = _row(adv) | {"vector": adv.vector, "source": adv.source}
        click.echo(json.dumps(doc, indent=1, ensure_ascii=False))


@advisories_group.command("update")
@click.option(
    "--from", "source", required=True, type=click.Path(path_type=Path),
    help="A directory, .zip or .tar(.gz) of OSV JSON records.",
)  # fmt: skip
def update_command(source: Path) -> None:
    """Merge OSV records into the bundle (written to the user's data folder; no network)."""
    result = api.update_advisories(source)
    click.echo(
        f"read {result.read} records: {result.added} added, {result.replaced} replaced, "
        f"{result.unmapped} about other packages, {len(result.invalid)} invalid; "
        f"bundle now {result.total} advisories, dated {result.date} ({result.folder})"
    )
    for line in result.invalid[:20]:
        click.echo(f"skipped: {line}", err=True)
    if len(result.invalid) > 20:
        click.echo(f"skipped: … {len(result.invalid) - 20} more", err=True)
