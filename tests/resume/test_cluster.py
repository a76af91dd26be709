"""`scan --cluster ADDRESS`: shards of one plan as tasks of a real Dask distributed cluster
(a scheduler and two workers, separate processes on 127.0.0.1). A worker SIGKILLed mid-scan
has its shards re-run on the other, and the stored result is the in-process scan's: every
planned target once, the same identifications."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

import aicensus.cluster
from aicensus import api, scanning
from aicensus.cluster import Buckets, _commit, scan_shard
from aicensus.engine.config import EngineConfig
from aicensus.errors import ClusterError
from aicensus.lab.dask_cluster import LoopbackCluster
from aicensus.lab.processes import free_port
from aicensus.records import ScanStatus, ServiceObservation, Target
from aicensus.store import Store
from tests.support.lab import spawn_emulator

EMULATED = "127.24.0.0/25"
SILENT = "127.25.0.0/27"  # nothing listens: refused
EXCLUDED = "127.24.0.0/28"
OLLAMA = 128 - 16
PLANNED = OLLAMA + 32
CONFIG = EngineConfig(concurrency=16)


@pytest.fixture(scope="module")
def emulator_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp = tmp_path_factory.mktemp("emulator")
    with spawn_emulator(tmp, "--cidr", EMULATED, addresses=(), timeout=60) as emulator:
        yield emulator.port


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    """One scheduler and two workers for the module; the test that kills a worker runs last."""
    with LoopbackCluster(2, tmp_path_factory.mktemp("dask")) as running:
        yield running


def rows(observations: list[ServiceObservation]) -> set[tuple]:
    return {
        (o.ip, o.port, str(o.status), o.product, o.version, str(o.auth),
         tuple(sorted(m.name for m in o.models)))
        for o in observations
    }  # fmt: skip


def plan(port: int) -> api.TargetPlan:
    return api.plan_targets([EMULATED, SILENT], ports=str(port), excludes=[EXCLUDED], seed=5)


def stored(db: Path) -> list[ServiceObservation]:
    with Store.open(db, read_only=True) as store:
        (info,) = store.scans()
        assert info.status == "completed"
        return list(store.observations(info.scan_id))


def test_an_interrupted_cluster_scan_resumes_exactly(
    emulator_port: int, cluster: LoopbackCluster, tmp_path: Path
) -> None:
    db = tmp_path / "resumed.duckdb"
    args: dict[str, object] = {"targets": [EMULATED, SILENT]}
    seen = 0

    def stop_after_some(_obs: ServiceObservation) -> None:
        nonlocal seen
        seen += 1
        if seen == 30:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.scan(
            plan(emulator_port),
            config=CONFIG,
            db=db,
            on_observation=stop_after_some,
            cluster=cluster.address,
            batch_size=5,
            args=args,
        )
    with Store.open(db, read_only=True) as store:
        (info,) = store.scans()
        before = len(list(store.observations(info.scan_id)))
    assert info.status == "interrupted" and 0 < before < PLANNED
    summary = api.scan(
        plan(emulator_port),
        config=CONFIG,
        db=db,
        cluster=cluster.address,
        resume=info.scan_id,
        args=args,
    )
    got = stored(db)
    assert summary.resumed == before and summary.targets == PLANNED
    assert len({(o.ip, o.port) for o in got}) == len(got) == PLANNED
    assert sum(1 for o in got if o.product == "ollama") == OLLAMA


def test_a_worker_enforces_the_exclusions_itself(
    emulator_port: int, cluster: LoopbackCluster
) -> None:
    # A shard that (against the plan) holds an excluded target, sent straight to a worker:
    # the engine there refuses to connect to it, and scans the other one.
    from distributed import Client

    excluded = api.plan_targets([EMULATED], ports=str(emulator_port), excludes=[EXCLUDED])
    assert excluded.plan is not None
    config = msgspec.structs.replace(CONFIG, excluded=tuple(excluded.plan.excluded().intervals()))
    shard = [(0, Target(ip="127.24.0.3", port=emulator_port)),
             (1, Target(ip="127.24.0.99", port=emulator_port))]  # fmt: skip
    with Client(cluster.address, set_as_default=False) as client:
        result = client.submit(scan_shard, shard, list(api.signatures()), config).result()
    (_, inside), (_, outside) = sorted(result, key=lambda r: r[0])
    assert inside.product is None and inside.request_log
    assert {e.error for e in inside.request_log} == {"excluded address: not contacted"}
    assert outside.product == "ollama"


def test_a_killed_worker_s_shards_are_rerun_and_the_result_equals_one_process(
    emulator_port: int, cluster: LoopbackCluster, tmp_path: Path
) -> None:
    config = CONFIG
    api.scan(plan(emulator_port), config=config, db=tmp_path / "one.duckdb", workers=1)
    expected = stored(tmp_path / "one.duckdb")
    assert len(expected) == PLANNED
    assert sum(1 for o in expected if o.status == ScanStatus.IDENTIFIED) == OLLAMA

    from distributed import Client

    with Client(cluster.address, set_as_default=False) as watcher:
        assert api.cluster_workers(cluster.address) == dict.fromkeys(cluster.workers, 1)
        killed: list[tuple[str, int]] = []

        def kill_a_busy_worker(_obs: ServiceObservation) -> None:
            # At the first result (one shard committed), SIGKILL a worker that holds a shard.
            if killed:
                return
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                busy = {w: len(keys) for w, keys in watcher.processing().items() if keys}
                if busy:
                    victim = max(busy, key=busy.__getitem__)
                    cluster.kill_worker(victim)
                    killed.append((victim, busy[victim]))
                    return
                time.sleep(0.01)

        printed: list[ServiceObservation] = []

        def on_observation(obs: ServiceObservation) -> None:
            printed.append(obs)
            kill_a_busy_worker(obs)

        db = tmp_path / "cluster.duckdb"
        summary = api.scan(
            plan(emulator_port),
            config=config,
            db=db,
            on_observation=on_observation,
            cluster=cluster.address,
            batch_size=7,
        )
        (victim, shards), = killed  # fmt: skip
        assert shards >= 1  # the killed worker held a shard: it had to be re-run elsewhere
        assert victim not in watcher.nthreads() and len(watcher.nthreads()) == 1
    got = stored(db)
    assert summary.targets == len(printed) == len(got) == PLANNED
    assert len({(o.ip, o.port) for o in got}) == PLANNED  # no target twice, none missing
    assert rows(got) == rows(printed) == rows(expected)
    # The exclusion held in the workers: nothing inside it was scanned.
    assert not [o for o in got if o.ip.startswith("127.24.0.") and int(o.ip.split(".")[-1]) < 16]


def test_a_lost_scheduler_is_one_line_and_the_scan_resumes(
    emulator_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client waits `timeout` for a lost scheduler to come back (10 s by default): 2 here.
    monkeypatch.setattr(scanning, "_connect_cluster", lambda a: aicensus.cluster.connect(a, 2))
    db = tmp_path / "lost.duckdb"
    args: dict[str, object] = {"targets": [EMULATED, SILENT]}
    with LoopbackCluster(1, tmp_path / "dask") as own:

        def kill_the_scheduler(_obs: ServiceObservation) -> None:
            if own.scheduler is not None:
                own.scheduler.send_signal(signal.SIGKILL)
                own.scheduler = None

        config = msgspec.structs.replace(CONFIG, concurrency=4)
        with pytest.raises(ClusterError, match=r"^lost the Dask scheduler at .*; resume the scan$"):
            api.scan(
                plan(emulator_port),
                config=config,
                db=db,
                cluster=own.address,
                on_observation=kill_the_scheduler,
                args=args,
                batch_size=1,
            )
    with Store.open(db, read_only=True) as store:
        (info,) = store.scans()
    assert info.status == "failed"
    summary = api.scan(plan(emulator_port), config=CONFIG, db=db, resume=info.scan_id, args=args)
    got = stored(db)
    assert summary.resumed > 0 and len({(o.ip, o.port) for o in got}) == len(got) == PLANNED


def test_unreachable_scheduler_is_one_line_and_stores_nothing(tmp_path: Path) -> None:
    db = tmp_path / "none.duckdb"
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    argv = [sys.executable, "-m", "aicensus", "scan", "127.0.0.1", "--ports", "9"]
    argv += ["--db", str(db), "--cluster", address]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"aicensus: error: cannot reach the Dask scheduler at {address}: ")
    assert "Traceback" not in done.stderr and not db.exists()


def test_missing_extra_is_one_line(tmp_path: Path) -> None:
    # distributed made unimportable, as where the cluster extra is not installed
    code = (
        "import sys; sys.modules['distributed'] = None; from aicensus.cli.app import main; main()"
    )
    argv = [sys.executable, "-c", code, "scan", "127.0.0.1", "--ports", "9", "--no-db"]
    done = subprocess.run([*argv, "--cluster", "tcp://127.0.0.1:1"], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "aicensus: error: --cluster needs Dask distributed: pip install 'aicensus[cluster]'"
    )


def test_cluster_and_workers_do_not_combine() -> None:
    argv = [sys.executable, "-m", "aicensus", "scan", "127.0.0.1", "--ports", "9", "--no-db"]
    argv += ["--cluster", "tcp://127.0.0.1:1", "--workers", "2"]
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 2 and "--workers and --cluster cannot be combined" in done.stderr


def test_shards_keep_an_address_together_and_one_shard_per_bucket_in_flight() -> None:
    targets = [(i, Target(ip=f"127.0.{i % 50}.1", port=1000 + i // 50)) for i in range(500)]
    shards = Buckets(iter(targets), buckets=8, size=10)
    taken = []
    while (got := shards.take()) is not None:
        taken.append(got)
    # Every bucket is busy now: nothing more until one is released.
    assert len(taken) == 8 and len({b for b, _ in taken}) == 8
    seen: list[tuple[int, Target]] = []
    while taken:
        bucket, shard = taken.pop()
        assert len(shard) <= 10 and {shards.bucket_of(t.ip) for _, t in shard} == {bucket}
        seen += shard
        shards.release(bucket)
        if (got := shards.take()) is not None:
            taken.append(got)
    assert sorted(seen) == targets  # every target once


def test_a_shard_is_committed_once_per_target() -> None:
    obs = ServiceObservation(
        ip="127.0.0.1", port=1, scheme=None, status=ScanStatus.CONNECTION_REFUSED, observed_at="t"
    )
    out: list[int] = []
    _commit([(1, obs), (1, obs), (2, obs), (9, obs)], {1, 2}, lambda p, _o: out.append(p))
    assert out == [1, 2]  # the repeat and the position not owed are dropped
    with pytest.raises(ClusterError, match="without 1 of its targets"):
        _commit([(1, obs)], {1, 3}, lambda p, _o: None)
