"""`aicensus policy check|validate|packs`: policy-as-code over a stored scan.

Exit status: 0 compliant, 1 violations, 2 error (bad policy file, unreadable store).
"""

from __future__ import annotations

import sys

import click
import msgspec

from aicensus import api
from aicensus.cli.app import Group, fail
from aicensus.cli.output import print_table
from aicensus.cli.packs import check_packs_command, pack_options, packs_group


@click.group("policy", cls=Group)
def policy_group() -> None:
    """Check stored scans against a YAML policy (see docs/findings.md)."""


@policy_group.command("validate")
@click.argument("policy_file", metavar="FILE")
def validate_command(policy_file: str) -> None:
    """Validate a policy file; exit 0 when valid, 2 with the bad field named otherwise."""
    policy = api.load_policy(policy_file)
    click.echo(f"policy {policy_file}: valid ({api.terminal_safe(policy.name, 80)})")


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
    if not policy_file and not packs:
        fail("give --policy FILE and/or --pack NAME")
    status = 0
    if packs:
        status = check_packs_command(packs, params, profile, db, scan_id, audit_file, fmt)
    if not policy_file:
        sys.exit(status)
    check = api.check_policy(policy_file, db, scan_id)
    if fmt == "json":
        doc = {
            "policy": check.policy,
            "scan_id": check.scan_id,
            "services_checked": check.services_checked,
            "compliant": check.compliant,
            "violations": [
                {
                    **msgspec.to_builtins(v),
                    "frameworks": msgspec.to_builtins(api.policy_rule_frameworks(v.rule)),
                }
                for v in check.violations
            ],
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
    sys.exit(1 if check.violations or status else 0)


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
