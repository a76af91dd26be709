"""The dashboard's summary tables (store/summary.py) and board (store/board.py): the same
answers whether the summary is up to date, behind (observations stored by a run that never
finished) or absent, and equal to what the observations themselves say."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path

import msgspec

from aicensus.records import ModelRecord, ScanStatus, ServiceObservation
from aicensus.store import Store, summary
from aicensus.store import dashboard as board
from aicensus.store.board import Board
from tests.support.assess_cases import hostile_models, keyed_llamacpp, open_ollama


def _seen(obs: ServiceObservation, day: int, **changes: object) -> ServiceObservation:
    return msgspec.structs.replace(obs, observed_at=f"2026-01-{day:02d}T01:02:03+00:00", **changes)


def first_runs() -> list[ServiceObservation]:
    return [
        _seen(open_ollama(), 1, version="0.1.29"),
        _seen(open_ollama(ip="5.6.7.8"), 1),
        _seen(keyed_llamacpp(), 2),
        _seen(open_ollama(), 2, version="0.1.29"),
        _seen(open_ollama(ip="9.9.9.9"), 2, status=ScanStatus.UNIDENTIFIED, product=None),
    ]


def later_runs() -> list[ServiceObservation]:
    """1.2.3.4 upgrades and serves another model; a new host; a version starting with '='."""
    extra = ModelRecord(name="deepseek-r1:8b", developer="DeepSeek", country="CN")
    return [
        _seen(open_ollama(), 3, models=[*open_ollama().models, extra]),
        _seen(hostile_models(), 3),
        _seen(open_ollama(ip="5.6.7.8"), 4, version="=1+1"),
    ]


def answers(db: Path) -> dict[str, object]:
    with Store.open(db, read_only=True) as store:
        return msgspec.to_builtins(
            {
                "totals": board.totals(store),
                "services": board.services(store),
                "new_hosts": board.new_hosts_by_day(store),
                "models": board.models_seen(store),
                "served": {
                    m.name: board.model_served_at(store, m.name) for m in board.models_seen(store)
                },
            }
        )


def expected(observations: list[ServiceObservation]) -> dict[tuple[str, int], tuple]:
    """Per service, from the observations alone: (version, identified observations, models,
    developers) of its latest identified observation."""
    out: dict[tuple[str, int], tuple] = {}
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for obs in observations:  # in the order stored
        if obs.status != ScanStatus.IDENTIFIED:
            continue
        key = (obs.ip, obs.port)
        counts[key] += 1
        devs = sorted({m.developer for m in obs.models if m.developer})
        out[key] = (obs.version, counts[key], len(obs.models), devs)
    return out


def _store(path: Path, *, finish_last: bool) -> Path:
    with Store.open(path) as store:
        first = store.begin_scan("scan", {})
        store.add_observations(first, first_runs())
        store.finish_scan(first)
        second = store.begin_scan("scan", {})
        store.add_observations(second, later_runs())
        if finish_last:
            store.finish_scan(second)
    return path


def test_summary_behind_or_absent_answers_as_up_to_date(tmp_path: Path) -> None:
    current = answers(_store(tmp_path / "current.duckdb", finish_last=True))
    behind_db = _store(tmp_path / "behind.duckdb", finish_last=False)
    with Store.open(behind_db, read_only=True) as store:
        through = summary.state(store._con)
    assert through == len(first_runs())  # the second run is not in the tables yet
    assert answers(behind_db) == current
    with Store.open(behind_db) as store:  # an older aicensus's store: no summary at all
        for table in (*summary.TABLES, "summary_state"):
            store._con.execute(f"DROP TABLE {table}")
    assert answers(behind_db) == current
    with Store.open(behind_db) as store:  # the next finished run builds them again, whole
        store.finish_scan(store.begin_scan("scan", {}))
        assert summary.state(store._con) == len(first_runs()) + len(later_runs())
    rebuilt = answers(behind_db)
    assert rebuilt.pop("totals")["scans"] == 3  # type: ignore[index]
    assert rebuilt == {k: v for k, v in current.items() if k != "totals"}


def test_summary_matches_the_observations(tmp_path: Path) -> None:
    db = _store(tmp_path / "s.duckdb", finish_last=True)
    got = answers(db)
    stored = [*first_runs(), *later_runs()]
    want = expected(stored)
    services = got["services"]
    assert {(s["ip"], s["port"]): (s["version"], s["observations"], s["models"],
                                   list(s["developers"])) for s in services} == want  # fmt: skip
    assert [(s["ip"], s["port"]) for s in services] == sorted(want)
    assert got["totals"]["identified"] == sum(1 for o in stored if o.status == "identified")
    ollama = next(s for s in services if s["ip"] == "1.2.3.4")
    assert ollama["first_seen"].startswith("2026-01-01") and ollama["last_seen"].startswith(
        "2026-01-03"
    )
    assert [tuple(d) for d in got["new_hosts"]] == [
        ("2026-01-01", 2),
        ("2026-01-02", 1),
        ("2026-01-03", 1),
    ]
    models = {m["name"]: m for m in got["models"]}
    # any observation that listed it counts, 9.9.9.9 (unidentified) too
    assert models["qwen2.5:7b"]["services"] == 3 and models["deepseek-r1:8b"]["hosts"] == 1
    assert [s["ip"] for s in got["served"]["deepseek-r1:8b"]] == ["1.2.3.4"]


def test_board_filters_pages_and_exports(tmp_path: Path) -> None:
    db = _store(tmp_path / "b.duckdb", finish_last=True)
    with Store.open(db, read_only=True) as store:
        b = Board.load(store)
    b.set_geo([("1.2.3.4", "US", "AS1", "Org One"), ("5.6.7.8", "DE", "AS2", None)])
    b.set_findings([("1.2.3.4", 11434, ["AIC-X", "AIC-Y"], "high", 2, {"high": 1, "low": 1})])
    assert b.count() == 4 and b.hosts() == 4
    rows, total = b.select({"developer": "DeepSeek"})
    assert total == 1 and rows[0].ip == "1.2.3.4" and rows[0].finding_ids == ("AIC-X", "AIC-Y")
    assert b.select({"country": "DE"})[1] == 1 and b.select({}, query="org one")[1] == 1
    rows, total = b.select({}, sort="severity", offset=0, limit=2)
    assert total == 4 and [r.ip for r in rows] == ["1.2.3.4", "10.0.0.7"]
    assert b.host_countries() == {"DE": 1, "US": 1}
    assert b.severity_counts()["high"] == 1 and b.severity_counts()["critical"] == 0
    assert ("ollama", 3) in b.options()["product"]
    chunks, count = b.export("csv", {"product": "ollama"})
    table = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert count == len(table) == 3
    # A cell a spreadsheet would run as a formula is quoted (CSV injection).
    assert {r["ip"]: r["version"] for r in table}["5.6.7.8"] == "'=1+1"
    assert {r["ip"]: r["findings"] for r in table}["1.2.3.4"] == "AIC-X;AIC-Y"
    chunks, count = b.export("json", {"product": "ollama"})
    services = json.loads(b"[" + b"".join(chunks) + b"]")
    assert len(services) == count == 3 and services[0]["developers"] == [
        "Alibaba",
        "DeepSeek",
        "Meta",
    ]
    assert {s["ip"]: s["version"] for s in services}["5.6.7.8"] == "=1+1"
    assert services[0]["first_seen"] == "2026-01-01T01:02:03+00:00"


def test_an_empty_store_has_an_empty_board(tmp_path: Path) -> None:
    with Store.open(tmp_path / "e.duckdb") as store:
        store.finish_scan(store.begin_scan("scan", {}))
    with Store.open(tmp_path / "e.duckdb", read_only=True) as store:
        b = Board.load(store)
        assert board.services(store) == [] and board.models_seen(store) == []
    assert b.count() == 0 and b.select({}) == ([], 0)
    chunks, count = b.export("json", {})
    assert count == 0 and json.loads(b"[" + b"".join(chunks) + b"]") == []


def test_observations_by_id_reads_them_whole(tmp_path: Path) -> None:
    db = _store(tmp_path / "i.duckdb", finish_last=True)
    with Store.open(db, read_only=True) as store:
        every = list(store.observations())
        some = board.observations_by_id(store, [2, 6, 99])
        assert msgspec.to_builtins(board.observations_by_id(store, range(1, 9))) == (
            msgspec.to_builtins(every)
        )
    assert msgspec.to_builtins(some) == msgspec.to_builtins([every[1], every[5]])
    assert every[5].request_log and every[5].models  # the parts read from other tables
