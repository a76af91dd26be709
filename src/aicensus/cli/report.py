"""`aicensus report`: findings and inventory of a stored scan as table, json, csv, sarif or
cyclonedx (and html when available)."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from aicensus.errors import AicensusError
from aicensus.report.exports import FORMATS


def _fail(message: str) -> NoReturn:
    click.echo(f"aicensus: error: {message}", err=True)
    sys.exit(2)


def _formats() -> list[str]:
    try:
        from aicensus.report import html  # noqa: F401
    except ImportError:
        return list(FORMATS)
    return [*FORMATS, "html"]


@click.command("report")
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
def report_command(fmt: str, output: str | None, db: str, scan_id: int | None) -> None:
    """Report the findings and AI inventory of a stored scan (identified services only)."""
    from aicensus.report.exports import write
    from aicensus.report.source import load_assessed

    try:
        assessed = load_assessed(db, scan_id)
    except AicensusError as exc:
        _fail(str(exc))
    try:
        if fmt == "html":
            from aicensus.report.html import write_html as writer
        else:

            def writer(out, a):  # type: ignore[no-untyped-def]
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
    click.echo(
        f"{len(assessed.services)} services, {len(findings)} findings"
        + (f" → {output}" if output else ""),
        err=True,
    )
