"""Stores written by older aicensus versions open, migrate in place and read back the same."""

from __future__ import annotations

from pathlib import Path

import duckdb
import msgspec

from aicensus.records import ServiceObservation
from aicensus.store import SCHEMA_VERSION, Store, rows, sets
from aicensus.store.db import _insert
from tests.support.store_factory import observation

SCHEMA_V2 = (Path(__file__).parent / "data" / "schema_v2.sql").read_text()
SCHEMA_V5 = (Path(__file__).parent / "data" / "schema_v5.sql").read_text()
# The model columns before schema 6 added matched_by (the last one).
OLD_MODEL_COLUMNS = tuple(c for c in rows.MODEL_COLUMNS if c[0] != "matched_by")
assert rows.MODEL_COLUMNS[-1][0] == "matched_by"


def _old_model_rows(obs_id: int, obs: ServiceObservation) -> list[rows.Row]:
    return [rows.model_row(obs_id, i, m)[:-1] for i, m in enumerate(obs.models)]


def _version_2_store(path: Path, batch: list[ServiceObservation]) -> None:
    """A store as aicensus 0.2 wrote it: one models row per model of every observation."""
    con = duckdb.connect(str(path))
    con.execute(SCHEMA_V2)
    con.execute("INSERT INTO schema_version VALUES (2, now())")
    con.execute(
        "INSERT INTO scans (kind, started_at, args, tool_version, status) "
        "VALUES ('scan', now(), '{}', '0.2', 'completed')"
    )
    con.execute("SELECT setval('obs_id_seq', ?)", [len(batch)])
    for obs_id, obs in enumerate(batch, 1):
        _insert(con, "observations", rows.OBS_COLUMNS, [rows.observation_row(obs_id, 1, obs)])
        _insert(con, "models", OLD_MODEL_COLUMNS, _old_model_rows(obs_id, obs))
        log = [rows.log_row(obs_id, i, e) for i, e in enumerate(obs.request_log)]
        _insert(con, "request_log", rows.LOG_COLUMNS, log)
    con.close()


def test_a_version_2_store_migrates_to_model_sets_and_reads_back_the_same(
    tmp_path: Path,
) -> None:
    # Every factory observation lists its own inventory (or none); two are repeated.
    batch = [observation(i) for i in range(12)] + [observation(4), observation(7)]
    db = tmp_path / "v2.duckdb"
    _version_2_store(db, batch)
    with duckdb.connect(str(db), read_only=True) as con:
        before = con.execute(
            "SELECT * EXCLUDE (obs_id), obs_id FROM models ORDER BY obs_id, seq"
        ).fetchall()
    with Store.open(db) as store:
        back = list(store.observations())
        con = store._con
        versions = [v for (v,) in con.execute("SELECT version FROM schema_version").fetchall()]
        after = con.execute(
            "SELECT * EXCLUDE (obs_id), obs_id FROM models ORDER BY obs_id, seq"
        ).fetchall()
        n_sets, n_set_rows = con.execute(
            "SELECT count(*), (SELECT count(*) FROM set_models) FROM model_sets"
        ).fetchone()
        kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables")
                     .fetchall())  # fmt: skip
    assert versions == [2, 3, 4, 5, SCHEMA_VERSION] and SCHEMA_VERSION == 6
    assert msgspec.to_builtins(back) == msgspec.to_builtins(batch)
    assert [r[:-2] + r[-1:] for r in after] == before  # and matched_by (schema 6): NULL
    assert {r[-2] for r in after} == {None}
    distinct = {msgspec.json.encode(o.models) for o in batch if o.models}
    assert n_sets == len(distinct) < sum(1 for o in batch if o.models)
    assert n_set_rows == sum(len(msgspec.json.decode(k)) for k in distinct)
    assert kinds["models"] == "VIEW" and kinds["ingest_sources"] == "BASE TABLE"


