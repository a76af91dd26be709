"""Schema creation and the version check that future migrations hang off."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources

import duckdb

from aicensus.errors import StoreError
from aicensus.store import sets

SCHEMA_VERSION = 6

# Migrations: {from_version: "migrate_<from>_to_<from+1>.sql"}, applied in order; a version
# in _DATA_STEPS also has a Python step, run after its SQL in the same transaction.
_MIGRATIONS: dict[int, str] = {
    1: "migrate_1_to_2.sql",
    2: "migrate_2_to_3.sql",
    3: "migrate_3_to_4.sql",
    4: "migrate_4_to_5.sql",
    5: "migrate_5_to_6.sql",
}


def _models_into_sets(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 3: the per-observation models rows become shared model sets."""
    sets.intern(con, "models", "obs_id", "_aicensus_migrated", sets.SCHEMA_5_FIELDS)
    con.execute(
        "UPDATE observations SET model_set = m.set_id FROM _aicensus_migrated m "
        "WHERE observations.obs_id = m.owner"
    )
    con.execute("DROP TABLE _aicensus_migrated")
    con.execute("DROP TABLE models")


def _rekey_sets(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 6: a set's key covers every model column, matched_by now included, so the keys
    stored before are computed again; else an inventory written after the migration would not
    find its twin stored before it, and be stored twice."""
    sets.rekey(con)


_DATA_STEPS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {
    2: _models_into_sets,
    5: _rekey_sets,
}


def _sql(name: str) -> str:
    return resources.files("aicensus.store").joinpath(name).read_text(encoding="utf-8")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def stored_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The store's schema version, or None when it has no aicensus schema yet."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE schema_name = 'main' AND table_name = 'schema_version'"
    ).fetchone()
    if not found or not found[0]:
        return None
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return None if row is None else row[0]


def _run(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    version: int,
    step: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(sql)
        if step is not None:
            step(con)
        if version >= 3:  # the view of that version's model columns
            con.execute(sets.view_sql(sets.SET_FIELDS if version >= 6 else sets.SCHEMA_5_FIELDS))
        con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, _now()])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def ensure_schema(con: duckdb.DuckDBPyConnection, where: str) -> None:
    """Create the schema on a new store, migrate an old one; refuse one from a newer aicensus."""
    version = stored_version(con)
    if version is None:
        _run(con, _sql("schema.sql"), SCHEMA_VERSION)
        return
    check_version(version, where)
    while version < SCHEMA_VERSION:
        _run(con, _sql(_MIGRATIONS[version]), version + 1, _DATA_STEPS.get(version))
        version += 1


def check_version(version: int | None, where: str) -> None:
    """Raise StoreError unless this aicensus can read (or migrate) a store of this version."""
    if version is None:
        raise StoreError(f"{where} is not an aicensus store (it has no schema_version table)")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{where} has schema version {version}, newer than this aicensus supports "
            f"({SCHEMA_VERSION}); upgrade aicensus"
        )
    if version < SCHEMA_VERSION and version not in _MIGRATIONS:
        raise StoreError(f"{where} has schema version {version}, which cannot be migrated")
