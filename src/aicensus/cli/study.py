"""`aicensus report study` (the lead attaches `study_command` under `report`) and
`aicensus export parquet DIR`."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from aicensus import api
from aicensus.cli.app import Command, Group
from aicensus.cli.output import output_file


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@click.command("study", cls=Command)
@click.option(
    "--format", "fmt", type=click.Choice(api.STUDY_FORMATS), default="json", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write to this file instead of standard output.",
)
@click.option("--db", default="aicensus.duckdb", show_default=True, help="Store to read.")
@click.option(
    "--product",
    "products",
    multiple=True,
    help="Only these products (repeat), e.g. --product ollama. Default: every one.",
)
@click.option("--since", default=None, help="Only observations at or after this UTC date/time.")
@click.option("--until", default=None, help="Only observations before this UTC date/time.")
@click.option(
    "--once-max",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Hosts with at most this many observations are 'seen once'.",
)
@click.option(
    "--persistent-min",
    type=click.IntRange(2),
    default=101,
    show_default=True,
    help="Hosts with at least this many observations are 'persistent'.",
)
@click.option(
    "--persistent-days",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="…and seen on at least this many distinct UTC days (0: no day condition).",
)
@click.option(
    "--geoip-db",
    "mmdb",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True),
    help="MaxMind-format .mmdb file(s) (country/city and ASN) instead of the "
    "embedded data (GeoLite2 countries, the bundled IP-to-AS table).",
)
@click.option(
    "--top",
    type=click.IntRange(1, 500),
    default=20,
    show_default=True,
    help="Rows in the top-N tables.",
)
@click.option(
    "--findings-sample",
    type=click.IntRange(0),
    default=5000,
    show_default=True,
    help="Services assessed for the findings table (a fixed hash-ordered sample).",
)
@click.option(
    "--include-honeypots",
    is_flag=True,
    help="Count hosts the honeypot classifier names in the figures (left out by default; "
    "their count is shown either way).",
)
@click.option(
    "--honeypot-min-addresses",
    type=click.IntRange(2),
    default=25,
    show_default=True,
    help="Addresses that must share one model inventory or banner before it is honeypot "
    "evidence (alone it only makes a host suspicious).",
)
def study_command(
    fmt: str,
    output: str | None,
    db: str,
    products: tuple[str, ...],
    since: str | None,
    until: str | None,
    once_max: int,
    persistent_min: int,
    persistent_days: int,
    mmdb: tuple[str, ...],
    top: int,
    findings_sample: int,
    include_honeypots: bool,
    honeypot_min_addresses: int,
) -> None:
    """Measurement-study figures of the store, each with its definition, beside the
    published studies' figures (JSON, or one offline HTML file with charts).

    Example: aicensus report study --format html -o study.html
    """
    if persistent_min <= once_max:
        raise click.BadParameter("--persistent-min must be larger than --once-max")
    study = api.study(
        db,
        products=products,
        since=_when(since),
        until=_when(until),
        rule=api.PersistenceRule(
            once_max_observations=once_max,
            persistent_min_observations=persistent_min,
            persistent_min_days=persistent_days,
        ),
        mmdb=mmdb,
        top=top,
        findings_sample=findings_sample,
        include_honeypots=include_honeypots,
        honeypot_min_addresses=honeypot_min_addresses,
    )
    with output_file(output) as out:
        api.write_study(out, study, fmt)
    meta = study["meta"]
    click.echo(
        f"aicensus: study of {meta['counts']['hosts']} hosts, {meta['counts']['observations']} "
        f"observations over {meta['window']['days']} days in {meta['seconds']:.1f}s"
        + _honeypot_note(meta["honeypots"])
        + (f" → {output}" if output else ""),
        err=True,
    )


def _honeypot_note(hp: dict[str, object]) -> str:
    if hp["included"]:
        return f"; {hp['hosts']} honeypot hosts included"
    return f"; {hp['hosts_excluded']} honeypot hosts left out (--include-honeypots)"


@click.group("export", cls=Group)
def export_group() -> None:
    """Write the store in other formats."""


@export_group.command("parquet")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--db", default="aicensus.duckdb", show_default=True, help="Store to read.")
@click.option("--overwrite", is_flag=True, help="Write into a directory that is not empty.")
def export_parquet_command(directory: str, db: str, overwrite: bool) -> None:
    """Write every observation (with its models and request log) as a Parquet dataset
    partitioned by UTC month: DIRECTORY/{observations,models,request_log}/month=YYYY-MM/*.parquet. `aicensus ingest parquet`
    merges such datasets from many machines into one store without duplicates."""
    count = api.export_parquet(db, directory, overwrite=overwrite)
    click.echo(f"aicensus: {count} observations → {directory}", err=True)
