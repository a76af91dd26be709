"""Ingest: other tools' recorded scan data (and aicensus Parquet datasets) into the store,
fingerprinted offline with the same signatures as a live scan."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aicensus.api.scanning import ObservationCallback
from aicensus.fingerprint.schema import Signature
from aicensus.ingest import files
from aicensus.ingest.files import IngestSummary

# The formats `ingest` reads; "responses" is aicensus's own recorded-exchange JSON Lines.
INGEST_FORMATS: tuple[str, ...] = tuple(files.READERS)


def ingest_file(
    path: str | Path,
    fmt: str,
    *,
    db: str | Path | None = None,
    sigs: Sequence[Signature] | None = None,
    on_observation: ObservationCallback | None = None,
    force: bool = False,
    default_port: int | None = None,
) -> IngestSummary:
    """Read one file of format `fmt` (one of INGEST_FORMATS) and store its new observations.

    The file is hashed first: one already ingested into `db` is skipped (`already_ingested`
    is set) unless `force`; observations already stored are skipped either way. Bad records
    are listed in `bad_records` and skipped. `default_port` is zgrab2's --port.
    """
    options: dict[str, object] = {}
    if default_port is not None:
        options["default_port"] = default_port
    return files.ingest_file(
        path, fmt, db=db, sigs=sigs, on_observation=on_observation, force=force, **options
    )


def ingest_parquet(path: str | Path, *, db: str | Path, force: bool = False) -> IngestSummary:
    """Merge a Parquet dataset (from `export_parquet` or `synthesize`) into `db`; observations
    already stored are skipped, so shards from many machines combine once."""
    return files.ingest_parquet(path, db=db, force=force)


def ingest_responses(
    path: str | Path,
    *,
    db: str | Path | None = None,
    sigs: Sequence[Signature] | None = None,
    on_observation: ObservationCallback | None = None,
    force: bool = False,
) -> IngestSummary:
    """Fingerprint recorded responses (JSON Lines) and store them: the one ingest path
    (`ingest_file(path, "responses")`: time grouping, ledger, de-duplication, batching)."""
    return ingest_file(
        path, "responses", db=db, sigs=sigs, on_observation=on_observation, force=force
    )


# --- pulling a search engine's results with the user's key (issue 15; ingest/pull.py) -------
from aicensus.ingest import pull as _pull  # noqa: E402
from aicensus.ingest.pull import PullError as PullError  # noqa: E402
from aicensus.ingest.pull import PullSummary as PullSummary  # noqa: E402
from aicensus.ingest.pull import find_key as find_key  # noqa: E402

PULL_ENGINES = _pull.ENGINES
PulledPage = _pull.Page
pull_search = _pull.pull  # pull(engine, query, key=…, db=…): pages into the one ingest path
