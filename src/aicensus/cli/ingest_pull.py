"""`aicensus ingest censys|shodan --query Q`: pull a search straight from the engine with the
user's own key (ingest/pull.py), into the same ingest path as a file."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from aicensus.api import PULL_ENGINES, PullError, PullSummary, find_key, pull_search
from aicensus.api import PulledPage as Page

__all__ = ["PULL_ENGINES", "pull_command", "pull_options"]


def pull_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--query", default=None, help="Pull this search from the engine (your "
                     "key) instead of reading FILE; an interrupted pull resumes."),
        click.option("--key-file", type=click.Path(dir_okay=False), default=None,
                     help="File holding the API key (else SHODAN_API_KEY, CENSYS_PLATFORM_TOKEN "
                     "or CENSYS_API_KEY)."),
        click.option("--save-pages", type=click.Path(file_okay=False), default=None,
                     help="Where the raw pages are kept (default ~/.local/share/aicensus/pulls);"
                     " `aicensus ingest` reads them again."),
        click.option("--max-pages", type=click.IntRange(1), default=None,
                     help="Stop after this many pages (each costs credits)."),
        click.option("--page-size", type=click.IntRange(1, 100), default=None,
                     help="Censys: results per page."),
        click.option("--api-url", default=None, hidden=True,
                     help="The API's base URL (tests: a loopback replay server)."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def _progress(summary: PullSummary, page: Page) -> None:
    limits = ", ".join(f"{k}: {v}" for k, v in page.headers.items())
    click.echo(
        f"aicensus: {summary.engine} page {page.number}: {summary.observations} observations "
        f"stored so far" + (f" ({limits})" if limits else ""),
        err=True,
    )


def pull_command(engine: str, kw: dict[str, Any], db: str | None, emitter: Any) -> bool:
    """Run the pull if --query was given (True), else leave FILE to the caller (False)."""
    query, key_file = kw.pop("query"), kw.pop("key_file")
    save_pages, max_pages = kw.pop("save_pages"), kw.pop("max_pages")
    page_size, api_url = kw.pop("page_size"), kw.pop("api_url")
    if query is None:
        return False
    if kw.get("file") is not None:
        click.echo("aicensus: error: give FILE or --query, not both", err=True)
        sys.exit(2)
    if db is None:
        click.echo("aicensus: error: a pull needs a store (--db); its ledger resumes it", err=True)
        sys.exit(2)
    try:
        key = find_key(engine, key_file)
    except PullError as exc:
        click.echo(f"aicensus: error: {exc}", err=True)
        sys.exit(2)
    try:
        summary = pull_search(engine, query, key=key, db=db, save_pages=save_pages,
                       max_pages=max_pages, page_size=page_size, base_url=api_url,
                       on_observation=emitter, on_page=_progress)  # fmt: skip
    except PullError as exc:
        click.echo(f"aicensus: error: {exc}; the pages stored so far are kept, run the same "
                   "command again to resume", err=True)  # fmt: skip
        sys.exit(1)
    emitter.finish()
    credits = ", ".join(f"{k}: {v}" for k, v in summary.credits.items()) or "not reported"
    resumed = f" (resumed after {summary.resumed_pages})" if summary.resumed_pages else ""
    click.echo(
        f"aicensus: {engine} {query!r}: {summary.pages} pages{resumed}, {summary.records} "
        f"records, {summary.observations} observations stored, {summary.models} models, "
        f"{summary.duplicates} duplicates skipped, {summary.bad} bad records; pages in "
        f"{summary.pages_dir}; credits/limits: {credits}",
        err=True,
    )
    return True
