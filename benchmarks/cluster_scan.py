"""Benchmark: `scan --cluster` on a real Dask cluster on loopback, with 1 and 2 workers, and
the time to recover from a worker killed mid-scan.

Starts the Ollama emulator on every address of --cidr (loopback only) and a Dask scheduler
with single-threaded workers (separate processes on 127.0.0.1, aicensus.lab.dask_cluster).
Prints hosts/s for a full scan with 1 worker, then with 2; then scans again with 2 and
SIGKILLs the worker holding the most shards at the first committed shard, and prints:
  detected   kill -> the scheduler dropped the worker (its shards back in the queue)
  recovered  kill -> the last of the killed worker's shards came back, re-run elsewhere
  scan       the whole scan's time with the kill, against the same scan without one
Every run's stored result is checked: every planned target once. Measures; asserts nothing
else. Needs the cluster extra (pip install 'aicensus[cluster]').

    python benchmarks/cluster_scan.py [--cidr 127.40.0.0/22] [--concurrency 256]
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from distributed import Client

from aicensus import api
from aicensus.engine.config import EngineConfig
from aicensus.lab.dask_cluster import LoopbackCluster
from aicensus.records import ScanStatus, ServiceObservation
from aicensus.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from scan_ollama_emulator import start_emulator


def scan(args: argparse.Namespace, db: Path, address: str | None, on_obs=None) -> tuple[float, int]:
    plan = api.plan_targets([args.cidr], ports=str(args.port))
    started = time.perf_counter()
    summary = api.scan(
        plan,
        config=EngineConfig(concurrency=args.concurrency),
        db=db,
        cluster=address,
        on_observation=on_obs,
        workers=1,
    )
    elapsed = time.perf_counter() - started
    with Store.open(db, read_only=True) as store:
        stored = list(store.observations(store.latest_scan_id()))
    keys = {(o.ip, o.port) for o in stored}
    assert len(stored) == len(keys) == plan.count, (len(stored), len(keys), plan.count)
    identified = sum(o.status == ScanStatus.IDENTIFIED for o in stored)
    print(f"  {summary.targets} hosts, {identified} identified, {summary.requests} requests")
    return elapsed, summary.targets


class Killer:
    """At the first observation (a shard committed), SIGKILL the worker with the most shards
    and time when the scheduler notices and when its shards are done elsewhere."""

    def __init__(self, cluster: LoopbackCluster, watcher: Client) -> None:
        self.cluster, self.watcher = cluster, watcher
        self.killed_at: float | None = None
        self.detected_at: float | None = None
        self.recovered_at: float | None = None
        self.lost = 0

    def __call__(self, _obs: ServiceObservation) -> None:
        if self.killed_at is not None:
            return
        busy = {w: keys for w, keys in self.watcher.processing().items() if keys}
        if not busy:
            return
        victim = max(busy, key=lambda w: len(busy[w]))
        keys = list(busy[victim])
        self.lost = len(keys)
        self.cluster.kill_worker(victim)
        self.killed_at = time.perf_counter()
        threading.Thread(target=self._watch, args=(victim, keys), daemon=True).start()

    def _watch(self, victim: str, keys: list[str]) -> None:
        while victim in self.watcher.nthreads():
            time.sleep(0.01)
        self.detected_at = time.perf_counter()
        while self.watcher.run_on_scheduler(_pending, keys=keys):
            time.sleep(0.01)
        self.recovered_at = time.perf_counter()


def _pending(keys: list[str], dask_scheduler=None) -> int:
    """On the scheduler: the shards among `keys` not done yet (done: in memory or forgotten
    once the driver has taken the result)."""
    tasks = dask_scheduler.tasks
    return sum(1 for key in keys if key in tasks and tasks[key].state != "memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cidr", default="127.40.0.0/22")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args()
    if not ipaddress.ip_network(args.cidr).is_loopback:
        raise SystemExit("benchmarks only scan loopback addresses")

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        emulator = start_emulator(args.cidr, args.port, tmp / "ready")
        try:
            print("in this process, no cluster (the baseline):")
            scan(args, tmp / "alone-warm.duckdb", None)  # signatures loaded, modules imported
            alone, _ = scan(args, tmp / "alone.duckdb", None)
            with LoopbackCluster(1, tmp / "dask") as cluster:
                print("1 worker:")
                scan(args, tmp / "warm.duckdb", cluster.address)  # the worker's imports
                one, n = scan(args, tmp / "one.duckdb", cluster.address)
                cluster.add_worker()
                cluster.wait_for_workers(2)
                print("2 workers:")
                scan(args, tmp / "warm2.duckdb", cluster.address)
                two, _ = scan(args, tmp / "two.duckdb", cluster.address)
                print("2 workers, one SIGKILLed at the first committed shard:")
                with Client(cluster.address, set_as_default=False) as watcher:
                    killer = Killer(cluster, watcher)
                    killed, _ = scan(args, tmp / "killed.duckdb", cluster.address, killer)
                    deadline = time.monotonic() + 30
                    while killer.recovered_at is None and time.monotonic() < deadline:
                        time.sleep(0.05)
        finally:
            emulator.terminate()
            emulator.wait(10)

    print()
    print(f"hosts scanned per run:    {n} ({args.cidr}, port {args.port})")
    print(f"in-process, no cluster:   {n / alone:.0f} hosts/s ({alone:.2f} s)")
    print(f"1 worker:                 {n / one:.0f} hosts/s ({one:.2f} s)")
    print(f"2 workers:                {n / two:.0f} hosts/s ({two:.2f} s)")
    if killer.killed_at is None or killer.recovered_at is None or killer.detected_at is None:
        print("killed worker:            no worker was busy at the first shard (not measured)")
    else:
        print(f"killed worker:            held {killer.lost} shard(s)")
        print(f"  detected after:         {killer.detected_at - killer.killed_at:.2f} s")
        print(f"  recovered after:        {killer.recovered_at - killer.killed_at:.2f} s")
        print(f"  scan with the kill:     {killed:.2f} s (without: {two:.2f} s)")
    print(f"cpu count:                {os.cpu_count()}")
    print(f"load average:             {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
