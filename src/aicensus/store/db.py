"""The DuckDB store: the only place aicensus speaks SQL."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self

import duckdb
import msgspec

from aicensus.errors import StoreError, StoreLockedError
from aicensus.records import ServiceObservation
from aicensus.store import rows, sets, summary
from aicensus.store.schema import SCHEMA_VERSION, check_version, ensure_schema, stored_version
from aicensus.version import __version__

DEFAULT_PATH = "aicensus.duckdb"
ScanKind = Literal["scan", "ingest"]

try:  # installed with gguf; without it, inserts take the slower LIST parameters
    import numpy as _np
except ImportError:  # pragma: no cover
    _np = None  # type: ignore[assignment]

_CHECK = msgspec.msgpack.Encoder()  # what it cannot encode, DuckDB cannot take either
_CHUNK = 20_000  # observations converted and inserted per statement group (one transaction)
_FETCH = 2_000  # rows fetched per round trip when reading
_SCAN_KINDS = ("scan", "ingest")


class ScanInfo(msgspec.Struct, kw_only=True):
    """One row of the scans table. Times are timezone-aware UTC."""

    scan_id: int
    kind: str
    started_at: datetime
    finished_at: datetime | None
    args: dict[str, Any]
    tool_version: str
    status: str  # "running" until finish_scan: then e.g. "completed", "interrupted", "failed"
    counts: dict[str, int]  # "observations", "models" and one key per ScanStatus seen


class Checkpoint(msgspec.Struct, kw_only=True):
    """How far a scan got through its plan: which plan positions have stored observations.

    Positions are 0-based indices into the scan's deterministic target order (this shard's
    share of it). Every position below `done_below` is stored, and so is every position in
    `done_above`; no other is. Written in the same transaction as the observations it counts.
    """

    plan_size: int  # targets the plan yields; a resume with another plan is refused
    done_below: int = 0
    done_above: list[int] = msgspec.field(default_factory=list)
    resumes: int = 0  # times the scan was resumed

    def done(self) -> int:
        return self.done_below + len(self.done_above)


# ---------------------------------------------------------------- error mapping


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    text = text.split(" LINE 1: ")[0]  # DuckDB quotes the statement: ours, not the user's
    return re.sub(r"^[A-Za-z ]*Error: ", "", text)


def _open_error(path: str, read_only: bool, error: duckdb.Error) -> StoreError:
    detail = _one_line(error)
    if "Could not set lock" in detail:
        pid = re.search(r"\(PID (\d+)\)", detail)
        holder = f" (PID {pid.group(1)})" if pid else ""
        return StoreLockedError(
            f"store {path} is in use by another process{holder}; "
            "wait for it to finish or use a different database path"
        )
    return StoreError(f"cannot open store {path}: {_open_reason(path, read_only, detail)}")


def _open_reason(path: str, read_only: bool, detail: str) -> str:
    if "not a valid DuckDB database file" in detail:
        return "the file is not a DuckDB database"
    if os.path.isdir(path):
        return "it is a directory, not a database file"
    if read_only and not os.path.exists(path):
        return "no such file (a read-only store must already exist)"
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        return f"directory {parent} does not exist"
    return detail


@contextlib.contextmanager
def _mapped(action: str) -> Iterator[None]:
    """Turn any DuckDB failure inside the block into a one-line StoreError."""
    try:
        yield
    except duckdb.Error as error:
        raise StoreError(f"{action}: {_one_line(error)}") from error


mapped_errors = _mapped  # for the store's other modules (longitudinal.py)

MEMORY_LIMIT_ENV = "AICENSUS_DUCKDB_MEMORY_LIMIT"


def apply_limits(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB's memory limit from $AICENSUS_DUCKDB_MEMORY_LIMIT (e.g. 2GB), when set; bulk
    statements (a migration, a Parquet merge, the study report) spill to disk beyond it."""
    limit = os.environ.get(MEMORY_LIMIT_ENV)
    if not limit:
        return
    try:
        con.execute("SET memory_limit = ?", [limit])
    except duckdb.Error as error:
        raise StoreError(
            f"${MEMORY_LIMIT_ENV}={limit!r} is not a memory size such as 2GB: {_one_line(error)}"
        ) from None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


# ---------------------------------------------------------------- bulk insert


def _insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[rows.Column],
    data: Sequence[rows.Row],
) -> None:
    """Insert many rows with one statement, from one NumPy object array per column.

    DuckDB reads a dict of NumPy arrays named in the statement (a replacement scan of this
    frame's local) ~4x faster than the same columns as LIST parameters (_insert_lists),
    whose values it converts one by one. A failure inside the statement would abort the
    caller's transaction, so what could fail is settled first: every value is analysed for
    the column's type, a string DuckDB cannot take
    (a lone surrogate from a hostile server) is repaired, and a value msgpack cannot hold
    (an integer beyond 64 bits) takes the LIST path, which fails before the statement runs.
    """
    if not data:
        return
    cols: list[Any] = list(zip(*data, strict=True))
    if _np is None:
        _insert_lists(con, table, columns, cols)
        return
    try:
        _CHECK.encode(cols)
    except UnicodeEncodeError:
        cols = rows.scrub(cols)
    except (TypeError, OverflowError):
        _insert_lists(con, table, columns, cols)
        return
    count = len(data)
    # DuckDB types an object column by a sample of its values (1,000 by default): a column
    # None in every sampled row and a string in another would fail. It looks at them all.
    con.execute(f"SET pandas_analyze_sample = {max(count, 1000)}")
    _aicensus_columns = {  # read by DuckDB, by its name
        f"c{i}": _np.fromiter(col, dtype=object, count=count) for i, col in enumerate(cols)
    }
    names = ", ".join(name for name, _ in columns)
    cells = ", ".join(f"c{i}::{kind}" for i, (_, kind) in enumerate(columns))
    con.execute(f"INSERT INTO {table} ({names}) SELECT {cells} FROM _aicensus_columns")


def _insert_lists(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[rows.Column],
    cols: Sequence[Sequence[Any]],
) -> None:
    """The same insert with each column as one typed LIST parameter (no NumPy needed).

    DuckDB's executemany costs ~0.5 ms a row; one unnest per column is ~100x faster.
    A string DuckDB cannot take fails only the parameter conversion, so the statement is
    retried with such strings repaired.
    """
    names = ", ".join(name for name, _ in columns)
    lists = ", ".join(f"unnest(${i}::{kind}[])" for i, (_, kind) in enumerate(columns, 1))
    sql = f"INSERT INTO {table} ({names}) SELECT {lists}"
    params = [list(column) for column in cols]
    try:
        con.execute(sql, params)
    except duckdb.InvalidInputException as error:  # raised before the statement runs
        if "surrogate" not in str(error):
            raise
        con.execute(sql, rows.scrub(params))


def _batches(items: Iterable[ServiceObservation], size: int) -> Iterator[list[ServiceObservation]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _chunk_rows(
    scan_id: int, obs_ids: Sequence[int], chunk: Sequence[ServiceObservation]
) -> tuple[list[rows.Row], list[rows.Row], list[rows.Row]]:
    observations: list[rows.Row] = []
    log: list[rows.Row] = []
    mcp: list[rows.Row] = []
    for obs_id, obs in zip(obs_ids, chunk, strict=True):
        observations.append(rows.observation_row(obs_id, scan_id, obs))
        log.extend(rows.log_row(obs_id, i, e) for i, e in enumerate(obs.request_log))
        if obs.mcp is not None:
            mcp.append((obs_id, rows.to_json(obs.mcp)))
    return observations, log, mcp


_MODELS_ENCODER = msgspec.msgpack.Encoder()
_SET_CACHE_MAX = 500_000  # inventories remembered per open store (~100 bytes each)


def _inventory_key(obs: ServiceObservation) -> bytes | None:
    """A digest of the observation's models, equal exactly when their rows would be; None when
    they cannot be encoded (lone surrogates from a hostile server: then they are not cached)."""
    try:
        encoded = _MODELS_ENCODER.encode(obs.models)
    except (UnicodeEncodeError, TypeError, OverflowError):
        return None
    return hashlib.blake2b(encoded, digest_size=16).digest()


# ---------------------------------------------------------------- reading

_OBS_NAMES = tuple(name for name, _ in rows.OBS_COLUMNS)
# What `_observation` reads for one observation `o`: every reader of whole observations
# selects exactly these columns.
OBSERVATION_COLUMNS = f"""{", ".join(f"o.{n}" for n in _OBS_NAMES)},
    (SELECT list(m ORDER BY m.seq) FROM set_models m WHERE m.set_id = o.model_set),
    (SELECT list(r ORDER BY r.seq) FROM request_log r WHERE r.obs_id = o.obs_id),
    (SELECT i.inventory FROM mcp_inventories i WHERE i.obs_id = o.obs_id)"""
_SELECT_OBSERVATIONS = f"""
SELECT {OBSERVATION_COLUMNS}
FROM observations o
WHERE $scan_id IS NULL OR o.scan_id = $scan_id
ORDER BY o.obs_id
"""


def _observation(row: tuple[Any, ...]) -> ServiceObservation:
    width = len(_OBS_NAMES)
    models, log, mcp = row[width:]
    obs = rows.observation_from_cells(dict(zip(_OBS_NAMES, row[:width], strict=True)), models, log)
    obs.mcp = rows.mcp_from_cell(mcp)
    return obs


def _scan_info(row: tuple[Any, ...]) -> ScanInfo:
    scan_id, kind, started, finished, args, version, status, counts = row
    return ScanInfo(
        scan_id=scan_id,
        kind=kind,
        started_at=started.replace(tzinfo=UTC),
        finished_at=_utc(finished),
        args=msgspec.json.decode(args),
        tool_version=version,
        status=status,
        counts={} if counts is None else msgspec.json.decode(counts),
    )


# ---------------------------------------------------------------- the store


class Store:
    """An open aicensus store. Use ``with Store.open(path) as store: ...``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str, read_only: bool) -> None:
        self._con = con
        self.path = path
        self.read_only = read_only
        # inventory digest -> set_id of sets committed to this store: a host listing the same
        # models again (or another host listing the same ones) stages nothing for them.
        self._set_cache: dict[bytes, int] = {}

    @classmethod
    def open(cls, path: str | os.PathLike[str] = DEFAULT_PATH, *, read_only: bool = False) -> Self:
        """Open (creating if needed, unless read_only) the store at path.

        Raises StoreLockedError when another process holds it, StoreError otherwise.
        """
        where = os.fspath(path)
        try:
            con = duckdb.connect(where, read_only=read_only)
        except duckdb.Error as error:
            raise _open_error(where, read_only, error) from error
        try:
            cls._prepare(con, where, read_only)
        except BaseException:
            con.close()
            raise
        return cls(con, where, read_only)

    @staticmethod
    def _prepare(con: duckdb.DuckDBPyConnection, where: str, read_only: bool) -> None:
        with _mapped(f"cannot open store {where}"):
            apply_limits(con)
            if not read_only:
                ensure_schema(con, where)
                return
            version = stored_version(con)
        check_version(version, where)
        if version != SCHEMA_VERSION:
            raise StoreError(f"{where} needs migrating: open it once without read-only access")

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------ scans

    def begin_scan(
        self,
        kind: ScanKind,
        args: dict[str, Any] | None = None,
        *,
        checkpoint: Checkpoint | None = None,
    ) -> int:
        """Record the start of a scan or ingest run; returns its scan_id.

        With `checkpoint`, the scan's first progress record is written in the same
        transaction, so a resumable scan never exists without one.
        """
        if kind not in _SCAN_KINDS:
            raise ValueError(f"scan kind must be one of {_SCAN_KINDS}, not {kind!r}")
        self._writable()
        with _mapped(f"cannot record a new scan in {self.path}"), self._transaction():
            row = self._con.execute(
                "INSERT INTO scans (kind, started_at, args, tool_version, status) "
                "VALUES (?, ?, ?, ?, 'running') RETURNING scan_id",
                [kind, _now(), rows.to_json(args or {}), __version__],
            ).fetchone()
            assert row is not None
            if checkpoint is not None:
                self._write_checkpoint(int(row[0]), checkpoint)
        return int(row[0])

    def finish_scan(self, scan_id: int, status: str = "completed") -> None:
        """Mark a scan finished with status, recording its counts; bring the summary tables
        (store/summary.py) up to date."""
        self._writable()
        self._require_scan(scan_id)
        with _mapped(f"cannot finish scan {scan_id} in {self.path}"):
            counts = self._counts(scan_id)
            self._con.execute(
                "UPDATE scans SET finished_at = ?, status = ?, counts = ? WHERE scan_id = ?",
                [_now(), status, rows.to_json(counts), scan_id],
            )
            # The dashboard's summary (store/summary.py) gains this run's observations.
            summary.refresh(self._con)

    def _counts(self, scan_id: int) -> dict[str, int]:
        by_status = self._con.execute(
            "SELECT status, count(*) FROM observations WHERE scan_id = ? GROUP BY status "
            "ORDER BY status",
            [scan_id],
        ).fetchall()
        models = self._con.execute(
            "SELECT coalesce(sum(s.n_models), 0) FROM observations o "
            "JOIN model_sets s ON s.set_id = o.model_set WHERE o.scan_id = ?",
            [scan_id],
        ).fetchone()
        counts = {
            "observations": sum(n for _, n in by_status),
            "models": models[0] if models else 0,
        }
        return counts | dict(by_status)

    def scans(self) -> list[ScanInfo]:
        """Every scan, oldest first."""
        with _mapped(f"cannot list scans in {self.path}"):
            found = self._con.execute(
                "SELECT scan_id, kind, started_at, finished_at, args, tool_version, status, "
                "counts FROM scans ORDER BY scan_id"
            ).fetchall()
        return [_scan_info(row) for row in found]

    def product_counts(self, scan_id: int) -> dict[str, int]:
        """{product: observations} of one scan (observations with no product not counted)."""
        with _mapped(f"cannot read observations from {self.path}"):
            found = self._con.execute(
                "SELECT product, count(*) FROM observations WHERE scan_id = ? "
                "AND product IS NOT NULL GROUP BY product",
                [scan_id],
            ).fetchall()
        return dict(found)

    def latest_scan_id(self) -> int | None:
        """The most recently begun scan (any kind, any status), or None in an empty store."""
        with _mapped(f"cannot read scans in {self.path}"):
            row = self._con.execute("SELECT max(scan_id) FROM scans").fetchone()
        return None if row is None else row[0]

    # ------------------------------------------------------------ observations

    def add_observations(
        self,
        scan_id: int,
        observations: Iterable[ServiceObservation],
        *,
        checkpoint: Checkpoint | None = None,
    ) -> int:
        """Store a batch of observations in one transaction; returns how many were stored.

        With `checkpoint`, the scan's progress is replaced in that same transaction, so the
        stored observations and the recorded progress can never disagree.
        """
        self._writable()
        self._require_scan(scan_id)
        stored = 0
        new_sets: dict[bytes, int] = {}  # remembered only once the transaction commits
        with _mapped(f"cannot store observations in {self.path}"), self._transaction():
            for chunk in _batches(observations, _CHUNK):
                self._add_chunk(scan_id, chunk, new_sets)
                stored += len(chunk)
            if checkpoint is not None:
                self._write_checkpoint(scan_id, checkpoint)
        if len(self._set_cache) + len(new_sets) > _SET_CACHE_MAX:
            self._set_cache.clear()
        self._set_cache.update(new_sets)
        return stored

    # ------------------------------------------------------------ checkpoints

    def save_checkpoint(self, scan_id: int, checkpoint: Checkpoint) -> None:
        """Replace the scan's recorded progress (its own transaction)."""
        self.add_observations(scan_id, (), checkpoint=checkpoint)

    def checkpoint(self, scan_id: int) -> Checkpoint | None:
        """The scan's recorded progress, or None for a scan that never wrote one."""
        with _mapped(f"cannot read scan progress from {self.path}"):
            row = self._con.execute(
                "SELECT plan_size, done_below, done_above, resumes FROM scan_progress "
                "WHERE scan_id = ?",
                [scan_id],
            ).fetchone()
        if row is None:
            return None
        plan_size, done_below, done_above, resumes = row
        return Checkpoint(
            plan_size=plan_size,
            done_below=done_below,
            done_above=sorted(done_above),
            resumes=resumes,
        )

    def reopen_scan(self, scan_id: int) -> None:
        """Mark a scan running again (to resume it): status `running`, no finish time."""
        self._writable()
        self._require_scan(scan_id)
        with _mapped(f"cannot reopen scan {scan_id} in {self.path}"):
            self._con.execute(
                "UPDATE scans SET status = 'running', finished_at = NULL, counts = NULL "
                "WHERE scan_id = ?",
                [scan_id],
            )

    def _write_checkpoint(self, scan_id: int, checkpoint: Checkpoint) -> None:
        self._con.execute("DELETE FROM scan_progress WHERE scan_id = ?", [scan_id])
        self._con.execute(
            "INSERT INTO scan_progress VALUES (?, ?, ?, ?::BIGINT[], ?, ?)",
            [
                scan_id,
                checkpoint.plan_size,
                checkpoint.done_below,
                sorted(checkpoint.done_above),
                checkpoint.resumes,
                _now(),
            ],
        )

    def _add_chunk(
        self, scan_id: int, chunk: Sequence[ServiceObservation], new_sets: dict[bytes, int]
    ) -> None:
        reserved = self._con.execute(
            "SELECT nextval('obs_id_seq') AS id FROM range(?) ORDER BY id", [len(chunk)]
        ).fetchall()
        obs_ids = [r[0] for r in reserved]
        observations, log, mcp = _chunk_rows(scan_id, obs_ids, chunk)
        set_of = self._model_sets(obs_ids, chunk, new_sets)
        _insert(
            self._con,
            "observations",
            (*rows.OBS_COLUMNS, ("model_set", "BIGINT")),
            [(*row, set_of.get(row[0])) for row in observations],
        )
        _insert(self._con, "request_log", rows.LOG_COLUMNS, log)
        _insert(self._con, "mcp_inventories", rows.MCP_COLUMNS, mcp)

    def _model_sets(
        self,
        obs_ids: Sequence[int],
        chunk: Sequence[ServiceObservation],
        new_sets: dict[bytes, int],
    ) -> dict[int, int]:
        """{obs_id: set_id} for the chunk's observations that list models. Inventories seen
        before are looked up; each new one is staged once and interned (store/sets.py)."""
        set_of: dict[int, int] = {}
        waiting: dict[int, bytes | None] = {}  # obs_id -> inventory digest, to be interned
        staged: dict[bytes, int] = {}  # digest -> the obs_id whose rows stand for it
        models: list[rows.Row] = []
        for obs_id, obs in zip(obs_ids, chunk, strict=True):
            if not obs.models:
                continue
            key = _inventory_key(obs)
            known = None if key is None else self._set_cache.get(key, new_sets.get(key))
            if known is not None:
                set_of[obs_id] = known
                continue
            waiting[obs_id] = key
            if key is None or key not in staged:
                if key is not None:
                    staged[key] = obs_id
                models.extend(rows.model_row(obs_id, i, m) for i, m in enumerate(obs.models))
        interned = self._intern_models(models)
        for obs_id, key in waiting.items():
            owner = obs_id if key is None else staged[key]
            set_of[obs_id] = interned[owner]
            if key is not None:
                new_sets[key] = interned[owner]
        return set_of

    def _intern_models(self, models: Sequence[rows.Row]) -> dict[int, int]:
        """Store these model rows (obs_id first) as sets; {obs_id: set_id}."""
        if not models:
            return {}
        self._con.execute(
            "CREATE OR REPLACE TEMP TABLE _aicensus_staged AS SELECT * FROM set_models LIMIT 0"
        )
        self._con.execute("ALTER TABLE _aicensus_staged RENAME COLUMN set_id TO obs_id")
        _insert(self._con, "_aicensus_staged", rows.MODEL_COLUMNS, models)
        sets.intern(self._con, "_aicensus_staged", "obs_id", "_aicensus_sets")
        found = self._con.execute("SELECT owner, set_id FROM _aicensus_sets").fetchall()
        self._con.execute("DROP TABLE _aicensus_staged")
        self._con.execute("DROP TABLE _aicensus_sets")
        return dict(found)

    def observations(self, scan_id: int | None = None) -> Iterator[ServiceObservation]:
        """The observations of one scan (all scans when None), in the order they were added."""
        with _mapped(f"cannot read observations from {self.path}"):
            cursor = self._con.cursor()
            try:
                cursor.execute(_SELECT_OBSERVATIONS, {"scan_id": scan_id})
                while batch := cursor.fetchmany(_FETCH):
                    yield from map(_observation, batch)
            finally:
                cursor.close()

    # ------------------------------------------------------------ helpers

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"store {self.path} is open read-only")

    def _require_scan(self, scan_id: int) -> None:
        with _mapped(f"cannot read scans in {self.path}"):
            row = self._con.execute("SELECT 1 FROM scans WHERE scan_id = ?", [scan_id]).fetchone()
        if row is None:
            raise StoreError(f"store {self.path} has no scan {scan_id}")
