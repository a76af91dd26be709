"""`aicensus ingest zgrab2|masscan|nmap|censys|shodan|zoomeye|responses|parquet`: other tools' scan data into the
store. Importing this module attaches the commands to `aicensus.cli.scan.ingest_group`.

Each command hashes its file first: a file already ingested is skipped (say --force to read it
again; observations already stored are still skipped). Bad records are reported on stderr with
their line number and skipped; the summary line says how many were stored.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from aicensus import api
from aicensus.cli.app import Command
from aicensus.cli.ingest_pull import PULL_ENGINES, pull_command, pull_options
from aicensus.cli.scan import Emitter, ingest_group, output_options
from aicensus.cli.text import printable

_MAX_BAD_SHOWN = 20


def print_summary(summary: api.IngestSummary) -> None:
    where = summary.path
    if summary.already_ingested is not None:
        earlier = summary.already_ingested
        click.echo(
            f"aicensus: {where} was already ingested ({earlier.format}, scan {earlier.scan_id}, "
            f"{earlier.ingested_at:%Y-%m-%d %H:%M} UTC); nothing stored. --force reads it "
            "again (observations already stored are still skipped)",
            err=True,
        )
        return
    products = ", ".join(f"{k}={v}" for k, v in sorted(summary.by_product.items())) or "none"
    files = f"{summary.files} files, " if summary.format == "parquet" else ""
    click.echo(
        f"aicensus: {where}: {files}{summary.records} records, {summary.observations} "
        f"observations stored ({products}), {summary.models} models, {summary.duplicates} "
        f"duplicates skipped, {len(summary.bad_records)} bad records skipped, "
        f"{summary.seconds:.1f}s"
        + (f"; scan {summary.scan_id}" if summary.scan_id is not None else ""),
        err=True,
    )
    if summary.skipped:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(summary.skipped.items()))
        click.echo(f"aicensus: not stored (not TCP services, or not records): {reasons}", err=True)
    if summary.missing_model_sets:
        click.echo(
            f"aicensus: warning: {summary.missing_model_sets} model sets named by observations "
            "are missing from the dataset (model_sets/); those observations were stored "
            "without their models",
            err=True,
        )
    for bad in summary.bad_records[:_MAX_BAD_SHOWN]:
        click.echo(f"aicensus: skipped line {bad.line}: {printable(bad.reason)}", err=True)
    if len(summary.bad_records) > _MAX_BAD_SHOWN:
        extra = len(summary.bad_records) - _MAX_BAD_SHOWN
        click.echo(f"aicensus: … and {extra} more bad records", err=True)


def _make(fmt: str, helptext: str) -> click.Command:
    def run(**kw: Any) -> None:
        emitter = Emitter(kw.pop("fmt"), kw.pop("show_all"), kw.pop("explain"), kw.pop("with_log"))
        db = kw.pop("db")
        if kw.pop("no_db"):
            db = None
        if fmt in PULL_ENGINES:
            pulled = pull_command(fmt, kw, db, emitter)
            if pulled:
                return
        if kw.get("file") is None:
            click.echo(f"aicensus: error: give a FILE to read, or --query Q to pull from {fmt}",
                       err=True)  # fmt: skip
            sys.exit(2)
        summary = api.ingest_file(
            kw.pop("file"),
            fmt,
            db=db,
            on_observation=emitter,
            force=kw.pop("force"),
            default_port=kw.pop("default_port", None),
        )
        if summary.already_ingested is None:
            emitter.finish()
        print_summary(summary)
        if summary.unusable is not None:
            click.echo(f"aicensus: error: {summary.path}: {summary.unusable}; not recorded as "
                       "ingested", err=True)  # fmt: skip
            sys.exit(1)

    run = output_options(run)
    run = click.option(
        "--force", is_flag=True, help="Read the file even if it was ingested before."
    )(run)
    if fmt in PULL_ENGINES:
        run = pull_options(run)
    run = click.argument("file", type=click.Path(dir_okay=False), required=fmt not in PULL_ENGINES)(
        run
    )
    return click.command(fmt, help=helptext, cls=Command)(run)


_HELP = {
    "zgrab2": "Ingest zgrab2 JSON (http module; one or more --endpoint runs, multi-module "
    "too) and fingerprint the responses as a scan would.",
    "masscan": "Ingest masscan -oJ/-oD/-oX/-oL output: open ports, and HTTP banners (--banners) "
    "fingerprinted as GET /.",
    "nmap": "Ingest nmap XML (-oX) or normal output (-oN): open TCP ports; service "
    "fingerprints (GetRequest …) are fingerprinted.",
    "censys": "Ingest Censys host/service records (Platform API, incl. the ollama object: models, "
    "running models, version; or Search 2.0 hosts), JSON Lines, a JSON array or "
    "pretty-printed (`censys view`).",
    "shodan": "Ingest Shodan banners (JSON Lines, e.g. `shodan download`, .json.gz too), host "
    "API responses or search pages.",
    "zoomeye": "Ingest ZoomEye API v2 search results (saved responses, or `zoomeye search -save` "
    "files): HTTP responses (header, body fields) fingerprinted, other services labelled.",
    "responses": "Ingest recorded HTTP responses (JSON Lines: ip, port, scheme, path, status, "
    "headers, body, observed_at) and fingerprint them as a scan would.",
}

for _fmt, _text in _HELP.items():
    _cmd = _make(_fmt, _text)
    if _fmt == "zgrab2":
        _cmd = click.option(
            "--port",
            "default_port",
            type=click.IntRange(1, 65535),
            default=None,
            help="Port of records that name none (zgrab2 --port); default 80/443 by scheme.",
        )(_cmd)
    ingest_group.add_command(_cmd)


@ingest_group.command("parquet")
@click.argument("path", type=click.Path(exists=True))
@click.option("--db", default="aicensus.duckdb", show_default=True, help="Store to merge into.")
@click.option("--force", is_flag=True, help="Read files even if they were ingested before.")
def ingest_parquet_command(path: str, db: str, force: bool) -> None:
    """Merge a Parquet dataset (written by `aicensus export parquet` or `aicensus lab synth`)
    into the store; observations already stored are skipped, so shards combine once."""
    print_summary(api.ingest_parquet(path, db=db, force=force))
