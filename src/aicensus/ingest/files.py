"""Ingest a file of another tool's scan data into the store, idempotently.

`ingest_file(path, fmt, db=…)`:

1. hashes the file (SHA-256 of its bytes); a file already in `ingest_sources` is not read
   again unless `force=True`;
2. reads it with the format's reader (zgrab2, masscan, nmap, censys, shodan, responses):
   bad records are counted with their line number and skipped, good ones kept;
3. drops observations already stored (same ip, port, scheme, time and source) or repeated;
4. stores the rest as one `ingest` scan (one transaction), then records the file in
   `ingest_sources`. A run killed in between leaves the file unrecorded: reading it again
   stores nothing twice, because step 3 skips what is already there.

`ingest_parquet(path, db=…)` merges a Parquet dataset written by `aicensus export parquet` (or
`aicensus lab synth`) with DuckDB's own reader, in one transaction; the same de-duplication
applies.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from aicensus import pipeline
from aicensus.errors import InputFileError
from aicensus.fingerprint.load import builtin_signatures
from aicensus.fingerprint.schema import Signature
from aicensus.ingest import censys, masscan, nmap, shodan, zgrab2
from aicensus.ingest.common import BadRecord, FormatResult, file_sha256
from aicensus.ingest.responses import open_lines, read_responses
from aicensus.records import ServiceObservation
from aicensus.store import Store
from aicensus.store import longitudinal as lon

Reader = Callable[..., FormatResult]


def _responses(path: str | Path, sigs: Sequence[Signature]) -> FormatResult:
    groups, bad = read_responses(open_lines(path))
    observations = [
        pipeline.observe_recorded(g.target, g.scheme, g.exchanges, sigs, g.observed_at)
        for g in groups
    ]
    return FormatResult(observations=observations, bad=bad, records=len(groups) + len(bad))


READERS: dict[str, Reader] = {
    "zgrab2": zgrab2.read,
    "masscan": masscan.read,
    "nmap": nmap.read,
    "censys": censys.read,
    "shodan": shodan.read,
    "responses": _responses,
}


class IngestSummary(msgspec.Struct, kw_only=True):
    format: str
    path: str
    sha256: str | None = None
    scan_id: int | None = None
    records: int = 0
    observations: int = 0  # newly stored (or, without a store, read)
    duplicates: int = 0
    models: int = 0
    bad_records: list[BadRecord] = msgspec.field(default_factory=list)
    already_ingested: lon.SourceFile | None = None
    by_status: dict[str, int] = msgspec.field(default_factory=dict)
    by_product: dict[str, int] = msgspec.field(default_factory=dict)
    seconds: float = 0.0
    files: int = 1
    skipped_files: int = 0
    missing_model_sets: int = 0  # Parquet: sets named but absent; those observations lack models


def _tally(summary: IngestSummary, observations: Sequence[ServiceObservation]) -> None:
    status: Counter[str] = Counter(str(o.status) for o in observations)
    product: Counter[str] = Counter(o.product for o in observations if o.product)
    summary.by_status = dict(status)
    summary.by_product = dict(product)
    summary.models = sum(len(o.models) for o in observations)


def ingest_file(
    path: str | Path,
    fmt: str,
    *,
    db: str | Path | None = None,
    sigs: Sequence[Signature] | None = None,
    on_observation: Callable[[ServiceObservation], None] | None = None,
    force: bool = False,
    **options: object,
) -> IngestSummary:
    """Read one file of format fmt and store its new observations in db (if given)."""
    if fmt not in READERS:
        raise InputFileError(f"unknown ingest format {fmt!r}; known: {', '.join(READERS)}")
    started = time.monotonic()
    digest = file_sha256(path)
    summary = IngestSummary(format=fmt, path=str(path), sha256=digest)
    store = Store.open(db) if db else None
    try:
        if store is not None and not force:
            earlier = lon.source_seen(lon.connection(store), digest)
            if earlier is not None:
                summary.already_ingested = earlier
                summary.scan_id = earlier.scan_id
                summary.seconds = round(time.monotonic() - started, 3)
                return summary
        result = READERS[fmt](path, sigs if sigs is not None else builtin_signatures(), **options)
        summary.records = result.records
        summary.bad_records = result.bad
        observations = result.observations
        if store is not None:
            con = lon.connection(store)
            observations, summary.duplicates = lon.drop_known(con, observations)
            summary.scan_id = store.begin_scan(
                "ingest", {"format": fmt, "file": str(path), "sha256": digest}
            )
            store.add_observations(summary.scan_id, observations)
            store.finish_scan(summary.scan_id, "completed")
            lon.record_source(
                con,
                lon.SourceFile(
                    sha256=digest,
                    format=fmt,
                    path=str(path),
                    size_bytes=Path(path).stat().st_size,
                    scan_id=summary.scan_id,
                    ingested_at=datetime.now(UTC).replace(tzinfo=None),
                    records=result.records,
                    observations=len(observations),
                    duplicates=summary.duplicates,
                    bad=len(result.bad),
                ),
            )
        summary.observations = len(observations)
        _tally(summary, observations)
        if on_observation is not None:
            for obs in observations:
                on_observation(obs)
    finally:
        if store is not None:
            store.close()
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


def ingest_parquet(path: str | Path, *, db: str | Path, force: bool = False) -> IngestSummary:
    """Merge a Parquet dataset directory (see store/longitudinal.py) into db."""
    started = time.monotonic()
    files = lon.dataset_files(path)
    every = [f for table in lon.TABLES for f in files[table]]
    hashes = [file_sha256(f) for f in every]
    summary = IngestSummary(format="parquet", path=str(path), files=len(every))
    with Store.open(db) as store:
        con = lon.connection(store)
        seen = [lon.source_seen(con, h) for h in hashes]
        if not force and all(s is not None for s in seen):
            summary.skipped_files = len(every)
            summary.already_ingested = seen[0]
            summary.scan_id = seen[0].scan_id if seen[0] else None
            summary.seconds = round(time.monotonic() - started, 3)
            return summary
        summary.scan_id = store.begin_scan("ingest", {"format": "parquet", "path": str(path)})
        try:
            result = lon.import_parquet(store, summary.scan_id, files)
        except BaseException:
            store.finish_scan(summary.scan_id, "failed")
            raise
        store.finish_scan(summary.scan_id, "completed")
        now = datetime.now(UTC).replace(tzinfo=None)
        for f, digest in zip(every, hashes, strict=True):
            lon.record_source(
                con,
                lon.SourceFile(
                    sha256=digest, format="parquet", path=str(f), size_bytes=f.stat().st_size,
                    scan_id=summary.scan_id, ingested_at=now, records=0, observations=0,
                    duplicates=0, bad=0,
                ),
            )  # fmt: skip
        counts = next(s for s in store.scans() if s.scan_id == summary.scan_id).counts
        summary.by_product = dict(
            con.execute(
                "SELECT product, count(*) FROM observations WHERE scan_id = ? "
                "AND product IS NOT NULL GROUP BY product",
                [summary.scan_id],
            ).fetchall()
        )
    summary.observations = result.observations
    summary.models = result.models
    summary.duplicates = result.duplicates
    summary.missing_model_sets = result.missing_sets
    summary.records = result.observations + result.duplicates
    summary.by_status = {k: v for k, v in counts.items() if k not in ("observations", "models")}
    summary.seconds = round(time.monotonic() - started, 3)
    return summary
