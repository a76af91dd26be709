"""`aicensus report`: findings and inventory of a stored scan as table, json, csv, sarif or
cyclonedx (and html when available); with `--policy`, the models the policy denies, with their
card summary and alternatives (table, json, html)."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from aicensus.errors import AicensusError
from aicensus.report.exports import FORMATS

POLICY_FORMATS = ("table", "json", "html")


def _fail(message: str) -> NoReturn:
    click.echo(f"aicensus: error: {message}", err=True)
    sys.exit(2)


def _formats() -> list[str]:
    try:
        from aicensus.report import html  # noqa: F401
    except ImportError:
        return list(FORMATS)
    return [*FORMATS, "html"]


@click.group("report", invoke_without_command=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_formats()),
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
    from aicensus.report.exports import write
    from aicensus.report.source import load_assessed

    if policy_file is not None and fmt not in POLICY_FORMATS:
        _fail(f"--policy works with --format {', '.join(POLICY_FORMATS)}, not {fmt}")
    try:
        policy = None
        if policy_file is not None:
            from aicensus.assess.policy import load_policy

            policy = load_policy(policy_file)
        assessed = load_assessed(db, scan_id)
        if policy is not None:
            assessed.with_policy(policy, policy_file)
    except AicensusError as exc:
        _fail(str(exc))
    try:
        if fmt == "html":
            from aicensus.report.html import write_html as writer
        else:

            def writer(out, a):  # type: ignore[no-untyped-def, misc]
                write(out, a, fmt)

        if output is None:
            writer(sys.stdout, assessed)
        else:
            tmp = f"{output}.tmp"
            with open(tmp, "w", encoding="utf-8", newline="") as out:
                writer(out, assessed)
            os.replace(tmp, output)
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    except AicensusError as exc:
        _fail(str(exc))
    findings = assessed.findings
    verdict = ""
    if assessed.policy is not None:
        from aicensus.report.text import terminal_safe

        verdict = (
            f", policy {terminal_safe(assessed.policy.name, 80)}: "
            f"{len(assessed.policy.denied_models)} models denied"
        )
    click.echo(
        f"{len(assessed.services)} services, {len(findings)} findings{verdict}"
        + (f" → {output}" if output else ""),
        err=True,
    )