def test_the_same_inventory_from_a_scan_and_a_migration_is_one_set(tmp_path: Path) -> None:
    db = tmp_path / "v2.duckdb"
    _version_2_store(db, [observation(4)])
    with Store.open(db) as store:
        scan_id = store.begin_scan("scan", {})
        store.add_observations(scan_id, [observation(4), observation(4)])
        (n_sets,) = store._con.execute("SELECT count(*) FROM model_sets").fetchone()
        assert [len(o.models) for o in store.observations()] == [len(observation(4).models)] * 3
    assert n_sets == 1


def _version_5_store(path: Path, batch: list[ServiceObservation]) -> None:
    """A store as schema 5 held it: model sets keyed over the model columns of then, no
    matched_by (written with the set code of then: the same intern over SCHEMA_5_FIELDS)."""
    con = duckdb.connect(str(path))
    con.execute(SCHEMA_V5)
    con.execute(sets.view_sql(sets.SCHEMA_5_FIELDS))
    con.execute("INSERT INTO schema_version VALUES (5, now())")
    con.execute(
        "INSERT INTO scans (kind, started_at, args, tool_version, status) "
        "VALUES ('scan', now(), '{}', '0.5', 'completed')"
    )
    con.execute("SELECT setval('obs_id_seq', ?)", [len(batch)])
    con.execute(
        "CREATE TEMP TABLE staged (obs_id BIGINT, "
        + ", ".join(f"{n} {t}" for n, t in OLD_MODEL_COLUMNS[1:])
        + ")"
    )
    for obs_id, obs in enumerate(batch, 1):
        _insert(con, "observations", rows.OBS_COLUMNS, [rows.observation_row(obs_id, 1, obs)])
        _insert(con, "staged", OLD_MODEL_COLUMNS, _old_model_rows(obs_id, obs))
        log = [rows.log_row(obs_id, i, e) for i, e in enumerate(obs.request_log)]
        _insert(con, "request_log", rows.LOG_COLUMNS, log)
    sets.intern(con, "staged", "obs_id", "owned", sets.SCHEMA_5_FIELDS)
    con.execute(
        "UPDATE observations SET model_set = m.set_id FROM owned m "
        "WHERE observations.obs_id = m.owner"
    )
    con.close()


def test_a_version_5_store_gains_matched_by_and_keeps_one_set_per_inventory(
    tmp_path: Path,
) -> None:
    batch = [observation(i) for i in range(6)] + [observation(2)]
    db = tmp_path / "v5.duckdb"
    _version_5_store(db, batch)
    with duckdb.connect(str(db), read_only=True) as con:
        keys_before = dict(con.execute("SELECT set_id, set_key FROM model_sets").fetchall())
    with Store.open(db) as store:
        con = store._con
        versions = [v for (v,) in con.execute("SELECT version FROM schema_version").fetchall()]
        back = list(store.observations())
        # Models stored before did not record what their attribution rests on: NULL, not guessed.
        (recorded,) = con.execute("SELECT count(matched_by) FROM set_models").fetchone()
        keys_after = dict(con.execute("SELECT set_id, set_key FROM model_sets").fetchall())
        # The same inventory written now finds the set stored before the migration ...
        scan_id = store.begin_scan("scan", {})
        store.add_observations(scan_id, [observation(2)])
        (n_sets,) = con.execute("SELECT count(*) FROM model_sets").fetchone()
        # ... and one whose models say how they were attributed is another inventory.
        family = observation(2)
        for m in family.models:
            m.matched_by = "family"
        store.add_observations(scan_id, [family])
        (n_sets_family,) = con.execute("SELECT count(*) FROM model_sets").fetchone()
        again = [o for o in store.observations() if o.models and o.models[0].matched_by]
    assert versions == [5, 6]
    assert msgspec.to_builtins(back) == msgspec.to_builtins(batch)
    assert all(m.matched_by is None for o in back for m in o.models) and recorded == 0
    assert keys_after.keys() == keys_before.keys()
    assert all(keys_after[k] != keys_before[k] for k in keys_before)  # re-keyed
    distinct = {msgspec.json.encode(o.models) for o in batch if o.models}
    assert observation(2).models and n_sets == len(keys_before) == len(distinct)
    assert n_sets_family == n_sets + 1
    assert [m.matched_by for m in again[0].models] == ["family"] * len(family.models)
