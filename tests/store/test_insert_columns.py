"""The batch insert from NumPy columns (store/db.py `_insert`) stores exactly what the LIST
parameter insert stores, including the values that could fail inside the statement."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import msgspec
import pytest

from aicensus.records import ModelRecord, ScanStatus, ServiceObservation
from aicensus.store import Store, db
from tests.support.store_factory import observation


def _stored(path: Path, batch: list[ServiceObservation]) -> list[object]:
    with Store.open(path) as store:
        scan_id = store.begin_scan("scan", {})
        store.add_observations(scan_id, batch)
        store.finish_scan(scan_id)
    with Store.open(path, read_only=True) as store:
        return msgspec.to_builtins(list(store.observations(scan_id)))


def _periodic_batch() -> list[ServiceObservation]:
    # 12,000 model rows, every third one without VRAM or a system prompt: DuckDB's default
    # sample of 1,000 rows sees only those, and a column typed from the sample alone (NULL)
    # fails on the others. So would a column empty but in one late row.
    batch = [observation(2 * i) for i in range(4_000)]
    batch[-1].error = "the only error"
    batch[-1].hostname = "only.example"
    return batch


def _odd_batch() -> list[ServiceObservation]:
    batch = [observation(i) for i in range(50)]
    batch[-2].models = [
        ModelRecord(name="lone \ud800 surrogate", families=["x\udfff"], size_bytes=2**63 - 1),
        ModelRecord(name="tiny", size_bytes=-(2**63), families=[]),
    ]
    batch[-3].status = ScanStatus.ERROR
    return batch


@pytest.mark.parametrize("make", [_periodic_batch, _odd_batch])
def test_numpy_columns_store_what_list_parameters_store(
    make: Callable[[], list[ServiceObservation]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = make()
    fast = _stored(tmp_path / "fast.duckdb", batch)
    with monkeypatch.context() as m:
        m.setattr(db, "_np", None)  # the LIST parameter path
        plain = _stored(tmp_path / "plain.duckdb", batch)
    assert fast == plain
    if make is _periodic_batch:
        assert fast[-1]["error"] == "the only error" and fast[-1]["hostname"] == "only.example"
        assert fast[1]["models"][1]["vram_bytes"] == 5_000_000_000
        return
    assert fast[-2]["models"][0]["name"] == "lone \ufffd surrogate"
    assert fast[-2]["models"][0]["families"] == ["x\ufffd"]
    assert fast[-2]["models"][1]["size_bytes"] == -(2**63)


def test_a_value_beyond_64_bits_takes_the_list_path_and_fails_before_the_statement(
    tmp_path: Path,
) -> None:
    """msgpack cannot hold it, so the NumPy path is not tried; the LIST path's conversion
    fails before its statement runs, and the transaction is still usable."""
    con = duckdb.connect(str(tmp_path / "raw.duckdb"))
    con.execute("CREATE TABLE t (a BIGINT, s VARCHAR)")
    con.execute("BEGIN TRANSACTION")
    db._insert(con, "t", (("a", "BIGINT"), ("s", "VARCHAR")), [(1, "x"), (2, None)])
    with pytest.raises(duckdb.Error):
        db._insert(con, "t", (("a", "BIGINT"), ("s", "VARCHAR")), [(2**70, "y")])
    con.execute("ROLLBACK")
    con.execute("BEGIN TRANSACTION")
    db._insert(con, "t", (("a", "BIGINT"), ("s", "VARCHAR")), [(3, "z"), (None, None)])
    con.execute("COMMIT")
    assert con.execute("SELECT * FROM t ORDER BY a NULLS LAST").fetchall() == [
        (3, "z"),
        (None, None),
    ]
