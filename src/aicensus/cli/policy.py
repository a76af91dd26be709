"""`aicensus policy check|validate`: policy-as-code over a stored scan.

Exit status: 0 compliant, 1 violations, 2 error (bad policy file, unreadable store).
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click
import msgspec

from aicensus.assess.frameworks import rule_refs
from aicensus.assess.policy import Violation, check_policy, load_policy
from aicensus.cli.packs import check_packs_command, load_services, pack_options, packs_group
from aicensus.errors import AicensusError
from aicensus.report.text import terminal_safe


def _fail(exc: AicensusError) -> NoReturn:
    click.echo(f"aicensus: error: {exc}", err=True)
    sys.exit(2)


@click.group("policy")
def policy_group() -> None:
    """Check stored scans against a YAML policy (see docs/findings.md)."""


@policy_group.command("validate")
@click.argument("policy_file", metavar="FILE")
def validate_command(policy_file: str) -> None:
    """Validate a policy file; exit 0 when valid, 2 with the bad field named otherwise."""
    try:
        policy = load_policy(policy_file)
    except AicensusError as exc:
        _fail(exc)
    click.echo(f"policy {policy_file}: valid ({terminal_safe(policy.name, 80)})")


policy_group.add_command(packs_group)


@policy_group.command("check")
@click.option("--policy", "policy_file", default=None, metavar="FILE", help="YAML policy.")
@pack_options
@click.option("--audit", "audit_file", default=None, metavar="FILE",
              help="With --pack: read an `aicensus audit --format json` file instead.")  # fmt: skip
@click.option("--db", default="aicensus.duckdb", show_default=True, help="Store to read.")
@click.option("--scan", "scan_id", type=int, default=None, help="Scan id (default: latest).")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def check_command(
    policy_file: str | None, packs: tuple[str, ...], params: tuple[str, ...],
    profile: str | None, audit_file: str | None, db: str, scan_id: int | None, fmt: str,
) -> None:  # fmt: skip
    """Print every violation with its evidence; exit 0 compliant, 1 violations, 2 error.
    --pack NAME (repeatable) checks bundled policy packs (`aicensus policy packs list`)."""
    from aicensus.report.source import load_assessed

    if not policy_file and not packs:
        _fail(AicensusError("give --policy FILE and/or --pack NAME"))
    status = 0
    if packs:
        try:
            services, scan = load_services(db, scan_id, audit_file)
        except AicensusError as exc:
            _fail(exc)
        status = check_packs_command(packs, params, profile, services, fmt, scan)
    if not policy_file:
        sys.exit(status)
    try:
        policy = load_policy(policy_file)
        assessed = load_assessed(db, scan_id)
    except AicensusError as exc:
        _fail(exc)
    violations = list(check_policy(policy, assessed.services))
    if fmt == "json":
        doc = {
            "policy": policy.name,
            "scan_id": assessed.scan.scan_id if assessed.scan else None,
            "services_checked": len(assessed.services),
            "compliant": not violations,
            "violations": [
                {**msgspec.to_builtins(v), "frameworks": msgspec.to_builtins(rule_refs(v.rule))}
                for v in violations
            ],
        }
        click.echo(msgspec.json.format(msgspec.json.encode(doc), indent=2).decode())
    else:
        _table(violations)
        verdict = "compliant" if not violations else f"{len(violations)} violation(s)"
        click.echo(
            f"policy {terminal_safe(policy.name, 80)}: {len(assessed.services)} services "
            f"checked, {verdict}",
            err=True,
        )
    sys.exit(1 if violations or status else 0)


def _service(v: Violation) -> str:
    host = f"[{v.ip}]" if ":" in v.ip else v.ip
    return f"{host}:{v.port}"


def _table(violations: list[Violation]) -> None:
    rows = [
        (
            _service(v),
            v.product or "-",
            terminal_safe(v.model or "-", 40),
            v.rule,
            terminal_safe(v.message, 100),
            v,
        )
        for v in violations
    ]
    header = ("SERVICE", "PRODUCT", "MODEL", "RULE", "VIOLATION")
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]  # type: ignore[arg-type]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for row in rows:
        cells = row[:5]
        click.echo("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        for line in row[5].evidence:
            click.echo(f"    {terminal_safe(line, 160)}")
