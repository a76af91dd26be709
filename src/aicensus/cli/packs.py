"""`aicensus policy packs list|show`, `aicensus policy check --pack` and `aicensus report compliance`:
published rules as policy packs (assess/compliance.py) over a stored scan or an audit JSON.

Exit status of check and report: 0 no violation, 1 violations, 2 error (one line).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
import msgspec

from aicensus.assess.compliance import PackRun, builtin_packs, load_pack, parse_params, prepare
from aicensus.errors import AicensusError
from aicensus.report.text import terminal_safe


def _fail(exc: AicensusError | str) -> NoReturn:
    click.echo(f"aicensus: error: {exc}", err=True)
    sys.exit(2)


@click.group("packs")
def packs_group() -> None:
    """Bundled policy packs: published AI restrictions and licence terms as policies."""


@packs_group.command("list")
def list_command() -> None:
    """One line per pack: name, status, date, title."""
    for p in builtin_packs():
        click.echo(f"{p.name:36} {p.status:9} {p.date}  {terminal_safe(p.title, 100)}")


@packs_group.command("show")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="text, or the pack as JSON.")  # fmt: skip
def show_command(name: str, fmt: str) -> None:
    """A pack's metadata (issuer, jurisdiction, status, date, source, scope) and its rules."""
    try:
        pack = load_pack(name)
    except AicensusError as exc:
        _fail(exc)
    if fmt == "json":
        click.echo(msgspec.json.format(msgspec.json.encode(pack), indent=2).decode())
        return
    s = terminal_safe
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


def runs_from(names: Sequence[str], params: Sequence[str], profile: str | None) -> list[PackRun]:
    """Packs by name (or file) with --param values applied to the packs that declare them."""
    values = parse_params(params)
    runs = []
    for name in names:
        pack = load_pack(name)
        mine = {k: v for k, v in values.items() if k in pack.params}
        runs.append(prepare(pack, mine, profile if pack.profiles else None))
    used = {k for r in runs for k in r.params}
    unused = sorted(set(values) - used)
    if unused:
        raise AicensusError(f"--param {unused[0]}: no selected pack takes this parameter")
    return runs


def load_services(db: str, scan_id: int | None, audit: str | None) -> tuple[list[Any], int | None]:
    """(services, scan id) from an audit JSON (`aicensus audit --format json`) or a store."""
    if audit:
        return _audit_services(audit), None
    from aicensus.report.source import load_assessed

    assessed = load_assessed(db, scan_id)
    return assessed.services, assessed.scan.scan_id if assessed.scan else None


def _audit_services(path: str) -> list[Any]:
    """The services an audit JSON recorded: each one's observation and findings, as the audit
    wrote them (its models were attributed by the audit)."""
    from aicensus.assess.finding import Finding
    from aicensus.records import ServiceObservation

    try:
        doc = msgspec.json.decode(Path(path).read_bytes())
    except (OSError, msgspec.DecodeError) as exc:
        raise AicensusError(f"audit {path}: cannot read JSON: {exc}") from exc
    raw = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(raw, list):
        raise AicensusError(f"audit {path}: no `services` list (expected `aicensus audit` JSON)")
    out = []
    for i, item in enumerate(raw):
        try:
            obs = msgspec.convert(item["observation"], ServiceObservation)
            findings = msgspec.convert(item.get("findings") or [], list[Finding])
        except (msgspec.ValidationError, KeyError, TypeError, ValueError) as exc:
            raise AicensusError(f"audit {path}: services[{i}]: {exc}") from exc
        out.append((obs, findings))
    return out


def pack_options(f: Any) -> Any:
    f = click.option(
        "--profile", default=None, help="Pack profile (licence-terms: commercial|research)."
    )(f)
    f = click.option("--param", "params", multiple=True, metavar="NAME=V[,V]",
                     help="Pack parameter, e.g. countries=CN,RU.")(f)  # fmt: skip
    f = click.option("--pack", "packs", multiple=True, metavar="NAME",
                     help="Bundled pack name or pack file (repeatable).")(f)  # fmt: skip
    return f


@click.command("compliance")
@pack_options
@click.option("--db", default="aicensus.duckdb", show_default=True, help="Store to read.")
@click.option("--scan", "scan_id", type=int, default=None, help="Scan id (default: latest).")
@click.option("--audit", "audit_file", default=None, metavar="FILE",
              help="Read an `aicensus audit --format json` file instead of a store.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html", "sarif"]),
              default="text", show_default=True)  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of standard output.")  # fmt: skip
def compliance_command(
    packs: tuple[str, ...], params: tuple[str, ...], profile: str | None, db: str,
    scan_id: int | None, audit_file: str | None, fmt: str, output: str | None,
) -> None:  # fmt: skip
    """Per pack: what violates it, where, since when, with evidence and alternatives."""
    from aicensus.report.compliance import build_report, render, store_history

    if not packs:
        _fail("give at least one --pack (see `aicensus policy packs list`)")
    try:
        runs = runs_from(packs, params, profile)
        services, scan = load_services(db, scan_id, audit_file)
        history = store_history(db) if not audit_file else None
    except AicensusError as exc:
        _fail(exc)
    report = build_report(runs, services, history=history, scan_id=scan)
    text = render(report, fmt)
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write {output}: {exc.strerror or exc}")
    else:
        click.echo(text, nl=False)
    sys.exit(0 if all(p.compliant for p in report.packs) else 1)


def check_packs_command(
    packs: Sequence[str], params: Sequence[str], profile: str | None, services: list[Any],
    fmt: str, scan_id: int | None,
) -> int:  # fmt: skip
    """`policy check --pack`: the violations table or JSON; returns the exit status."""
    from aicensus.report.compliance import build_report, render

    try:
        runs = runs_from(packs, params, profile)
    except AicensusError as exc:
        _fail(exc)
    report = build_report(runs, services, scan_id=scan_id)
    click.echo(render(report, "json" if fmt == "json" else "text"), nl=False)
    return 0 if all(p.compliant for p in report.packs) else 1
