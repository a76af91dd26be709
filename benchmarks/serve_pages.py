"""Dashboard page times on a SYNTHETIC store (`aicensus serve`, issue 19).

    python benchmarks/serve_pages.py [--hosts 20000] [--days 30] [--dir /tmp/aicensus-serve-bench]
    python benchmarks/serve_pages.py --db STORE     # an existing store

Builds the store with `aicensus lab synth` + `aicensus ingest parquet` (unless --db is given),
then requests every page in-process (Starlette's TestClient: no socket, nothing leaves the
machine) and prints each page's time. The first request reads the store's snapshot (services,
geography, findings, models): it is printed on its own as "cold"; every later page answers from
that snapshot plus its own small query until the store changes. Aim: every warm page ≤ 1 s.
Not a test: the timings depend on the machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


def build(directory: Path, hosts: int, days: int) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "store.duckdb"
    if db.exists():
        return str(db)
    data = directory / "synth"
    run = [sys.executable, "-m", "aicensus"]
    subprocess.run([*run, "lab", "synth", "--hosts", str(hosts), "--days", str(days),
                    "-o", str(data)], check=True)  # fmt: skip
    subprocess.run([*run, "ingest", "parquet", str(data), "--db", str(db)], check=True)
    return str(db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db")
    parser.add_argument("--hosts", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--dir", default="/tmp/aicensus-serve-bench")
    args = parser.parse_args()
    db = args.db or build(Path(args.dir), args.hosts, args.days)

    from starlette.testclient import TestClient

    from aicensus.serve import create_app
    from aicensus.store import Store
    from aicensus.store import dashboard as board

    with Store.open(db, read_only=True) as store:
        totals = board.totals(store)
        services = board.services(store)
        models = board.models_seen(store)
    print(f"store {db}: {totals.observations:,} observations, {len(services):,} services, "
          f"{len(models):,} models")  # fmt: skip
    one = services[0] if services else None
    app = create_app(db)
    client = TestClient(app, base_url="http://127.0.0.1:8765")
    pages = [
        "/", "/services", "/services?auth=open&page=3", "/services?q=11434",
        "/services?country=US", "/services.csv?country=US", "/services.json?country=US",
        f"/service?ip={one.ip}&port={one.port}" if one else "/service?ip=x&port=1",
        "/models", f"/model?name={models[0].name}" if models else "/model?name=x", "/scans",
    ]  # fmt: skip
    started = time.perf_counter()
    status = client.get("/").status_code
    print(
        f"{'cold / (reads services, models, new hosts)':52} {time.perf_counter() - started:7.3f} s  {status}"
    )
    snap = app.state.dashboard.reader.current()
    snap.done.wait()
    print(f"{'  + background: host geography and findings':52} {time.perf_counter() - started:7.3f} s  "
          f"(pending: {snap.pending or 'nothing'})")  # fmt: skip
    worst = 0.0
    for url in pages:
        started = time.perf_counter()
        r = client.get(url)
        took = time.perf_counter() - started
        worst = max(worst, took)
        print(f"{url[:52]:52} {took:7.3f} s  {r.status_code} {len(r.content):>11,} bytes")
    started = time.perf_counter()
    r = client.get("/study")
    took = time.perf_counter() - started
    worst = max(worst, took)
    print(f"{'/study (starts computing the study)':52} {took:7.3f} s  {r.status_code}")
    while 'id="computing"' in r.text:
        time.sleep(0.5)
        r = client.get("/study")
    print(f"{'  + the study, computed in a thread':52} {time.perf_counter() - started:7.3f} s")
    started = time.perf_counter()
    r = client.get("/study")
    took = time.perf_counter() - started
    worst = max(worst, took)
    print(f"{'/study (ready)':52} {took:7.3f} s  {r.status_code} {len(r.content):>11,} bytes")
    print(f"slowest page once the snapshot is read: {worst:.3f} s")


if __name__ == "__main__":
    main()
