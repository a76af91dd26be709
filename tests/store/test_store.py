from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import msgspec
import pytest

from aicensus.errors import StoreError, StoreLockedError
from aicensus.records import ModelRecord, ScanStatus, ServiceObservation
from aicensus.store import SCHEMA_VERSION, Store, db
from tests.support.store_factory import observation


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "aicensus.duckdb"


def _builtins(observations: list[ServiceObservation]) -> object:
    return msgspec.to_builtins(observations)


def _store_batch(path: Path, observations: list[ServiceObservation]) -> int:
    with Store.open(path) as store:
        scan_id = store.begin_scan("scan", {"ports": [11434]})
        store.add_observations(scan_id, observations)
        store.finish_scan(scan_id)
    return scan_id


def test_round_trip_is_exact(path: Path) -> None:
    batch = [observation(i) for i in range(300)]
    scan_id = _store_batch(path, batch)
    with Store.open(path, read_only=True) as store:
        back = list(store.observations(scan_id))
    assert _builtins(back) == _builtins(batch)
    assert sum(len(o.models) for o in back) == 450
    assert back[0].models[0].chat_template == batch[0].models[0].chat_template
    assert back[1].status is ScanStatus(batch[1].status)


def test_observations_filter_by_scan_and_list_scans(path: Path) -> None:
    first, second = [observation(i) for i in range(5)], [observation(i) for i in range(5, 8)]
    with Store.open(path) as store:
        assert store.latest_scan_id() is None
        a = store.begin_scan("scan", {"targets": ["10.0.0.0/24"], "out": Path("/tmp/x")})
        store.add_observations(a, first)
        store.finish_scan(a, "interrupted")
        b = store.begin_scan("ingest", {"file": "shodan.json"})
        assert store.add_observations(b, iter(second)) == 3
        assert store.latest_scan_id() == b
        assert _builtins(list(store.observations(a))) == _builtins(first)
        assert _builtins(list(store.observations(b))) == _builtins(second)
        assert _builtins(list(store.observations())) == _builtins(first + second)
        scans = store.scans()
    assert [(s.scan_id, s.kind, s.status) for s in scans] == [
        (a, "scan", "interrupted"),
        (b, "ingest", "running"),
    ]
    assert scans[0].args == {"targets": ["10.0.0.0/24"], "out": "/tmp/x"}
    assert scans[0].counts["observations"] == 5
    assert scans[0].counts["models"] == 9
    assert scans[0].counts["identified"] == 3
    assert scans[0].finished_at is not None and scans[0].finished_at >= scans[0].started_at
    assert scans[1].counts == {} and scans[1].finished_at is None
    assert scans[0].started_at.tzinfo is not None


def test_odd_values(path: Path) -> None:
    odd = ServiceObservation(
        ip="::1",
        port=65535,
        scheme="http",
        status=ScanStatus.IDENTIFIED,
        observed_at="not a timestamp",
        error="nul\x00byte, emoji 😀, newline\n",
        models=[
            ModelRecord(name="huge", size_bytes=2**80, parameter_count=-(2**63)),
            ModelRecord(name="lone \ud800 surrogate", families=["x\udfff"]),
        ],
    )
    scan_id = _store_batch(path, [odd])
    with Store.open(path) as store:
        (back,) = store.observations(scan_id)
    assert back.error == odd.error and back.observed_at == "not a timestamp"
    assert back.models[0].size_bytes is None  # outside BIGINT: NULL, not a failed batch
    assert back.models[0].parameter_count == -(2**63)
    assert back.models[1].name == "lone \ufffd surrogate"
    assert back.models[1].families == ["x\ufffd"]


def test_observed_at_is_a_utc_timestamp_column(path: Path) -> None:
    batch = [observation(0), observation(1)]
    _store_batch(path, batch)
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT observed_at FROM observations ORDER BY obs_id").fetchall()
    finally:
        con.close()
    assert str(rows[0][0]) == "2025-01-01 12:00:00.123456"
    assert rows[1][0] is None  # the default observed_at is ""


