"""`aicensus report`: findings and inventory of a stored scan as table, json, csv, sarif or
cyclonedx (and html when available); with `--policy`, the models the policy denies, with their
card summary and alternatives (table, json, html)."""

from __future__ import annotations

import json

import click

from aicensus import api
from aicensus.cli.app import Command, Group, fail
from aicensus.cli.output import output_file

POLICY_FORMATS = ("table", "json", "html")


@click.group("report", cls=Group, invoke_without_command=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(api.report_formats()),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write to this file instead of standard output.",
)
@click.option("--db", default="aicensus.duckdb", show_default=True, help="Store to read.")
@click.option("--scan", "scan_id", type=int, default=None, help="Scan id (default: latest).")
@click.option(
    "--policy",
    "policy_file",
    metavar="FILE",
    default=None,
    help="Also show the models this YAML policy denies, with their card summary and the top "
    "alternatives (table, json and html).",
)
@click.pass_context
def report_command(
    ctx: click.Context,
    fmt: str,
    output: str | None,
    db: str,
    scan_id: int | None,
    policy_file: str | None,
) -> None:
    """Report the findings and AI inventory of a stored scan (identified services only).

    `aicensus report study` computes the longitudinal study figures instead.
    """
    if ctx.invoked_subcommand is not None:
        return
    if policy_file is not None and fmt not in POLICY_FORMATS:
        fail(f"--policy works with --format {', '.join(POLICY_FORMATS)}, not {fmt}")
    assessed = api.load_report(db, scan_id, policy=policy_file)
    with output_file(output) as out:
        api.write_report(out, assessed, fmt, terminal=output is None)
    verdict = ""
    if assessed.policy is not None:
        verdict = (
            f", policy {api.terminal_safe(assessed.policy.name, 80)}: "
            f"{len(assessed.policy.denied_models)} models denied"
        )
    click.echo(
        f"{len(assessed.services)} services, {len(assessed.findings)} findings{verdict}"
        + (f" → {output}" if output else ""),
        err=True,
    )


@click.command("honeypots", cls=Command)
@click.option("--db", default="aicensus.duckdb", show_default=True, help="Store to read.")
@click.option("--scan", "scan_id", type=int, default=None, help="Scan id (default: every scan).")
@click.option(
    "--min-addresses",
    type=click.IntRange(2),
    default=25,
    show_default=True,
    help="Addresses that must share one model inventory or banner before it is evidence.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def honeypots_command(db: str, scan_id: int | None, min_addresses: int, fmt: str) -> None:
    """Hosts of the store the honeypot classifier names (or finds suspicious), with evidence.

    Example: aicensus report honeypots --db scans.duckdb --format json
    """
    found = api.honeypots(db, scan_id=scan_id, min_addresses=min_addresses)
    if fmt == "json":
        click.echo(json.dumps(found, indent=2))
        return
    click.echo(f"honeypots: {found['honeypots']} named, {found['suspicious']} suspicious")
    for host in found["hosts"]:
        ports = ",".join(map(str, host["ports"])) or "-"
        click.echo(
            f"  {host['verdict'].upper():10} {api.terminal_safe(host['ip'], 45)} ports {ports} "
            f"score {host['score']:.2f}"
        )
        for e in host["evidence"]:
            click.echo(f"    {e['kind']:20} {e['weight']:.2f}  {api.terminal_safe(e['detail'], 120)}")
