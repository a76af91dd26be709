"""`aicensus lab synth`: SYNTHETIC observation data for benchmarks. Importing this module
attaches the command to `aicensus.cli.lab.lab_group`."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from aicensus import api
from aicensus.cli.lab import lab_group


@lab_group.command("synth")
@click.option(
    "--hosts", type=click.IntRange(1, 10_000_000), required=True, help="Number of synthetic hosts."
)
@click.option("--days", type=click.IntRange(1, 3650), required=True, help="Window in days.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(),
    help="Dataset directory to write (new or empty).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="RNG seed.")
@click.option(
    "--start", default="2025-03-01", show_default=True, help="UTC date the window starts."
)
@click.option("--memory-limit", default=None, help="DuckDB memory limit, e.g. 2GB.")
def synth_command(
    hosts: int, days: int, output: str, seed: int, start: str, memory_limit: str | None
) -> None:
    """Write SYNTHETIC observations of imaginary Ollama hosts (benchmarks only).

    Every row is labelled synthetic (source, evidence, Parquet metadata); the addresses are
    drawn at random from real networks so that enrichment has something realistic to do, and
    mean nothing. Ingest with `aicensus ingest parquet OUTPUT`.
    """
    try:
        begin = datetime.fromisoformat(start).replace(tzinfo=UTC)
    except ValueError:
        raise click.BadParameter(f"--start {start!r} is not an ISO 8601 date") from None
    summary = api.synthesize(
        output, hosts=hosts, days=days, seed=seed, start=begin, memory_limit=memory_limit
    )
    click.echo(
        f"aicensus: SYNTHETIC data: {summary.hosts} hosts, {summary.observations} observations, "
        f"{summary.models} model rows over {summary.days} days → {summary.path} "
        f"({summary.seconds_hosts + summary.seconds_write:.1f}s)",
        err=True,
    )
