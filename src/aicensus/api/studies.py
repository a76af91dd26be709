"""Study: the longitudinal measurement figures of a store (each with its definition, beside
the published studies' figures), and the store as a Parquet dataset."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from aicensus.assess.honeypot import DEFAULT_MIN_ADDRESSES
from aicensus.report import study as _study
from aicensus.report.study import StudyOptions
from aicensus.store import Store
from aicensus.store import longitudinal as lon
from aicensus.store.longitudinal import PersistenceRule

STUDY_FORMATS = ("json", "html")

__all__ = [
    "STUDY_FORMATS",
    "PersistenceRule",
    "StudyOptions",
    "export_parquet",
    "study",
    "write_study",
]


def study(
    db: str | Path,
    *,
    products: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    rule: PersistenceRule | None = None,
    mmdb: Sequence[str | Path] = (),
    top: int = 20,
    findings_sample: int = 5000,
    include_honeypots: bool = False,
    honeypot_min_addresses: int = DEFAULT_MIN_ADDRESSES,
) -> dict[str, Any]:
    """Every study figure of the store at `db` (opened read-only), as one JSON-ready document
    {"meta", "figures", "comparison"}. Only identified observations with a timestamp count;
    `products`, `since` and `until` narrow them; `rule` decides seen-once / transient /
    persistent; `mmdb` replaces the embedded geolocation and ASN data. Hosts the honeypot
    classifier names are left out of every figure (their count is in meta.honeypots and the
    Scale figure) unless `include_honeypots`; `honeypot_min_addresses` is how many addresses
    must share an inventory or banner before that counts as evidence."""
    options = StudyOptions(
        products=list(products),
        since=since,
        until=until,
        rule=rule or PersistenceRule(),
        mmdb=[str(m) for m in mmdb],
        top=top,
        findings_sample=findings_sample,
        include_honeypots=include_honeypots,
        honeypot_min_addresses=honeypot_min_addresses,
    )
    return _study.compute_study(db, options)


def write_study(out: IO[str], document: dict[str, Any], fmt: str = "json") -> None:
    """Write a study as JSON or as one offline HTML file with charts."""
    if fmt == "html":
        from aicensus.report.study_html import write_study_html

        write_study_html(out, document)
    elif fmt == "json":
        _study.write_json(out, document)
    else:
        raise ValueError(f"unknown study format {fmt!r}; known: {', '.join(STUDY_FORMATS)}")


def export_parquet(db: str | Path, directory: str | Path, *, overwrite: bool = False) -> int:
    """Write every observation of `db` (with its models and request log) as a Parquet dataset
    partitioned by UTC month; returns the number of observations written. `ingest_parquet`
    merges such datasets from many machines into one store without duplicates."""
    with Store.open(db, read_only=True) as store:
        return lon.export_parquet(store, directory, overwrite=overwrite)
