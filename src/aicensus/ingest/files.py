"""Ingest a file of another tool's scan data into the store, idempotently.

`ingest_file(path, fmt, db=…)`:

1. hashes the file (SHA-256 of its bytes); a file already in `ingest_sources` is not read
   again unless `force=True`;
2. reads it with the format's reader (zgrab2, masscan, nmap, censys, shodan, zoomeye,
   responses):
   bad records are counted with their line number and skipped, good ones kept;
3. drops observations already stored (same ip, port, scheme, time and source) or repeated;
4. stores the rest as one `ingest` scan, a transaction per batch of about 20,000 observations
   (Censys, Shodan and ZoomEye files are read a batch at a time too, so memory stays flat), then
   records the file in `ingest_sources`. A run killed in between leaves the file unrecorded
   and its scan `running`: reading it again stores nothing twice, because step 3 skips what
   is already there.

`ingest_parquet(path, db=…)` merges a Parquet dataset written by `aicensus export parquet` (or
`aicensus lab synth`) with DuckDB's own reader, in one transaction; the same de-duplication
applies.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from aicensus.errors import InputFileError
from aicensus.fingerprint.load import builtin_signatures
from aicensus.fingerprint.schema import Signature
from aicensus.ingest import censys, masscan, nmap, partial, responses, shodan, zgrab2, zoomeye
from aicensus.ingest.common import (
    BadRecord,
    FormatResult,
    Recorded,
    add_counts,
    batched,
    file_sha256,
)
from aicensus.ingest.responses import endpoint_problem
from aicensus.records import ServiceObservation
from aicensus.runtime import quiet_gc
from aicensus.store import Store
from aicensus.store import longitudinal as lon

Reader = Callable[..., FormatResult]


# Formats read a record at a time (their records stand alone); the rest are read whole.
RECORDED_STREAMS: dict[str, Callable[..., Iterator[Recorded]]] = {
    "censys": censys.records,
    "shodan": shodan.records,
    "zoomeye": zoomeye.records,
}
BATCH = 20_000  # observations stored per transaction


# Each format's reader: a file's recorded services (no fingerprinting).
def _read_nmap(path: str | Path) -> Recorded:
    # masscan -oX handed to `ingest nmap` goes to masscan's reader, which keeps the banners.
    try:
        with open(path, "rb") as f:
            head = f.read(2000).decode("utf-8", "replace")
    except OSError:
        head = ""  # nmap.read names the problem in its one-line error
    return masscan.read(path) if nmap.is_masscan_xml(head) else nmap.read(path)


RECORDED_READERS: dict[str, Callable[..., Recorded]] = {
    "zgrab2": zgrab2.read,
    "masscan": masscan.read,
    "nmap": _read_nmap,
    "censys": censys.read,
    "shodan": shodan.read,
    "zoomeye": zoomeye.read,
    "responses": responses.read,
}


def observed(part: Recorded, sigs: Sequence[Signature]) -> FormatResult:
    """A reader's result with each recorded service turned into its observation."""
    return FormatResult(
        observations=[partial.observe(s, sigs) for s in part.services],
        bad=part.bad,
        records=part.records,
        skipped=part.skipped,
    )


def _observing(fmt: str) -> Reader:
    def read(path: str | Path, sigs: Sequence[Signature], **options: object) -> FormatResult:
        return observed(RECORDED_READERS[fmt](path, **options), sigs)

    return read


# format → read(path, sigs, **options): the file's observations.
READERS: dict[str, Reader] = {fmt: _observing(fmt) for fmt in RECORDED_READERS}


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
    skipped: dict[str, int] = msgspec.field(default_factory=dict)  # not stored, not bad: why → n
    already_ingested: lon.SourceFile | None = None
    by_status: dict[str, int] = msgspec.field(default_factory=dict)
    by_product: dict[str, int] = msgspec.field(default_factory=dict)
    seconds: float = 0.0
    files: int = 1
    skipped_files: int = 0
    missing_model_sets: int = 0  # Parquet: sets named but absent; those observations lack models
    unusable: str | None = None  # why the file gave no usable record (not entered in the ledger)


