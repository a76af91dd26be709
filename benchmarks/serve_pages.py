"""Dashboard page times on a SYNTHETIC store (`aicensus serve`, issue 19).

    python benchmarks/serve_pages.py [--hosts 20000] [--days 30] [--dir /tmp/aicensus-serve-bench]
    python benchmarks/serve_pages.py --study [--dir DIR]   # the 7-million-observation store
    python benchmarks/serve_pages.py --db STORE            # an existing store

Builds the store with `aicensus lab synth` + `aicensus ingest parquet` (unless --db is given;
--study is --hosts 175000 --days 293, the study's size, ~7.0 M observations), then requests
every page in-process (Starlette's TestClient: no socket, nothing leaves the machine).

Each page is timed twice: *cold*, as the first request of a fresh dashboard (so it reads the
store's snapshot itself, as the first page after a store change does), and *warm*, answered
again; for a download, also the time until its first chunk. Host geography and findings are
added by a background thread after the first page; how long they take is printed on its own
line (pages answer meanwhile, saying so). The study page starts computing the study in a
thread and answers at once; the time until its figures are ready is printed too. Aim: every
page ≤ 1 s, cold and warm. Each request's CPU seconds (the process's, all threads) are printed
too: on a machine shared with other jobs they say what the wall-clock times cannot. Not a
test: the times depend on the machine. `--only TEXT --runs N` times only some pages, N times.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any


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


def _client(db: str, **options: Any) -> Any:
    from starlette.testclient import TestClient

    from aicensus.serve import create_app

    app = create_app(db, **options)
    return app, TestClient(app, base_url="http://127.0.0.1:8765")


def _get(client: Any, url: str) -> tuple[float, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    first, chunks = None, []
    with client.stream("GET", url) as r:
        for chunk in r.iter_bytes():
            first = first or time.perf_counter() - started
            chunks.append(chunk)
    CPU.append(time.process_time() - cpu)
    FIRST.append(first or time.perf_counter() - started)
    body = b"".join(chunks)
    answer = SimpleNamespace(status_code=r.status_code, content=body, text=body.decode())
    return time.perf_counter() - started, answer


CPU: list[float] = []  # the process's CPU seconds per request (all its threads)
FIRST: list[float] = []  # seconds until the first chunk of the body (downloads come in chunks)


def _stop(app: Any) -> None:
    """End this dashboard's background work before the next one starts (it would take the
    CPU the next page is timed on)."""
    reader = app.state.dashboard.reader
    reader.close()
    if (snap := reader.current()) is not None:
        snap.done.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db")
    parser.add_argument("--study", action="store_true", help="175,000 hosts over 293 days")
    parser.add_argument("--hosts", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--dir", default="/tmp/aicensus-serve-bench")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="time only the pages whose URL contains TEXT (repeatable); "
                        "skips the background and study phases")  # fmt: skip
    parser.add_argument("--runs", type=int, default=1, help="time each page this many times")
    args = parser.parse_args()
    if args.study:
        args.hosts, args.days = 175_000, 293
        os.environ.setdefault("AICENSUS_DUCKDB_MEMORY_LIMIT", "2GB")
    db = args.db or build(Path(args.dir), args.hosts, args.days)

    from aicensus.store import Store
    from aicensus.store import dashboard as board

    with Store.open(db, read_only=True) as store:
        totals = board.totals(store)
        one = board.services(store)[:1]
        models = board.models_seen(store)
    print(f"store {db}: {totals.observations:,} observations, {len(models):,} models")
    ip, port = (one[0].ip, one[0].port) if one else ("x", 1)
    pages = [
        "/", "/services", "/services?auth=open&page=3", "/services?q=11434",
        "/services?country=US&sort=recent", "/services?developer=Meta&dev_country=US",
        "/services.csv?dev_country=US", "/services.json?dev_country=US",
        f"/service?ip={ip}&port={port}", "/models",
        f"/model?name={models[0].name}" if models else "/model?name=x", "/scans",
    ]  # fmt: skip
    if args.only:
        pages = [u for u in pages if any(t in u for t in args.only)]
    print(f"{'page':52} {'cold':>8} {'warm':>8}  status        bytes   CPU cold, warm")
    worst = 0.0
    for url in [u for u in pages for _ in range(args.runs)]:
        app, client = _client(db)
        cold, _ = _get(client, url)
        warm, r = _get(client, url)
        worst = max(worst, cold, warm)
        first = (
            f"   first byte {FIRST[-2]:.3f}s, {FIRST[-1]:.3f}s"
            if ".csv" in url or ".json" in url
            else ""
        )
        print(f"{url[:52]:52} {cold:7.3f}s {warm:7.3f}s  {r.status_code}  {len(r.content):>11,}"
              f"   {CPU[-2]:.3f}s, {CPU[-1]:.3f}s{first}")  # fmt: skip
        _stop(app)
    if args.only:
        print(f"slowest page, cold or warm: {worst:.3f} s")
        return
    app, client = _client(db)
    started = time.perf_counter()
    client.get("/")
    snap = app.state.dashboard.reader.current()
    while not snap.done.wait(5):  # pages answer meanwhile (the background holds the GIL often)
        during, _ = _get(client, "/services?auth=open&page=2")
        worst = max(worst, during)
        print(f"{'  /services?auth=open&page=2 during the background':52} {'':8} {during:7.3f}s")
    print(f"{'  background: host geography and findings':52} {time.perf_counter() - started:7.3f}s"
          f"  (pending: {snap.pending or 'nothing'})")  # fmt: skip
    for url in ("/", "/services?finding=AIC-EXPOSURE-PUBLIC&sort=severity",
                "/services?country=US&q=11434", "/services.csv?country=US",
                "/services.json?country=US"):  # fmt: skip
        warm, r = _get(client, url)
        worst = max(worst, warm)
        print(f"{url[:52]:52} {'':8} {warm:7.3f}s  {r.status_code}  {len(r.content):>11,}"
              "  (with findings)")  # fmt: skip
    cold, r = _get(client, "/study")
    worst = max(worst, cold)
    print(f"{'/study (starts computing the study)':52} {cold:7.3f}s")
    started = time.perf_counter()
    while 'id="computing"' in r.text:
        time.sleep(0.5)
        r = client.get("/study")
    print(f"{'  the study, computed in a thread':52} {time.perf_counter() - started:7.3f}s")
    warm, r = _get(client, "/study")
    worst = max(worst, warm)
    print(f"{'/study (ready)':52} {'':8} {warm:7.3f}s  {r.status_code}  {len(r.content):>11,}")
    print(f"slowest page, cold or warm: {worst:.3f} s")


if __name__ == "__main__":
    main()
