"""Benchmark: stream a large Censys-format file into a store.

    python benchmarks/ingest_censys.py [--records 600000] [--hosts 50000]

Writes a SYNTHETIC Censys platform export (JSON Lines, one Ollama service per line; hosts on
the documentation prefix 2001:db8::/32, which is data here and never contacted), each host
listing its own random inventory of 1-6 common models, sometimes one running. Then runs
`aicensus ingest censys FILE --db STORE --format jsonl` in a child process twice (the second
time with --force, so every record is a duplicate) and prints records per second and the
child's peak RSS. It measures and prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = ("llama3.2:3b", "llama3.1:8b", "qwen2.5:7b", "qwen3:8b", "deepseek-r1:7b", "gemma3:4b",
          "mistral:latest", "phi4:14b", "nomic-embed-text:latest", "gpt-oss:20b")  # fmt: skip


def write_export(path: Path, records: int, hosts: int, seed: int) -> None:
    rng = random.Random(seed)
    inventories = [rng.sample(MODELS, rng.randint(1, 6)) for _ in range(hosts)]
    with path.open("w") as out:
        for i in range(records):
            host = rng.randrange(hosts)
            names = inventories[host]
            models = [
                {"name": n, "model": n, "digest": f"{MODELS.index(n):064x}", "family": n.split(":")[0],
                 "size": 1_000_000_000 + MODELS.index(n)}
                for n in names
            ]  # fmt: skip
            running = [models[0] | {"size_vram": 1 << 30}] if rng.random() < 0.2 else []
            day = 1 + i * 28 // records
            out.write(json.dumps({
                "ip": f"2001:db8::{host:x}", "port": 11434, "protocol": "HTTP",
                "scan_time": f"2025-02-{day:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z",
                "ollama": {"version": "0.6.8", "models": models, "running_models": running},
            }) + "\n")  # fmt: skip


# The CLI, printing its own peak RSS on exit (RUSAGE_CHILDREN would give the largest child).
BOOT = """
import atexit, resource, sys
atexit.register(lambda: sys.stderr.write(
    "\\nPEAK_RSS_KIB %d\\n" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
from aicensus.cli.app import main
sys.argv[0] = "aicensus"
main()
"""


def ingest(path: Path, db: Path, *extra: str) -> tuple[float, float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", BOOT, "ingest", "censys", str(path), "--db", str(db),
         "--format", "jsonl", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(done.stderr)
    lines = done.stderr.strip().splitlines()
    peak = next(int(x.split()[1]) for x in lines if x.startswith("PEAK_RSS_KIB")) / 1024
    return seconds, peak, next(x for x in lines if x.startswith("aicensus:"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=600_000)
    parser.add_argument("--hosts", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        export, db = Path(tmp) / "censys.jsonl", Path(tmp) / "store.duckdb"
        write_export(export, options.records, options.hosts, options.seed)
        size = export.stat().st_size / 2**20
        print(f"SYNTHETIC export: {options.records:,} records, {options.hosts:,} hosts, {size:,.0f} MiB")
        for label, extra in (("ingest", ()), ("again, --force (all duplicates)", ("--force",))):
            seconds, peak, line = ingest(export, db, *extra)
            print(f"{label}: {seconds:.1f} s, {options.records / seconds:,.0f} records/s, "
                  f"peak RSS {peak:,.0f} MiB\n  {line}")  # fmt: skip


if __name__ == "__main__":
    main()
