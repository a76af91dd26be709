"""Benchmark: CPU per observation of the store's batch insert, on emulated Ollama hosts.

Scans the Ollama emulator on --cidr once (cached in --cache as msgpack), then stores those
observations into fresh DuckDB files with `Store.add_observations` in batches of each given
size, and prints CPU and wall milliseconds per observation. `--lists` forces the LIST
parameter insert (no NumPy) for comparison. Measures and prints; asserts nothing.

    python benchmarks/store_batches.py [--cidr 127.1.0.0/21] [--lists] 500 2000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from aicensus import api
from aicensus.records import ServiceObservation
from aicensus.store import Store, db

sys.path.insert(0, str(Path(__file__).parent))
from scan_ollama_emulator import start_emulator


def observations(cidr: str, cache: Path) -> list[ServiceObservation]:
    if not cache.exists():
        with tempfile.TemporaryDirectory() as tmp:
            proc = start_emulator(cidr, 11434, Path(tmp) / "ready")
            found: list[ServiceObservation] = []
            try:
                plan = api.plan_targets([cidr], ports="11434")
                api.scan(plan, on_observation=found.append, workers=1)
            finally:
                proc.terminate()
                proc.wait(10)
        cache.write_bytes(msgspec.msgpack.encode(found))
    return msgspec.msgpack.decode(cache.read_bytes(), type=list[ServiceObservation])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[500])
    parser.add_argument("--cidr", default="127.1.0.0/21")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "obs.mp")
    parser.add_argument("--lists", action="store_true", help="the LIST parameter insert")
    args = parser.parse_args()
    obs = observations(args.cidr, args.cache)
    if args.lists:
        db._np = None
    with tempfile.TemporaryDirectory() as tmp:
        for n, size in enumerate(args.sizes):
            with Store.open(Path(tmp) / f"s{n}.duckdb") as store:
                scan_id = store.begin_scan("scan", {})
                cpu, wall = time.process_time(), time.perf_counter()
                for i in range(0, len(obs), size):
                    store.add_observations(scan_id, obs[i : i + size])
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(
                f"batches of {size}: {len(obs)} observations, "
                f"CPU {1e3 * cpu / len(obs):.3f} ms, wall {1e3 * wall / len(obs):.3f} ms each"
            )


if __name__ == "__main__":
    main()
