"""The aicensus error tree: every exception the project defines is here, and third-party
exceptions are mapped to these at the boundary. The modules that raise them import them
from here (and keep the names importable where they used to live).

AicensusError                a complete, one-line explanation for the user (CLI: exit 2)
├── TargetError              a target, exclusion, port list or shard spec that cannot be parsed
├── InputFileError           a file that cannot be read or parsed (target lists, ingest files)
│   └── PullError            a search-engine pull that cannot start or go on (no key, no SDK,
│                            the API refused a request)
├── RecordError              one record of an input file that cannot be used: it becomes a
│                            skipped record (BadRecord) and reading goes on; also a ValueError
├── SignatureError           a fingerprint file that fails validation (names the file and field)
├── CatalogError             the provenance catalog fails validation
├── StudyDataError           the published study figures (report/data/published.yaml) are invalid
├── CheckError               a check or CVE-range file that fails validation (file and field)
├── PolicyError              a policy file that cannot be read or fails validation
├── AdvisoryError            an advisory bundle or file that cannot be read (names the file)
├── ReadOnlyViolation        a probe that is not GET/HEAD or an allow-listed read-only POST
├── ExcludedAddress          a connection to an excluded address, refused before the socket
│                            connects (engine/guard.py); also an OSError, as sockets fail
├── HttpProtocolError        a response the engine's HTTP/1.1 client cannot read (a head that
│   │                        is not HTTP/1.x or breaks a header limit): recorded in the
│   │                        exchange as "protocol: ...", never raised past the engine
│   ├── PayloadError         a response body cut short or framed wrong (recorded by name)
│   ├── PeerDisconnected     the peer closed before answering (recorded as "disconnected");
│   │                        also a ConnectionError
│   └── ConnectFailed        a connection that could not be opened (a TLS handshake that
│                            failed, an OS error); its message is what the exchange records
├── StoreError               the DuckDB store cannot be opened or written
│   └── StoreLockedError     another process holds the store
├── ResumeError              a scan that cannot be resumed (missing, finished, other arguments)
├── SnapshotReplaced         a dashboard snapshot's background work stopped because a newer
│                            snapshot replaced it (never shown; the page says it stopped)
├── WorkerError              a scan worker process ended without finishing its share
├── ClusterError             a --cluster scan that cannot start or go on (no extra, no
│                            scheduler, no worker, a shard that keeps killing workers)
├── AuditError               an audit that cannot run as asked (a bad --path, an unknown severity)
├── HeaderError              a model file's header that cannot be read; also a ValueError
│   ├── GGUFHeaderError      a GGUF file the reader cannot walk
│   └── PickleStreamError    where a pickle stream stops being a pickle (the audit's walker)
├── LimitExceeded            a model file beyond a reader limit: the message becomes the
│                            file's note (docs/audit.md#limits), never an error
├── BomError                 a CycloneDX document that fails its schema
└── LabError                 a lab server could not be started, stopped or found
    ├── EmulatorConfigError  a setting an emulator refuses (non-loopback address, bad auth
    │                        spec); also a ValueError
    └── EmulatorBadRequest   a request an emulator answers with a Go-style error and a
                             closed connection (never leaves the emulator)

Terminated (a KeyboardInterrupt, outside the tree on purpose): SIGTERM or SIGHUP during a
scan, handled like Ctrl-C.
"""

from __future__ import annotations


class AicensusError(Exception):
    """Base class: its message is a complete, one-line explanation for the user."""


class TargetError(AicensusError):
    pass


class InputFileError(AicensusError):
    pass


class RecordError(AicensusError, ValueError):
    """A record that cannot be used; its message becomes the BadRecord reason."""


class SignatureError(AicensusError):
    pass


class CatalogError(AicensusError):
    pass


class StudyDataError(AicensusError):
    pass


class CheckError(AicensusError):
    """A check or CVE-range file that fails validation (names the file and the field)."""


class PolicyError(AicensusError):
    """A policy file that cannot be read or fails validation (names the file and field)."""


class AdvisoryError(AicensusError):
    """A bundle or advisory file that cannot be read (names the file)."""


class ReadOnlyViolation(AicensusError):
    pass


class ExcludedAddress(AicensusError, OSError):
    """Raised by the socket factory (engine/guard.py): a connection that is never made."""


class HttpProtocolError(AicensusError):
    """A response head the engine's HTTP/1.1 client refuses (engine/http11.py)."""


class PayloadError(HttpProtocolError):
    """A response body cut short or framed wrong (engine/http11.py)."""


class PeerDisconnected(HttpProtocolError, ConnectionError):
    """The peer closed the connection before a response began (engine/http11.py)."""


class ConnectFailed(HttpProtocolError, OSError):
    """A connection that could not be opened; the message is the exchange's error."""


class StoreError(AicensusError):
    pass


class StoreLockedError(StoreError):
    pass


class ResumeError(AicensusError):
    """A scan that cannot be resumed: missing, finished, or planned with other arguments."""


class AuditError(AicensusError):
    """An audit that cannot run as asked (a bad --path, an unknown severity …)."""


class HeaderError(AicensusError, ValueError):
    """A model file header that cannot be read (the message says why)."""


class GGUFHeaderError(HeaderError):
    """The file is not a GGUF file the reader can walk (the message says why)."""


class PickleStreamError(HeaderError):
    """Where a pickle stream stops being a pickle: its end, bytes that are no opcode, a
    truncated argument (the message says which)."""


class LimitExceeded(AicensusError):
    """A model file exceeds a reader limit: the message is the file's note, not an error."""


class BomError(AicensusError):
    """A CycloneDX document that fails validation against its schema."""


class LabError(AicensusError):
    pass


class EmulatorConfigError(LabError, ValueError):
    """A command-line setting the emulator refuses (non-loopback address, bad auth spec)."""


class EmulatorBadRequest(LabError):
    """A malformed request: the emulator answers `status` with Go's plain-text error and
    closes the connection, as Go's net/http does."""

    def __init__(self, status: int = 400) -> None:
        super().__init__(status)
        self.status = status


class Terminated(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) during a scan: handled like Ctrl-C, so the batch in hand and the
    checkpoint are written and the scan is marked interrupted, ready for `--resume`."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


class PullError(InputFileError):
    """A pull that cannot start or go on: no key, no SDK, or the API refused a request."""


class SnapshotReplaced(AicensusError):
    """A newer dashboard snapshot replaced the one whose background work was running."""


class WorkerError(AicensusError):
    """A worker process ended without finishing its share (the scan can be resumed)."""


class ClusterError(AicensusError):
    """A scan on a Dask cluster that cannot start or go on (the scan can be resumed)."""