def _tally(summary: IngestSummary, observations: Sequence[ServiceObservation]) -> None:
    """Add a batch's statuses, products and models to the summary's counts."""
    summary.by_status = dict(
        Counter(summary.by_status) + Counter(str(o.status) for o in observations)
    )
    summary.by_product = dict(
        Counter(summary.by_product) + Counter(o.product for o in observations if o.product)
    )
    summary.models += sum(len(o.models) for o in observations)


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
    """Read one file of format fmt and store its new observations in db (if given).

    Formats whose records stand alone (Censys, Shodan) are read and stored in batches of about
    20,000 observations, so memory stays flat however large the file; the others are read
    whole, because their records are grouped per service across the file.
    """
    if fmt not in READERS:
        raise InputFileError(f"unknown ingest format {fmt!r}; known: {', '.join(READERS)}")
    started = time.monotonic()
    digest = file_sha256(path)
    summary = IngestSummary(format=fmt, path=str(path), sha256=digest)
    sigs = sigs if sigs is not None else builtin_signatures()
    store = Store.open(db) if db else None
    try:
        if store is not None and not force:
            earlier = lon.source_seen(store, digest)
            if earlier is not None:
                summary.already_ingested = earlier
                summary.scan_id = earlier.scan_id
                summary.seconds = round(time.monotonic() - started, 3)
                return summary
        if store is not None:
            summary.scan_id = store.begin_scan(
                "ingest", {"format": fmt, "file": str(path), "sha256": digest}
            )
        try:
            with quiet_gc():
                for part in _parts(fmt, path, sigs, options):
                    _take(summary, part, store, on_observation)
        except BaseException:
            if store is not None and summary.scan_id is not None:
                store.finish_scan(summary.scan_id, "failed")
            raise
        summary.unusable = _unusable(summary)
        if store is not None and summary.scan_id is not None and summary.unusable is not None:
            store.finish_scan(summary.scan_id, "failed")
        elif store is not None and summary.scan_id is not None:
            store.finish_scan(summary.scan_id, "completed")
            lon.record_source(
                store,
                lon.SourceFile(
                    sha256=digest,
                    format=fmt,
                    path=str(path),
                    size_bytes=Path(path).stat().st_size,
                    scan_id=summary.scan_id,
                    ingested_at=datetime.now(UTC).replace(tzinfo=None),
                    records=summary.records,
                    observations=summary.observations,
                    duplicates=summary.duplicates,
                    bad=len(summary.bad_records),
                    skipped=dict(summary.skipped),
                ),
            )
    finally:
        if store is not None:
            store.close()
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


def _unusable(summary: IngestSummary) -> str | None:
    """Why a file gave nothing to store (None when it did): such a file is not entered in the
    ledger, so reading it again after a fix is not "already ingested"."""
    if summary.observations or summary.duplicates:
        return None
    if not summary.records:
        return f"no {summary.format} records in the file"
    if summary.bad_records:
        first = summary.bad_records[0]
        return (
            f"no usable {summary.format} record: {len(summary.bad_records)} of "
            f"{summary.records} records bad (line {first.line}: {first.reason})"
        )
    why = ", ".join(f"{n} {reason}" for reason, n in sorted(summary.skipped.items()))
    return f"no usable {summary.format} record: all {summary.records} records skipped ({why})"


def _parts(
    fmt: str, path: str | Path, sigs: Sequence[Signature], options: dict[str, object]
) -> Iterator[FormatResult]:
    if fmt in RECORDED_STREAMS and not options:
        return batched((observed(part, sigs) for part in RECORDED_STREAMS[fmt](path)), BATCH)
    return iter([READERS[fmt](path, sigs, **options)])


def _take(
    summary: IngestSummary,
    part: FormatResult,
    store: Store | None,
    on_observation: Callable[[ServiceObservation], None] | None,
) -> None:
    """Store one batch (its own transaction): new observations only; count everything."""
    summary.records += part.records
    summary.bad_records.extend(part.bad)
    add_counts(summary.skipped, part.skipped)
    kept = []
    for obs in part.observations:  # every reader validates; this is the store's last guard
        problem = endpoint_problem(obs.ip, obs.port, obs.scheme)
        if problem is None:
            kept.append(obs)
        else:
            summary.bad_records.append(BadRecord(line=0, reason=problem))
    if store is not None:
        kept, duplicates = lon.drop_known(store, kept)
        summary.duplicates += duplicates
        store.add_observations(summary.scan_id, kept)  # type: ignore[arg-type]
    summary.observations += len(kept)
    _tally(summary, kept)
    if on_observation is not None:
        for obs in kept:
            on_observation(obs)


def ingest_parquet(path: str | Path, *, db: str | Path, force: bool = False) -> IngestSummary:
    """Merge a Parquet dataset directory (see store/longitudinal.py) into db."""
    started = time.monotonic()
    files = lon.dataset_files(path)
    every = [f for table in lon.TABLES for f in files[table]]
    hashes = [file_sha256(f) for f in every]
    summary = IngestSummary(format="parquet", path=str(path), files=len(every))
    with Store.open(db) as store:
        seen = [lon.source_seen(store, h) for h in hashes]
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
                store,
                lon.SourceFile(
                    sha256=digest, format="parquet", path=str(f), size_bytes=f.stat().st_size,
                    scan_id=summary.scan_id, ingested_at=now, records=0, observations=0,
                    duplicates=0, bad=0,
                ),
            )  # fmt: skip
        counts = next(s for s in store.scans() if s.scan_id == summary.scan_id).counts
        summary.by_product = store.product_counts(summary.scan_id)
    summary.observations = result.observations
    summary.models = result.models
    summary.duplicates = result.duplicates
    summary.missing_model_sets = result.missing_sets
    summary.records = result.observations + result.duplicates
    summary.by_status = {k: v for k, v in counts.items() if k not in ("observations", "models")}
    summary.seconds = round(time.monotonic() - started, 3)
    return summary
