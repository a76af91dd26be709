"""Model sets: each distinct model inventory is stored once and shared by observations.

A host that lists the same models day after day would otherwise repeat the same 33-column rows
in every observation; at study scale (7 million observations, 26 million model rows) writing
those rows was two thirds of the ingest time. So the store keeps:

* `model_sets`: one row per distinct inventory, keyed by `set_key`: the SHA-256 of the sorted
  MD5s of its rows' canonical JSON (every model column but obs_id, seq included, so order
  counts). Hashing rows first keeps the per-set aggregate small enough to run within DuckDB's
  memory limit at study scale, where an ordered list of whole rows ran out of memory;
* `set_models`: the models of each set;
* `observations.model_set`: the set an observation listed (NULL when it listed none);
* the view `models`: the per-observation rows, as before, for every reader.

`intern` is the one way sets are made, whether the rows come from a scan, a Parquet dataset
or a schema migration: rows with the same content always get the same `set_key`, so the same
inventory is stored once however it arrived.
"""

from __future__ import annotations

import duckdb

from aicensus.store import rows

# Every models column but the owner: what a set's content (and key) is made of.
SET_FIELDS = tuple(name for name, _ in rows.MODEL_COLUMNS if name != "obs_id")
# The model columns of schema versions 3 to 5, before `matched_by` (schema 6): what the
# 2 → 3 migration step reads and writes (schema 6 then re-keys every set, `rekey`).
SCHEMA_5_FIELDS = tuple(name for name in SET_FIELDS if name != "matched_by")


def row_key_sql(fields: tuple[str, ...] = SET_FIELDS) -> str:
    return "md5(to_json(struct_pack(" + ", ".join(f"{name} := {name}" for name in fields) + ")))"


ROW_KEY_SQL = row_key_sql()
# Hex text, not md5_number: casting 128-bit integers to text cost 24 µs each (measured).
SET_KEY_SQL = "sha256(array_to_string(list_sort(list(row_key)), ','))"


def view_sql(fields: tuple[str, ...] = SET_FIELDS) -> str:
    return (
        "CREATE OR REPLACE VIEW models AS SELECT o.obs_id, "
        + ", ".join(f"s.{name}" for name in fields)
        + " FROM observations o JOIN set_models s ON s.set_id = o.model_set"
    )


VIEW_SQL = view_sql()


def intern(
    con: duckdb.DuckDBPyConnection,
    source: str,
    owner: str,
    table: str,
    fields: tuple[str, ...] = SET_FIELDS,
) -> None:
    """Store the model sets found in `source` and map each owner to its set.

    `source` is a table or subquery with an `owner` column (named by `owner`), `seq` and every
    column of SET_FIELDS: the models of each owner (an observation, or a set of a dataset).
    Sets already stored are reused. Leaves TEMP TABLE `table` (owner, set_id). Run it inside
    the caller's transaction. `fields`: the model columns, SCHEMA_5_FIELDS in a migration
    that runs before schema 6.
    """
    keys, new = f"{table}_keys", f"{table}_new"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {keys} AS
        SELECT owner, {SET_KEY_SQL} AS set_key, count(*) AS n_models,
               count(*) FILTER (WHERE running) AS n_running
        FROM (SELECT {owner} AS owner, {row_key_sql(fields)} AS row_key, running FROM {source})
        GROUP BY owner"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {new} AS
        SELECT nextval('model_set_seq') AS set_id, * FROM (
            SELECT set_key, any_value(n_models) AS n_models, any_value(n_running) AS n_running,
                   min(owner) AS owner
            FROM {keys} GROUP BY set_key
        ) ANTI JOIN model_sets USING (set_key)"""
    )
    con.execute(
        f"INSERT INTO model_sets (set_id, set_key, n_models, n_running) "
        f"SELECT set_id, set_key, n_models, n_running FROM {new}"
    )
    con.execute(
        f"INSERT INTO set_models (set_id, {', '.join(fields)}) "
        f"SELECT n.set_id, {', '.join(f's.{c}' for c in fields)} "
        f"FROM {source} s JOIN {new} n ON s.{owner} = n.owner"
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT k.owner, m.set_id FROM {keys} k JOIN model_sets m USING (set_key)"""
    )
    con.execute(f"DROP TABLE {keys}")
    con.execute(f"DROP TABLE {new}")


def rekey(con: duckdb.DuckDBPyConnection) -> None:
    """Compute every stored set's key again from its rows (after a column was added to them).

    The table is rebuilt rather than updated: DuckDB checks a UNIQUE column's update as a
    delete and an insert, which can fail spuriously inside one transaction. Run it inside the
    caller's transaction.
    """
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _aicensus_rekeyed AS
        SELECT s.set_id, k.set_key, s.n_models, s.n_running
        FROM model_sets s JOIN (
            SELECT set_id, {SET_KEY_SQL} AS set_key
            FROM (SELECT set_id, {ROW_KEY_SQL} AS row_key FROM set_models) GROUP BY set_id
        ) k USING (set_id)"""
    )
    con.execute("DELETE FROM model_sets")
    con.execute(
        "INSERT INTO model_sets SELECT set_id, set_key, n_models, n_running FROM _aicensus_rekeyed"
    )
    con.execute("DROP TABLE _aicensus_rekeyed")
