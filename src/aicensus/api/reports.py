"""Report: a stored scan's services with their findings, and every output format of the
scan results (observations) and of the report."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from aicensus.assess import honeypot as _honeypot
from aicensus.assess.policy import Policy, load_policy
from aicensus.records import ServiceObservation
from aicensus.report import exports, render
from aicensus.report.source import Assessed, load_assessed
from aicensus.report.text import terminal_safe
from aicensus.store import Store
from aicensus.store.honeypots import store_honeypot_rows

# How scan and ingest print observations (docs/output.md).
OBSERVATION_FORMATS: tuple[str, ...] = render.FORMATS
# How a report is written; "html" too where `report_formats()` lists it.
REPORT_FORMATS: tuple[str, ...] = exports.FORMATS

__all__ = [
    "OBSERVATION_FORMATS",
    "REPORT_FORMATS",
    "Assessed",
    "honeypots",
    "load_report",
    "render_report",
    "report_formats",
    "terminal_safe",
    "write_observation",
    "write_observations",
    "write_report",
]


def report_formats() -> tuple[str, ...]:
    """Every report format this installation can write (html needs its optional parts)."""
    try:
        from aicensus.report import html  # noqa: F401
    except ImportError:
        return REPORT_FORMATS
    return (*REPORT_FORMATS, "html")


def load_report(
    db: str | Path,
    scan_id: int | None = None,
    *,
    policy: str | Path | Policy | None = None,
    include_all: bool = False,
) -> Assessed:
    """The identified services of one stored scan (the latest when scan_id is None), each
    with its findings; with `policy` (a YAML file or a loaded Policy) also the policy's
    verdict: the models it denies, with their card summary and alternatives.

    A bad policy fails before the store is read (PolicyError); a missing store or scan
    raises StoreError."""
    loaded = load_policy(policy) if isinstance(policy, str | Path) else policy
    assessed = load_assessed(str(db), scan_id, include_all=include_all)
    if loaded is not None:
        file = str(policy) if isinstance(policy, str | Path) else None
        assessed.with_policy(loaded, file)
    return assessed


def write_report(
    out: IO[str], assessed: Assessed, fmt: str = "table", *, terminal: bool = False
) -> None:
    """Write a report in one of `report_formats()` (table, json, csv, sarif, cyclonedx, html).
    `terminal`: `out` is a terminal, where CSV spells out control, C1 and bidi characters."""
    if fmt == "html":
        from aicensus.report.html import write_html

        write_html(out, assessed)
    else:
        exports.write(out, assessed, fmt, terminal=terminal)


def render_report(assessed: Assessed, fmt: str = "table") -> str:
    """The report as one string (see write_report)."""
    buf = io.StringIO()
    write_report(buf, assessed, fmt)
    return buf.getvalue()


def write_observation(out: IO[str], obs: ServiceObservation, *, with_log: bool = False) -> None:
    """One observation as one JSON line (the jsonl format, streamed as a scan goes)."""
    render.write_jsonl(out, obs, with_log=with_log)


def write_observations(
    out: IO[str],
    observations: Iterable[ServiceObservation],
    fmt: str = "table",
    *,
    explain: bool = False,
    with_log: bool = False,
) -> int:
    """Observations in one of OBSERVATION_FORMATS: `table` (with `explain`, each result's
    evidence), `json` (one array) or `jsonl`; `with_log` adds each request log to JSON.
    Returns how many were written."""
    kept = list(observations)
    if fmt == "table":
        render.write_table(out, kept, explain=explain)
    elif fmt == "json":
        render.write_json(out, kept, with_log=with_log)
    elif fmt == "jsonl":
        for obs in kept:
            render.write_jsonl(out, obs, with_log=with_log)
    else:
        raise ValueError(f"unknown observation format {fmt!r}")
    return len(kept)


def honeypots(
    db: str | Path,
    *,
    scan_id: int | None = None,
    min_addresses: int = _honeypot.DEFAULT_MIN_ADDRESSES,
) -> dict[str, Any]:
    """The honeypot classifier over a store (every scan and ingest run, or one `scan_id`),
    read on demand from its observations: {"honeypots", "suspicious", "by_kind", "hosts"}
    (each named host with its verdict, score, ports and evidence). `min_addresses`: how many
    addresses must share an inventory or banner before that is evidence."""
    with Store.open(db, read_only=True) as store:
        rows = store_honeypot_rows(store, min_addresses, scan_id, _honeypot.stale_routes)
    verdicts = _honeypot.classify_stored(
        rows.host, rows.inventory, rows.banner, routes=rows.routes
    )
    return _honeypot.summary(verdicts)
