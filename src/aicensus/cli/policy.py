"""`aicensus policy check|validate`: policy-as-code over a stored scan.

Exit status: 0 compliant, 1 violations, 2 error (bad policy file, unreadable store).
"""

from __future__ import annotations

import sys

import click
import msgspec

from aicensus import api
from aicensus.cli.app import Group
from aicensus.cli.output import print_table


@click.group("policy", cls=Group)
def policy_group() -> None:
    """Check stored scans against a YAML policy (see docs/findings.md)."""


@policy_group.command("validate")
@click.argument("policy_file", metavar="FILE")
def validate_command(policy_file: str) -> None:
    """Validate a policy file; exit 0 when valid, 2 with the bad field named otherwise."""
    policy = api.load_policy(policy_file)
    click.echo(f"policy {policy_file}: valid ({api.terminal_safe(policy.name, 80)})")


@policy_group.command("check")
@click.option("--policy", "policy_file", required=True, metavar="FILE", help="YAML policy.")
@click.option("--db", default="aicensus.duckdb", show_default=True, help="Store to read.")
@click.option("--scan", "scan_id", type=int, default=None, help="Scan id (default: latest).")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def check_command(policy_file: str, db: str, scan_id: int | None, fmt: str) -> None:
    """Print every violation with its evidence; exit 0 compliant, 1 violations, 2 error."""
    check = api.check_policy(policy_file, db, scan_id)
    if fmt == "json":
        doc = {
            "policy": check.policy,
            "scan_id": check.scan_id,
            "services_checked": check.services_checked,
            "compliant": check.compliant,
            "violations": msgspec.to_builtins(check.violations),
        }
        click.echo(msgspec.json.format(msgspec.json.encode(doc), indent=2).decode())
    else:
        _table(check.violations)
        verdict = "compliant" if check.compliant else f"{len(check.violations)} violation(s)"
        click.echo(
            f"policy {api.terminal_safe(check.policy, 80)}: {check.services_checked} services "
            f"checked, {verdict}",
            err=True,
        )
    sys.exit(0 if check.compliant else 1)


def _service(v: api.Violation) -> str:
    host = f"[{v.ip}]" if ":" in v.ip else v.ip
    return f"{host}:{v.port}"


def _table(violations: list[api.Violation]) -> None:
    safe = api.terminal_safe
    rows = [
        (_service(v), v.product or "-", safe(v.model or "-", 40), v.rule, safe(v.message, 100))
        for v in violations
    ]
    details = [[safe(line, 160) for line in v.evidence] for v in violations]
    print_table(("SERVICE", "PRODUCT", "MODEL", "RULE", "VIOLATION"), rows, details=details)
