"""The store stage: every scan and ingest run persisted in one DuckDB file.

This is the only package that speaks SQL; other stages exchange records with it.
The tables are documented in docs/store.md.
"""

from aicensus.store.db import DEFAULT_PATH, Checkpoint, ScanInfo, ScanKind, Store
from aicensus.store.schema import SCHEMA_VERSION

__all__ = ["DEFAULT_PATH", "SCHEMA_VERSION", "Checkpoint", "ScanInfo", "ScanKind", "Store"]
