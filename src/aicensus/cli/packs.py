"""`aicensus policy packs list|show`, `aicensus policy check --pack` and `aicensus report compliance`:
published rules as policy packs (aicensus.api: packs, pack, check_packs, compliance_report) over a
stored scan or an audit JSON.

Exit status of check and report: 0 no violation, 1 violations, 2 error (one line).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click
import msgspec

from aicensus import api
from aicensus.cli.app import Command, Group, fail
from aicensus.cli.output import output_file


@click.group("packs", cls=Group)
def packs_group() -> None:
    """Bundled policy packs: published AI restrictions and licence terms as policies."""


@packs_group.command("list")
def list_command() -> None:
    """One line per pack: name, status, date, title."""
    for p in api.packs():
        click.echo(f"{p.name:36} {p.status:9} {p.date}  {api.terminal_safe(p.title, 100)}")


@packs_group.command("show")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="text, or the pack as JSON.")  # fmt: skip
def show_command(name: str, fmt: str) -> None:
    """A pack's metadata (issuer, jurisdiction, status, date, source, scope) and its rules."""
    pack = api.pack(name)
    if fmt == "json":
        click.echo(msgspec.json.format(msgspec.json.encode(pack), indent=2).decode())
        return
    s = api.terminal_safe
    lines = [
        f"{pack.name}: {s(pack.title, 200)}",
        f"  issuer:       {s(pack.issuer, 200)}",
        f"  jurisdiction: {s(pack.jurisdiction, 200)}",
        f"  status:       {pack.status}{' (matches reported as review)' if pack.advisory else ''}",
        f"  date:         {pack.date}",
        f"  source:       {s(pack.source, 300)}",
        *(f"  also:         {s(u, 300)}" for u in pack.sources),
        f"  covers:       {', '.join(pack.covers)}",
        f"  scope:        {s(pack.scope_note, 2000)}",
        f"  checked:      {s(pack.verification, 1000)}",
        "  frameworks:   " + "; ".join(
            f"{k} {', '.join(getattr(pack.refs, k))}" for k in ("owasp", "atlas", "cwe", "nist")
            if getattr(pack.refs, k)
        ),
        f"  min confidence: {pack.min_confidence:.2f}; unattributed models: {pack.unknown}",
    ]  # fmt: skip
    for key, param in pack.params.items():
        lines.append(
            f"  param {key}: {s(param.description, 200)} (default {','.join(param.default)})"
        )
    if pack.profiles:
        lines.append(f"  profiles: {', '.join(pack.profiles)} (default {pack.default_profile})")
    if pack.policy:
        lines.append(f"  policy: {msgspec.json.encode(pack.policy).decode()}")
    for c in pack.clauses:
        lines.append(f"  clause {c.id} [{c.verdict}] {s(c.title, 200)}")
        lines.append(f"    \u201c{s(c.quote, 1000)}\u201d ({s(c.source, 300)})")
    click.echo("\n".join(lines))


def pack_options(f: Any) -> Any:
    f = click.option(
        "--profile", default=None, help="Pack profile (licence-terms: commercial|research)."
    )(f)
    f = click.option("--param", "params", multiple=True, metavar="NAME=V[,V]",
                     help="Pack parameter, e.g. countries=CN,RU.")(f)  # fmt: skip
    f = click.option("--pack", "packs", multiple=True, metavar="NAME",
                     help="Bundled pack name or pack file (repeatable).")(f)  # fmt: skip
    return f


@click.command("compliance", cls=Command)
@pack_options
@click.option("--db", default="aicensus.duckdb", show_default=True, help="Store to read.")
@click.option("--scan", "scan_id", type=int, default=None, help="Scan id (default: latest).")
@click.option("--audit", "audit_file", default=None, metavar="FILE",
              help="Read an `aicensus audit --format json` file instead of a store.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(api.COMPLIANCE_FORMATS),
              default="text", show_default=True)  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of standard output.")  # fmt: skip
def compliance_command(
    packs: tuple[str, ...], params: tuple[str, ...], profile: str | None, db: str,
    scan_id: int | None, audit_file: str | None, fmt: str, output: str | None,
) -> None:  # fmt: skip
    """Per pack: what violates it, where, since when, with evidence and alternatives."""
    if not packs:
        fail("give at least one --pack (see `aicensus policy packs list`)")
    report = api.compliance_report(
        packs, db=db, scan_id=scan_id, audit=audit_file, params=params, profile=profile
    )
    text = api.render_compliance(report, fmt)
    with output_file(output) as out:
        out.write(text)
    sys.exit(_status(report))


def check_packs_command(
    packs: Sequence[str], params: Sequence[str], profile: str | None, db: str,
    scan_id: int | None, audit_file: str | None, fmt: str,
) -> int:  # fmt: skip
    """`policy check --pack`: the violations table or JSON; returns the exit status."""
    report = api.check_packs(
        packs, db=db, scan_id=scan_id, audit=audit_file, params=params, profile=profile
    )
    click.echo(api.render_compliance(report, "json" if fmt == "json" else "text"), nl=False)
    return _status(report)


def _status(report: api.ComplianceReport) -> int:
    """0 when no pack is violated, 1 otherwise (unknown and review items do not fail)."""
    return 0 if all(p.compliant for p in report.packs) else 1
