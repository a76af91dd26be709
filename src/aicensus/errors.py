"""The aicensus error tree. Third-party exceptions are mapped to these at the boundary.

AicensusError
├── TargetError          a target, exclusion, port list or shard spec that cannot be parsed
├── InputFileError       a file that cannot be read or parsed (target lists, ingest files)
├── SignatureError       a fingerprint file that fails validation (names the file and field)
├── CatalogError         the provenance catalog fails validation
├── StudyDataError       the published study figures (report/data/published.yaml) fail validation
├── ReadOnlyViolation    a probe that is not GET/HEAD or an allow-listed read-only POST
├── StoreError           the DuckDB store cannot be opened or written
│   └── StoreLockedError another process holds the store
└── LabError             a lab server could not be started, stopped or found
"""

from __future__ import annotations


class AicensusError(Exception):
    """Base class: its message is a complete, one-line explanation for the user."""


class TargetError(AicensusError):
    pass


class InputFileError(AicensusError):
    pass


class SignatureError(AicensusError):
    pass


class CatalogError(AicensusError):
    pass


class StudyDataError(AicensusError):
    pass


class ReadOnlyViolation(AicensusError):
    pass


class StoreError(AicensusError):
    pass


class StoreLockedError(StoreError):
    pass


class LabError(AicensusError):
    pass


class Terminated(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) during a scan: handled like Ctrl-C, so the batch in hand and the
    checkpoint are written and the scan is marked interrupted, ready for `--resume`."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum
