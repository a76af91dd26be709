"""The longitudinal layer over the store: which source files were ingested, duplicate-free
observations, per-host history (first and last seen, observations, days observed, persistence
class), and the date-partitioned Parquet form of a whole store (export and merge).

Its ledger of ingested files is the `ingest_sources` table of the core schema (version 3).
See docs/measurement.md.

Identity of an observation: `observation_key` = ip | port | scheme | observed_at (as given) |
source. Two rows with the same key are the same sighting from the same source, so re-reading a
file, or merging two shards that overlap, stores it once.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import msgspec

from aicensus.errors import InputFileError, StoreError
from aicensus.records import ServiceObservation
from aicensus.store import Store, rows, sets
from aicensus.store.db import apply_limits, mapped_errors

OBS_KEY_SQL = (
    "concat_ws('|', ip, CAST(port AS VARCHAR), coalesce(scheme, ''), observed_at_text, source)"
)
# The same key as columns (hashing the columns is cheaper than building 7 million strings).
KEY_COLUMNS = "ip, port, _scheme, observed_at_text, source"
KEY_SELECT = "ip, port, coalesce(scheme, '') AS _scheme, observed_at_text, source"
# Columns of the Parquet tables, in the store's own column names and types: the observation
# (less its store-local ids), the models of a set, a request log entry.
OBS_FIELDS = tuple(n for n, _ in rows.OBS_COLUMNS if n not in ("obs_id", "scan_id"))
MODEL_FIELDS = sets.SET_FIELDS
# Model columns a dataset may lack, being written before they existed: read as NULL.
OPTIONAL_MODEL_FIELDS = {"matched_by": "VARCHAR"}
LOG_FIELDS = tuple(n for n, _ in rows.LOG_COLUMNS if n != "obs_id")
PARQUET_FORMAT_VERSION = "2"


def observation_key(obs: ServiceObservation) -> str:
    """The Python twin of OBS_KEY_SQL."""
    return "|".join((obs.ip, str(obs.port), obs.scheme or "", obs.observed_at, obs.source))


def _connection(store: Store) -> duckdb.DuckDBPyConnection:
    """The store's DuckDB connection, for this package's modules only: it never leaves store/."""
    return store._con


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# ---------------------------------------------------------------- source files


class SourceFile(msgspec.Struct, kw_only=True):
    sha256: str
    format: str
    path: str
    size_bytes: int | None
    scan_id: int | None
    ingested_at: datetime
    records: int
    observations: int
    duplicates: int
    bad: int
    skipped: dict[str, int] = {}  # records read but not stored: why → how many


_SOURCE_COLUMNS = (
    "sha256, format, path, size_bytes, scan_id, ingested_at, records, observations, "
    "duplicates, bad, skipped"
)


def _source(row: tuple[Any, ...]) -> SourceFile:
    names = SourceFile.__struct_fields__
    values: dict[str, Any] = dict(zip(names, row, strict=True))
    values["skipped"] = msgspec.json.decode(values["skipped"]) if values["skipped"] else {}
    return SourceFile(**values)


def source_seen(store: Store, sha256: str) -> SourceFile | None:
    """The earlier ingest of a file with these bytes, if any."""
    con = _connection(store)
    row = con.execute(
        f"SELECT {_SOURCE_COLUMNS} FROM ingest_sources WHERE sha256 = ?", [sha256]
    ).fetchone()
    return None if row is None else _source(row)


def record_source(store: Store, source: SourceFile) -> None:
    """Record an ingested file in the ledger (replacing an earlier record of the same bytes)."""
    _connection(store).execute(
        f"INSERT OR REPLACE INTO ingest_sources ({_SOURCE_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [getattr(source, name) for name in SourceFile.__struct_fields__[:-1]]
        + [msgspec.json.encode(source.skipped).decode() if source.skipped else None],
    )


def sources(store: Store) -> list[SourceFile]:
    """Every ingested file, oldest first."""
    con = _connection(store)
    found = con.execute(
        f"SELECT {_SOURCE_COLUMNS} FROM ingest_sources ORDER BY ingested_at, path"
    ).fetchall()
    return [_source(row) for row in found]


# ---------------------------------------------------------------- duplicates


def drop_known(
    store: Store, observations: Sequence[ServiceObservation]
) -> tuple[list[ServiceObservation], int]:
    """observations less those already stored (by key) or repeated in the list; and how many
    were dropped."""
    unique: dict[str, ServiceObservation] = {}
    for obs in observations:
        unique.setdefault(observation_key(obs), obs)
    if not unique:
        return [], len(observations)
    ips = sorted({obs.ip for obs in unique.values()})
    con = _connection(store)
    known = con.execute(
        f"SELECT k FROM unnest($1::VARCHAR[]) AS t(k) SEMI JOIN "
        f"(SELECT {OBS_KEY_SQL} AS k FROM observations WHERE ip IN (SELECT unnest($2::VARCHAR[])))"
        " USING (k)",
        [list(unique), ips],
    ).fetchall()
    for (key,) in known:
        unique.pop(key, None)
    kept = list(unique.values())
    return kept, len(observations) - len(kept)


# ---------------------------------------------------------------- hosts over time


class PersistenceRule(msgspec.Struct, kw_only=True, frozen=True):
    """How a host's persistence class is decided from its observation count and days observed.

    * seen once: at most `once_max_observations` observations (default 1);
    * persistent: more than `persistent_min_observations - 1` observations (default: > 100,
      SentinelLABS' threshold) and at least `persistent_min_days` distinct UTC days (default 0,
      i.e. no day condition);
    * transient: everything in between.

    The observation thresholds depend on scan cadence; `persistent_min_days` gives a cadence-free
    rule (e.g. 101 observations or not, seen on at least 30 days).
    """

    once_max_observations: int = 1
    persistent_min_observations: int = 101
    persistent_min_days: int = 0

    def describe(self) -> dict[str, str]:
        days = (
            f" on at least {self.persistent_min_days} distinct UTC days"
            if self.persistent_min_days
            else ""
        )
        return {
            "seen_once": f"observed at most {self.once_max_observations} time(s)",
            "transient": "every host in neither other class",
            "persistent": f"observed at least {self.persistent_min_observations} times{days}",
        }

    def case_sql(self, count: str = "observations", days: str = "days_observed") -> str:
        return (
            f"CASE WHEN {count} <= {int(self.once_max_observations)} THEN 'seen_once' "
            f"WHEN {count} >= {int(self.persistent_min_observations)} "
            f"AND {days} >= {int(self.persistent_min_days)} THEN 'persistent' "
            "ELSE 'transient' END"
        )


HOSTS_SQL = """
SELECT ip,
       min(observed_at) AS first_seen,
       max(observed_at) AS last_seen,
       count(*) AS observations,
       count(DISTINCT CAST(observed_at AS DATE)) AS days_observed,
       date_diff('day', CAST(min(observed_at) AS DATE), CAST(max(observed_at) AS DATE)) + 1
           AS span_days,
       count(DISTINCT port) AS ports
FROM {source}
WHERE observed_at IS NOT NULL
GROUP BY ip
"""


def build_hosts(
    con: duckdb.DuckDBPyConnection,
    rule: PersistenceRule,
    *,
    source: str = "observations WHERE status = 'identified'",
    table: str = "study_hosts",
) -> None:
    """A temporary table of hosts (one row per IP) over `source` (a table, or a table with a
    WHERE clause), with first/last seen, counts and persistence class."""
    inner = HOSTS_SQL.format(source=f"(SELECT * FROM {source})")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS "
        f"SELECT *, {rule.case_sql()} AS persistence FROM ({inner})"
    )


class HostHistory(msgspec.Struct, kw_only=True):
    ip: str
    first_seen: datetime | None
    last_seen: datetime | None
    observations: int
    days_observed: int
    span_days: int | None
    persistence: str
    ports: list[int]
    products: list[str]


def host_history(
    store: Store, ip: str, rule: PersistenceRule | None = None, *, identified_only: bool = True
) -> HostHistory | None:
    """The longitudinal summary of one IP, or None if it was never observed."""
    con = _connection(store)
    rule = rule or PersistenceRule()
    where = "AND status = 'identified'" if identified_only else ""
    row = con.execute(
        f"""SELECT min(observed_at), max(observed_at), count(*),
                   count(DISTINCT CAST(observed_at AS DATE)),
                   date_diff('day', CAST(min(observed_at) AS DATE),
                             CAST(max(observed_at) AS DATE)) + 1,
                   list(DISTINCT port ORDER BY port),
                   list(DISTINCT product ORDER BY product) FILTER (product IS NOT NULL)
            FROM observations WHERE ip = ? {where}""",
        [ip],
    ).fetchone()
    if row is None or not row[2]:
        return None
    first, last, count, days, span, ports, products = row
    klass = con.execute(f"SELECT {rule.case_sql('$1', '$2')}", [count, days]).fetchone()
    return HostHistory(
        ip=ip,
        first_seen=first.replace(tzinfo=UTC) if first else None,
        last_seen=last.replace(tzinfo=UTC) if last else None,
        observations=count,
        days_observed=days,
        span_days=span,
        persistence=klass[0] if klass else "transient",
        ports=list(ports or []),
        products=list(products or []),
    )


# ---------------------------------------------------------------- Parquet
#
# A dataset (format 2) is a directory of three tables:
#
#   DIR/observations/month=YYYY-MM/*.parquet   shard, ref, every observations column, set_key
#   DIR/model_sets/*.parquet                   shard, set_key, and the set's models (seq, ...)
#   DIR/request_log/month=YYYY-MM/*.parquet    shard, ref, and every request_log column
#
# Observations and request logs are partitioned by the UTC month of the observation (rows
# inside a file are in time order). Months, not days: DuckDB pays ~10 ms per file read, so 293
# daily files per table cost 4x the read time of the same rows in 10 monthly ones (measured on
# the 2-core machine). (shard, ref) identifies an observation inside the dataset: shard is a
# UUID written once per export (so datasets copied side by side never collide), ref the
# exporting store's obs_id. (shard, set_key) names a model set; on import each set's key is
# recomputed from its rows (store/sets.py), so sets from any shard or writer merge by content.
# Format 1 (aicensus 0.2) had DIR/models/month=YYYY-MM/ with one row per model of every
# observation (shard, ref, seq, ...) instead of model_sets; it still imports.
# Flat tables, not nested lists: DuckDB reads 33 struct fields per model about 7x slower.

TABLES = ("observations", "model_sets", "request_log", "models")


def export_parquet(store: Store, directory: str | Path, *, overwrite: bool = False) -> int:
    """Write every observation as a Parquet dataset (layout above); returns the number of
    observations written."""
    with mapped_errors(f"cannot export {store.path} to {directory}"):
        return _export_parquet(store, directory, overwrite=overwrite)


def _export_parquet(store: Store, directory: str | Path, *, overwrite: bool) -> int:
    out = Path(directory)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InputFileError(f"{out} is not empty; choose an empty directory or --overwrite")
    out.mkdir(parents=True, exist_ok=True)
    con = _connection(store)
    apply_limits(con)
    shard = str(uuid.uuid4())
    month = "coalesce(strftime(o.observed_at, '%Y-%m'), 'unknown')"
    obs_cols = ", ".join(f"o.{f}" for f in OBS_FIELDS)
    queries = {
        "observations": f"SELECT '{shard}' AS shard, o.obs_id AS ref, {obs_cols}, s.set_key, "
        f"{month} AS month FROM observations o LEFT JOIN model_sets s ON s.set_id = o.model_set",
        "request_log": f"SELECT '{shard}' AS shard, y.obs_id AS ref, "
        + ", ".join(f"y.{f}" for f in LOG_FIELDS)
        + f", {month} AS month FROM request_log y JOIN observations o ON o.obs_id = y.obs_id",
    }
    months = [r[0] for r in con.execute(f"SELECT DISTINCT {month} FROM observations o").fetchall()]
    metadata = {"aicensus_parquet": PARQUET_FORMAT_VERSION}
    write_dataset(con, out, queries, months, metadata)
    write_table(
        con,
        out / "model_sets",
        f"SELECT '{shard}' AS shard, s.set_key, "
        + ", ".join(f"m.{f}" for f in MODEL_FIELDS)
        + " FROM set_models m JOIN model_sets s USING (set_id) "
        "WHERE set_id IN (SELECT model_set FROM observations) ORDER BY set_id, seq",
        metadata,
    )
    count = con.execute("SELECT count(*) FROM observations").fetchone()
    return int(count[0]) if count else 0


def write_dataset(
    con: duckdb.DuckDBPyConnection,
    directory: str | Path,
    queries: dict[str, str],
    months: Iterable[str],
    metadata: dict[str, str],
) -> None:
    """Write each table's query (selecting shard, ref, the columns and `month`) as one file
    per month: DIR/<table>/month=<month>/part-<uuid>.parquet. One COPY per month, not a
    partitioned COPY: that flushes ~1,000-row row groups, which read back 5x slower."""
    for table, query in queries.items():
        for month in sorted(set(months)):
            write_table(
                con,
                Path(directory) / table / f"month={month}",
                f"SELECT * EXCLUDE (month) FROM ({query}) WHERE month = '{_quote(month)}'",
                metadata,
            )


def write_table(
    con: duckdb.DuckDBPyConnection, directory: Path, query: str, metadata: dict[str, str]
) -> None:
    """The rows of query as DIR/part-<uuid>.parquet."""
    kv = ", ".join(f"{k}: '{_quote(v)}'" for k, v in metadata.items())
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"part-{uuid.uuid4()}.parquet"
    con.execute(
        f"COPY ({query}) TO '{_quote(str(path))}' (FORMAT parquet, COMPRESSION zstd, "
        f"KV_METADATA {{{kv}}})"
    )


_IPV4 = r"((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"


def _check_endpoints(con: duckdb.DuckDBPyConnection, source: str, files: list[Path]) -> None:
    """Refuse a dataset with an observation whose ip, port or scheme is not valid, before any
    of it is stored: those values reach terminals, URIs (SARIF, CycloneDX) and connections.
    Each distinct (ip, port, scheme) is checked once: 7 million observations of the study
    hold 175,000 of them, so the patterns run over 2% of the rows."""
    if not files:
        return
    bad = con.execute(
        f"""SELECT ip, port, scheme FROM (SELECT DISTINCT ip, port, scheme FROM {source})
        WHERE ip IS NULL OR port IS NULL OR port NOT BETWEEN 1 AND 65535
           OR (scheme IS NOT NULL AND scheme NOT IN ('http', 'https'))
           OR NOT (regexp_full_match(ip, '{_IPV4}')
                   OR (contains(ip, ':') AND regexp_full_match(ip, '[0-9a-fA-F:.]{{2,45}}')))
        ORDER BY ip, port, scheme LIMIT 1"""
    ).fetchone()
    if bad is None:  # IPv6 passed a loose pattern above: check those exactly
        for (ip,) in con.execute(
            f"SELECT DISTINCT ip FROM {source} WHERE contains(ip, ':') ORDER BY ip"
        ).fetchall():
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                bad = (ip, None, None)
                break
    if bad is not None:
        ip, port, scheme = bad
        raise InputFileError(
            f"{files[0].parent}: an observation has an invalid endpoint "
            f"(ip {ip!a}, port {port}, scheme {scheme!a}); nothing was merged"
        )


def _quote(text: str) -> str:
    return text.replace("'", "''")


def dataset_files(path: str | Path) -> dict[str, list[Path]]:
    """The .parquet files of each table of a dataset directory."""
    where = Path(path)
    if not where.is_dir():
        raise InputFileError(f"{where} is not a directory (an aicensus Parquet dataset)")
    found = {t: sorted(p for p in (where / t).rglob("*.parquet") if p.is_file()) for t in TABLES}
    if not found["observations"]:
        raise InputFileError(
            f"{where} holds no observations/**/*.parquet: not an aicensus Parquet dataset "
            "(written by `aicensus export parquet` or `aicensus lab synth`)"
        )
    return found


class ParquetImport(msgspec.Struct, kw_only=True):
    files: int
    observations: int
    models: int
    duplicates: int
    missing_sets: int = 0  # model sets named by observations but absent from the dataset


def _columns(con: duckdb.DuckDBPyConnection, files: list[Path]) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet($1, "
            "hive_partitioning=false))",
            [[str(f) for f in files[:1]]],
        ).fetchall()
    }


def _require(con: duckdb.DuckDBPyConnection, files: list[Path], needed: Iterable[str]) -> None:
    if not files:
        return
    missing = [c for c in ("shard", *needed) if c not in _columns(con, files)]
    if missing:
        raise InputFileError(
            f"{files[0]}: not an aicensus Parquet dataset (missing {', '.join(missing[:5])})"
        )


def import_parquet(store: Store, scan_id: int, files: dict[str, list[Path]]) -> ParquetImport:
    """Merge a dataset into the store under scan_id, in one transaction.

    Observations whose key (OBS_KEY_SQL) is already stored, or repeated in the dataset, are
    skipped and counted as duplicates; their request log goes with them, and model sets that
    only they listed are not stored.
    """
    with mapped_errors(f"cannot merge the dataset into {store.path}"):
        return _import_parquet(store, scan_id, files)


def _import_parquet(store: Store, scan_id: int, files: dict[str, list[Path]]) -> ParquetImport:
    con = _connection(store)
    apply_limits(con)
    legacy = bool(files["models"]) and not files["model_sets"]  # format 1
    _require(con, files["observations"], ("ref", *OBS_FIELDS, *(() if legacy else ("set_key",))))
    needed = tuple(f for f in MODEL_FIELDS if f not in OPTIONAL_MODEL_FIELDS)
    _require(con, files["model_sets"], ("set_key", *needed))
    _require(con, files["models"], ("ref", *needed))
    _require(con, files["request_log"], ("ref", *LOG_FIELDS))

    def source(table: str) -> str:
        names = ", ".join(f"'{_quote(str(f))}'" for f in files[table])
        parquet = f"read_parquet([{names}], hive_partitioning=false)"
        if table not in ("model_sets", "models") or not files[table]:
            return parquet
        have = _columns(con, files[table])
        absent = [f"NULL::{t} AS {f}" for f, t in OPTIONAL_MODEL_FIELDS.items() if f not in have]
        return f"(SELECT *, {', '.join(absent)} FROM {parquet})" if absent else parquet

    # The set an observation row names, and the same name on the set rows.
    if legacy:
        obs_owner, set_owner, sets_table = (
            "p.shard || '/' || CAST(p.ref AS VARCHAR)", "shard || '/' || CAST(ref AS VARCHAR)",
            "models",
        )  # fmt: skip
    else:
        obs_owner, set_owner, sets_table = (
            "p.shard || '/' || p.set_key", "shard || '/' || set_key", "model_sets",
        )  # fmt: skip
    _check_endpoints(con, source("observations"), files["observations"])
    shard = _one_shard(con, source("observations"))
    if shard is not None and not legacy:
        # One shard (the usual case: one export, or `lab synth`): a set is named by its
        # set_key alone, not by 7 million "shard/key" strings built twice (a tenth of the
        # study merge's CPU); the set rows are those of that shard.
        obs_owner, set_owner = "p.set_key", "set_key"
    merge = functools.partial(
        _merge, con, scan_id, files, source, obs_owner, set_owner, sets_table, legacy, shard
    )
    try:
        inserted, models, missing = merge(once=False)
    except duckdb.ConstraintException:
        # A (shard, ref) repeated in the dataset gave two rows one new obs_id. Dropping the
        # repeats up front costs a window over every row (a third of the 7-million-row study
        # merge), so only a dataset that has them pays it: the rolled-back merge runs again.
        inserted, models, missing = merge(once=True)
    read = con.execute(f"SELECT count(*) FROM {source('observations')}").fetchone()
    return ParquetImport(
        files=sum(len(v) for v in files.values()),
        observations=inserted,
        models=models,
        duplicates=(int(read[0]) if read else 0) - inserted,
        missing_sets=missing,
    )


_ONCE = " QUALIFY row_number() OVER (PARTITION BY shard, ref) = 1"


def _one_shard(con: duckdb.DuckDBPyConnection, observations: str) -> str | None:
    """The shard of every observation row, when they all name the same one; else None."""
    row = con.execute(
        f"SELECT count(DISTINCT shard), count(*) = count(shard), min(shard) FROM {observations}"
    ).fetchone()
    return str(row[2]) if row is not None and row[0] == 1 and row[1] else None


def _merge(
    con: duckdb.DuckDBPyConnection,
    scan_id: int,
    files: dict[str, list[Path]],
    source: Callable[[str], str],
    obs_owner: str,
    set_owner: str,
    sets_table: str,
    legacy: bool,
    shard: str | None,
    *,
    once: bool,
) -> tuple[int, int, int]:
    """The merge's one transaction: (observations stored, their models, missing sets)."""
    obs_cols = ", ".join(OBS_FIELDS)
    # once: one row per (shard, ref), a row repeated in the dataset a duplicate.
    observations = f"(SELECT * FROM {source('observations')}{_ONCE if once else ''})"
    # Of rows with one key, the first shard's; in one shard (the usual case), the lowest ref:
    # integers compared, not 7 million shard names twice (a quarter of this statement's CPU).
    first, taken = (
        (f"'{_quote(shard)}' AS shard, min(ref) AS ref", "ref")
        if shard is not None
        else ("min(shard) AS shard, arg_min(ref, shard) AS ref", "shard, ref")
    )
    with transaction(con):
        # Narrow first: which (shard, ref) rows are new, and their new obs_id.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _aicensus_new AS
            SELECT nextval('obs_id_seq') AS obs_id, shard, ref FROM (
                SELECT {first}, {KEY_COLUMNS}
                FROM (SELECT {taken}, {KEY_SELECT} FROM {observations})
                GROUP BY ALL
            ) d
            ANTI JOIN (SELECT {KEY_SELECT} FROM observations) USING ({KEY_COLUMNS})"""
        )
        # One shard in the dataset: join on the integer ref alone, which is cheaper (refs of
        # two shards may be equal: with more, the shard is part of the join).
        on = "p.ref = n.ref" if shard is not None else "p.shard = n.shard AND p.ref = n.ref"
        of_shard = f" WHERE shard = '{_quote(shard)}'" if shard is not None else ""
        set_id, set_join, missing = "NULL", "", 0
        if files[sets_table] or not legacy:
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE _aicensus_owners AS
                SELECT DISTINCT {obs_owner} AS owner FROM {observations} p
                JOIN _aicensus_new n ON {on} WHERE {obs_owner} IS NOT NULL"""
            )
        if files[sets_table]:
            sets.intern(
                con,
                f"(SELECT * FROM (SELECT {set_owner} AS owner, * FROM {source(sets_table)}"
                f"{of_shard}) "
                "SEMI JOIN _aicensus_owners USING (owner))",
                "owner",
                "_aicensus_sets",
            )
            set_id, set_join = "m.set_id", f"LEFT JOIN _aicensus_sets m ON m.owner = {obs_owner}"
        if not legacy:  # sets that observations name but the dataset does not hold
            lacking = "ANTI JOIN _aicensus_sets USING (owner)" if files[sets_table] else ""
            found = con.execute(f"SELECT count(*) FROM _aicensus_owners {lacking}").fetchone()
            missing = int(found[0]) if found else 0
        inserted = con.execute(
            f"INSERT INTO observations (obs_id, scan_id, {obs_cols}, model_set) "
            f"SELECT n.obs_id, {int(scan_id)}, {', '.join(f'p.{c}' for c in OBS_FIELDS)}, "
            f"{set_id} FROM {observations} p JOIN _aicensus_new n ON {on} {set_join}"
        ).fetchone()
        if files["request_log"]:
            con.execute(
                f"INSERT INTO request_log (obs_id, {', '.join(LOG_FIELDS)}) "
                f"SELECT n.obs_id, {', '.join(f'p.{c}' for c in LOG_FIELDS)} "
                f"FROM {source('request_log')} p JOIN _aicensus_new n ON {on}"
            )
        models = con.execute(
            "SELECT coalesce(sum(s.n_models), 0) FROM observations o "
            "JOIN model_sets s ON s.set_id = o.model_set WHERE o.scan_id = ?",
            [scan_id],
        ).fetchone()
        for table in ("_aicensus_new", "_aicensus_owners", "_aicensus_sets"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return (
        int(inserted[0]) if inserted else 0,
        int(models[0]) if models else 0,
        missing,
    )


__all__ = [
    "HOSTS_SQL",
    "OBS_KEY_SQL",
    "HostHistory",
    "ParquetImport",
    "PersistenceRule",
    "SourceFile",
    "StoreError",
    "build_hosts",
    "dataset_files",
    "drop_known",
    "export_parquet",
    "host_history",
    "import_parquet",
    "observation_key",
    "record_source",
    "source_seen",
    "sources",
    "write_table",
]
