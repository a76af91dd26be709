"""Stores written by older aicensus versions open, migrate in place and read back the same."""

from __future__ import annotations

from pathlib import Path

import duckdb
import msgspec

from aicensus.records import ServiceObservation
from aicensus.store import SCHEMA_VERSION, Store, rows
from aicensus.store.db import _insert
from tests.support.store_factory import observation

SCHEMA_V2 = (Path(__file__).parent / "data" / "schema_v2.sql").read_text()


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
        models = [rows.model_row(obs_id, i, m) for i, m in enumerate(obs.models)]
        _insert(con, "models", rows.MODEL_COLUMNS, models)
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
    assert versions == [2, 3, 4, SCHEMA_VERSION] and SCHEMA_VERSION == 5
    assert msgspec.to_builtins(back) == msgspec.to_builtins(batch)
    assert after == before
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
