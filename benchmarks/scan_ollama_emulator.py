"""Benchmark: fully enumerate the Ollama emulator on 4,096 distinct loopback hosts.

Starts one emulator process answering on every address of 127.1.0.0/20 (port 11434),
scans them with the real engine (identification, /api/tags, /api/ps and /api/show for
every model), and prints hosts per second, requests per second and peak RSS.
This measures and prints; it asserts nothing.

    python benchmarks/scan_ollama_emulator.py [--cidr 127.1.0.0/20] [--concurrency 512]
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from aicensus import api
from aicensus.engine.config import EngineConfig
from aicensus.records import ScanStatus, ServiceObservation


def start_emulator(cidr: str, port: int, ready: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "aicensus.lab.emulators.ollama",
        "--cidr",
        cidr,
        "--port",
        str(port),
        "--ready-file",
        str(ready),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"emulator exited: {err.strip()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("emulator did not become ready in 120 s")
        time.sleep(0.2)
    return proc


def child_peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def child_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a running child (/proc/PID/stat fields 14 and 15)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cidr", default="127.1.0.0/20")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--concurrency", type=int, default=512)
    parser.add_argument("--workers", type=int, default=1, help="scanner processes")
    parser.add_argument("--per-host", type=int, default=None, help="per_host_inflight")
    args = parser.parse_args()
    net = ipaddress.ip_network(args.cidr)
    if not net.is_loopback:
        raise SystemExit("benchmarks only scan loopback addresses")

    with tempfile.TemporaryDirectory() as tmp:
        proc = start_emulator(args.cidr, args.port, Path(tmp) / "ready")
        try:
            plan = api.plan_targets([args.cidr], ports=str(args.port))
            results: list[ServiceObservation] = []
            config = EngineConfig(concurrency=args.concurrency)
            if args.per_host is not None:
                config = msgspec.structs.replace(config, per_host_inflight=args.per_host)
            opened = _count_connections()
            emulator_cpu = child_cpu_seconds(proc.pid)
            started = time.perf_counter()
            cpu_started = time.process_time()
            summary = api.scan(
                plan,
                config=config,
                db=Path(tmp) / "bench.duckdb",
                on_observation=results.append,
                workers=args.workers,
            )
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            # The workers, reaped by now (the emulator is not: it is stopped below).
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu += children.ru_utime + children.ru_stime
            emulator_rss = child_peak_rss_mib(proc.pid)
            emulator_cpu = child_cpu_seconds(proc.pid) - emulator_cpu
        finally:
            proc.terminate()
            proc.wait(10)

    enumerated = [r for r in results if r.status == ScanStatus.IDENTIFIED and r.models]
    shows = sum(1 for r in results for e in r.request_log if e.path == "/api/show")
    models = sum(len(r.models) for r in results)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"hosts scanned:            {summary.targets}")
    print(f"fully enumerated hosts:   {len(enumerated)} ({models} models, {shows} /api/show)")
    print(f"statuses:                 {summary.by_status}")
    print(f"elapsed:                  {elapsed:.2f} s (including the DuckDB write)")
    print(f"hosts per second:         {summary.targets / elapsed:.0f}")
    print(
        f"requests per second:      {summary.requests / elapsed:.0f} ({summary.requests} requests)"
    )
    print(f"requests per host:        {summary.requests / max(1, summary.targets):.2f}")
    print(f"scanner CPU per host:     {1000 * cpu / max(1, summary.targets):.2f} ms")
    print(f"scanner CPU per request:  {1e6 * cpu / max(1, summary.requests):.0f} us")
    # The emulator shares the machine: its CPU per request bounds hosts/s as much as ours.
    print(f"emulator CPU per request: {1e6 * emulator_cpu / max(1, summary.requests):.0f} us")
    if results:
        print(f"one host's requests:      {[f'{e.method} {e.path}' for e in results[0].request_log]}")
    print(f"scanner peak RSS:         {peak_mib:.0f} MiB")
    print(f"emulator peak RSS:        {emulator_rss:.0f} MiB")
    if args.workers == 1 and opened[0] >= 0:  # counted in this process, not in workers
        print(f"connections per host:     {opened[0] / max(1, summary.targets):.2f}")
    print(f"cpu count:                {os.cpu_count()}")


def _count_connections() -> list[int]:
    """Counts the engine's new connections in this process (wraps HttpClient._connect)."""
    from aicensus.engine.client import HttpClient

    opened = [0]
    connect = getattr(HttpClient, "_connect", None)
    if connect is None:  # an older engine (aiohttp's connector): not counted
        return [-1]

    async def counted(self: HttpClient, *args: Any) -> Any:
        opened[0] += 1
        return await connect(self, *args)

    HttpClient._connect = counted  # type: ignore[method-assign]
    return opened


if __name__ == "__main__":
    main()
