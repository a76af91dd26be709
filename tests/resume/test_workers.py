"""`scan --workers N`: N processes scan shares of one plan into one store, and the result is
the in-process scan's (same (ip, port, status, product, version, auth, models) set)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aicensus import api
from aicensus.engine.config import EngineConfig
from aicensus.records import ServiceObservation
from aicensus.store import Store
from aicensus.workers import share_of, worker_config
from tests.support.lab import spawn_emulator

EMULATED = "127.22.0.0/25"
SILENT = "127.23.0.0/26"  # nothing listens: refused
EXCLUDED = "127.22.0.0/28"


@pytest.fixture(scope="module")
def emulator_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp = tmp_path_factory.mktemp("emulator")
    with spawn_emulator(tmp, "--cidr", EMULATED, addresses=(), timeout=60) as emulator:
        yield emulator.port


def rows(observations: list[ServiceObservation]) -> set[tuple]:
    return {
        (o.ip, o.port, str(o.status), o.product, o.version, str(o.auth),
         tuple(sorted(m.name for m in o.models)))
        for o in observations
    }  # fmt: skip


def scan(port: int, db: Path, workers: int) -> tuple[list[ServiceObservation], list]:
    plan = api.plan_targets([EMULATED, SILENT], ports=str(port), excludes=[EXCLUDED], seed=3)
    printed: list[ServiceObservation] = []
    api.scan(
        plan,
        config=EngineConfig(concurrency=16),
        db=db,
        on_observation=printed.append,
        workers=workers,
        batch_size=7,
    )
    with Store.open(db, read_only=True) as store:
        stored = list(store.observations(store.latest_scan_id()))
    return printed, stored


def test_two_workers_equal_one(emulator_port: int, tmp_path: Path) -> None:
    one, stored_one = scan(emulator_port, tmp_path / "one.duckdb", 1)
    two, stored_two = scan(emulator_port, tmp_path / "two.duckdb", 2)
    planned = 128 - 16 + 64
    assert len(one) == len(two) == len(stored_two) == planned
    assert len({(o.ip, o.port) for o in stored_two}) == planned  # no target twice
    assert rows(two) == rows(one) == rows(stored_one) == rows(stored_two)
    assert sum(1 for o in two if o.product == "ollama") == 128 - 16
    # The exclusion holds in the workers: nothing inside it was scanned.
    assert not [o for o in two if o.ip.startswith("127.22.0.") and int(o.ip.rsplit(".")[-1]) < 16]
    # Both processes took part (each address's ports go to one of them).
    assert {share_of(o.ip, 2) for o in two} == {0, 1}


def test_a_worker_gets_its_share_of_the_limits() -> None:
    share = worker_config(EngineConfig(concurrency=5, rate=100.0), 2)
    assert (share.concurrency, share.rate) == (3, 50.0)
    assert share.per_host_inflight == EngineConfig().per_host_inflight


def test_cli_scans_with_two_workers(emulator_port: int, tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    argv = [sys.executable, "-m", "aicensus", "scan", EMULATED, "--ports", str(emulator_port)]
    argv += ["--db", str(db), "--format", "jsonl", "--workers", "2", "--concurrency", "8"]
    done = subprocess.run(argv, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    printed = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert len(printed) == 128 and {p["product"] for p in printed} == {"ollama"}
