"""The typed records of `aicensus audit`, defined in `aicensus.audit_records` (below the
stages, so report/ reads them without importing audit/) and re-exported here."""

from __future__ import annotations

from aicensus.audit_records import (
    AuditResult,
    GGUFInfo,
    LocalService,
    ModelFile,
    ModelStore,
    PickleScan,
    ProcessInfo,
)
from aicensus.errors import AuditError

__all__ = [
    "AuditError",
    "AuditResult",
    "GGUFInfo",
    "LocalService",
    "ModelFile",
    "ModelStore",
    "PickleScan",
    "ProcessInfo",
]