def test_failed_batch_writes_nothing(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "_CHUNK", 2)  # the failure comes after two chunks were inserted

    def batch() -> Iterator[ServiceObservation]:
        yield from (observation(i) for i in range(5))
        raise RuntimeError("scanner crashed")

    with Store.open(path) as store:
        scan_id = store.begin_scan("scan", {})
        with pytest.raises(RuntimeError):
            store.add_observations(scan_id, batch())
        assert list(store.observations()) == []
        store.add_observations(scan_id, [observation(0)])
        assert len(list(store.observations(scan_id))) == 1


def test_reopen_is_idempotent(path: Path) -> None:
    batch = [observation(i) for i in range(10)]
    _store_batch(path, batch)
    for _ in range(2):
        with Store.open(path) as store:
            assert _builtins(list(store.observations())) == _builtins(batch)
            assert len(store.scans()) == 1
    con = duckdb.connect(str(path), read_only=True)
    try:
        versions = con.execute("SELECT version FROM schema_version").fetchall()
    finally:
        con.close()
    assert versions == [(SCHEMA_VERSION,)]
    with Store.open(path) as store:  # ids keep counting after a reopen
        assert store.begin_scan("scan", {}) == 2


def test_newer_schema_is_refused(path: Path) -> None:
    Store.open(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE schema_version SET version = 99")
    con.close()
    for read_only in (False, True):
        with pytest.raises(StoreError, match="schema version 99, newer"):
            Store.open(path, read_only=read_only)


def test_read_only_store_refuses_writes(path: Path) -> None:
    Store.open(path).close()
    with Store.open(path, read_only=True) as store, pytest.raises(StoreError, match="read-only"):
        store.begin_scan("scan", {})


def test_unknown_scan_and_kind(path: Path) -> None:
    with Store.open(path) as store:
        with pytest.raises(StoreError, match="no scan 7"):
            store.add_observations(7, [observation(0)])
        with pytest.raises(StoreError, match="no scan 7"):
            store.finish_scan(7)
        with pytest.raises(ValueError):
            store.begin_scan("probe", {})  # type: ignore[arg-type]


_HOLDER = textwrap.dedent(
    """
    import sys
    from aicensus.store import Store
    with Store.open(sys.argv[1]):
        print("ready", flush=True)
        sys.stdin.read()
    """
)


def test_second_process_gets_store_locked_error(path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        for read_only in (False, True):
            with pytest.raises(StoreLockedError) as caught:
                Store.open(path, read_only=read_only)
            message = str(caught.value)
            assert "\n" not in message and str(path) in message
            assert f"PID {holder.pid}" in message
    finally:
        holder.communicate("", timeout=30)
    assert holder.returncode == 0
    Store.open(path).close()  # free again once the holder has gone


_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from aicensus.store import Store, db
    from tests.support.store_factory import observation
    db._CHUNK = 100
    def endless():
        for i in range(10**9):
            if i == 250:
                print("mid-batch", flush=True)
                time.sleep(600)
            yield observation(i)
    store = Store.open(sys.argv[1])
    scan_id = store.begin_scan("scan", {})
    store.add_observations(scan_id, [observation(i) for i in range(7)])
    store.add_observations(scan_id, endless())
    """
)


def test_killed_writer_leaves_committed_batches_only(path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "mid-batch\n"
    finally:
        writer.kill()
        writer.communicate(timeout=30)
    with Store.open(path) as store:
        back = list(store.observations())
        assert [s.status for s in store.scans()] == ["running"]
    assert _builtins(back) == _builtins([observation(i) for i in range(7)])


@pytest.mark.parametrize("kind", ["directory", "corrupt", "missing-parent", "missing-read-only"])
def test_bad_path_is_a_one_line_store_error(tmp_path: Path, kind: str) -> None:
    target = {
        "directory": tmp_path,
        "corrupt": tmp_path / "corrupt.duckdb",
        "missing-parent": tmp_path / "nowhere" / "aicensus.duckdb",
        "missing-read-only": tmp_path / "absent.duckdb",
    }[kind]
    if kind == "corrupt":
        target.write_bytes(b"this is not a database\n" * 500)
    with pytest.raises(StoreError) as caught:
        Store.open(target, read_only=kind == "missing-read-only")
    assert not isinstance(caught.value, StoreLockedError)
    message = str(caught.value)
    assert "\n" not in message and str(target) in message
    print(message)


def test_plain_duckdb_file_is_not_a_store_when_read_only(path: Path) -> None:
    duckdb.connect(str(path)).close()
    with pytest.raises(StoreError, match="not an aicensus store"):
        Store.open(path, read_only=True)


def test_bulk_insert_timing(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    batch = [observation(2 * i) for i in range(10_000)]  # 30,000 models, 60,000 log rows
    with Store.open(path) as store:
        scan_id = store.begin_scan("scan", {})
        started = time.perf_counter()
        store.add_observations(scan_id, batch)
        inserted = time.perf_counter() - started
        started = time.perf_counter()
        back = list(store.observations(scan_id))
        read = time.perf_counter() - started
    assert len(back) == 10_000 and _builtins(back[-3:]) == _builtins(batch[-3:])
    with capsys.disabled():
        print(
            f"\nstore: 10,000 observations (30,000 models, 60,000 log rows): "
            f"insert {inserted:.2f}s, read back {read:.2f}s"
        )


def test_the_memory_limit_variable_applies_on_open_and_a_bad_one_is_one_line(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AICENSUS_DUCKDB_MEMORY_LIMIT", "512MB")
    with Store.open(path) as store:
        (limit,) = store._con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert limit == "488.2 MiB"  # 512 MB in DuckDB's own units
    monkeypatch.setenv("AICENSUS_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(StoreError, match=r"AICENSUS_DUCKDB_MEMORY_LIMIT='lots' is not a memory"):
        Store.open(path)


def _sets(store: Store) -> int:
    (n,) = store._con.execute("SELECT count(*) FROM model_sets").fetchone()
    return int(n)


def test_a_repeated_inventory_is_one_set_across_batches_and_hosts(path: Path) -> None:
    first, again = observation(0), observation(0)
    other_host = msgspec.structs.replace(observation(0), ip="192.0.2.99")
    with Store.open(path) as store:
        scan_id = store.begin_scan("scan", {})
        store.add_observations(scan_id, [first])
        store.add_observations(scan_id, [again, other_host])
        assert _sets(store) == 1
        back = list(store.observations(scan_id))
    assert [o.models for o in back] == [first.models] * 3


def test_sets_of_a_rolled_back_batch_are_not_remembered(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aicensus.store import Checkpoint

    with Store.open(path) as store:
        scan_id = store.begin_scan("scan", {})

        def fail(*_: object) -> None:
            raise RuntimeError("disk full")

        monkeypatch.setattr(store, "_write_checkpoint", fail)
        with pytest.raises(RuntimeError):
            store.add_observations(scan_id, [observation(0)], checkpoint=Checkpoint(plan_size=1))
        monkeypatch.undo()
        assert _sets(store) == 0
        store.add_observations(scan_id, [observation(0)])
        (back,) = store.observations(scan_id)
        assert back.models == observation(0).models and _sets(store) == 1


def test_an_inventory_that_cannot_be_encoded_is_still_stored(path: Path) -> None:
    hostile = msgspec.structs.replace(
        observation(0), models=[ModelRecord(name="bad\ud800name"), ModelRecord(name="ok")]
    )
    with Store.open(path) as store:
        scan_id = store.begin_scan("scan", {})
        store.add_observations(scan_id, [hostile, hostile])
        names = [[m.name for m in o.models] for o in store.observations(scan_id)]
    assert names == [["bad\ufffdname", "ok"]] * 2
