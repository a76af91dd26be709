"""Benchmark: does `--rate` hold at scale, and does memory stay flat as targets go by?

Scans every address of a loopback block (default 127.64.0.0/16: 65,536 hosts) on one port at
a configured rate of new connections, and prints the achieved connection rate and the
resident memory over time. By default the port is one where nothing listens, so each target
is exactly one refused connection; `--emulator` starts the Ollama emulator on the block
instead (one process, every address), so each host is identified and enumerated.

It keeps only counters, never the results: what it measures is the scanner's own memory,
which must not grow with the number of targets (the plan is lazy, the worker pool fixed).

    python benchmarks/load_rate.py [--cidr 127.64.0.0/16] [--rate 1500] [--concurrency 512]
                                   [--emulator] [--json]

Rates are measured from the engine's new-connection hook (after the rate-limit token), in
100 ms buckets: `steady` is the rate between the first 0.5 s (the token bucket's initial
burst of rate/10) and the last full bucket; `overall` is connections / (last - first).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from aicensus import api
from aicensus.engine.config import EngineConfig
from aicensus.records import ServiceObservation

BUCKET = 0.1  # seconds


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def closed_port(address: str) -> int:
    """A port nothing listens on at `address` (bound and released: the kernel refuses it)."""
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


class Counters:
    """Connections per 100 ms bucket, observations by status, RSS samples: nothing per target."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.buckets: list[int] = []
        self.connections = 0
        self.first: float | None = None
        self.last = 0.0
        self.done = 0
        self.by_status: dict[str, int] = {}
        # (seconds, targets done, RSS MiB, open file descriptors)
        self.samples: list[tuple[float, int, float, int]] = []

    def on_connection(self) -> None:
        now = time.monotonic() - self.started
        self.first = now if self.first is None else self.first
        self.last = now
        self.connections += 1
        index = int(now / BUCKET)
        while len(self.buckets) <= index:
            self.buckets.append(0)
        self.buckets[index] += 1

    def on_observation(self, obs: ServiceObservation) -> None:
        self.done += 1
        key = str(obs.status)
        self.by_status[key] = self.by_status.get(key, 0) + 1

    def sample_forever(self, stop: threading.Event, every: float) -> None:
        while not stop.wait(every):
            self.samples.append((time.monotonic() - self.started, self.done, rss_mib(), open_fds()))

    def rates(self) -> tuple[float, float]:
        if self.first is None or self.last <= self.first:
            return 0.0, 0.0
        overall = (self.connections - 1) / (self.last - self.first)
        start = int((self.first + 0.5) / BUCKET) + 1
        end = int(self.last / BUCKET)  # the last bucket is partial
        window = self.buckets[start:end]
        steady = sum(window) / (len(window) * BUCKET) if window else overall
        return overall, steady


def start_emulator(cidr: str, directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    ready = directory / "ready.json"
    argv = [sys.executable, "-m", "aicensus.lab.emulators.ollama", "--cidr", cidr]
    argv += ["--port", "0", "--ready-file", str(ready), "--quiet"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"emulator did not start: {proc.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
        time.sleep(0.2)
    time.sleep(0.2)
    return proc, int(json.loads(ready.read_text())["port"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cidr", default="127.64.0.0/16")
    parser.add_argument("--rate", type=float, default=1500.0, help="new connections per second")
    parser.add_argument("--concurrency", type=int, default=512)
    parser.add_argument("--emulator", action="store_true", help="scan the Ollama emulator")
    parser.add_argument(
        "--sample-every", type=float, default=1.0, help="seconds between RSS samples"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    net = ipaddress.ip_network(args.cidr)
    if not net.is_loopback:
        raise SystemExit("benchmarks only scan loopback addresses (127.0.0.0/8)")

    with tempfile.TemporaryDirectory() as tmp:
        emulator = None
        if args.emulator:
            emulator, port = start_emulator(args.cidr, Path(tmp))
        else:
            port = closed_port(str(net.network_address + 1))
        try:
            plan = api.plan_targets([args.cidr], ports=str(port))
            counters = Counters()
            stop = threading.Event()
            sampler = threading.Thread(
                target=counters.sample_forever, args=(stop, args.sample_every), daemon=True
            )
            rss_start = rss_mib()
            sampler.start()
            summary = api.scan(
                plan,
                config=EngineConfig(rate=args.rate, concurrency=args.concurrency),
                on_observation=counters.on_observation,
                on_connection=counters.on_connection,
            )
            stop.set()
            sampler.join()
        finally:
            if emulator is not None:
                emulator.terminate()
                emulator.wait(30)
    overall, steady = counters.rates()
    rss_end = rss_mib()
    result = {
        "targets": summary.targets,
        "by_status": counters.by_status,
        "configured_rate": args.rate,
        "connections": counters.connections,
        "overall_rate": round(overall, 1),
        "steady_rate": round(steady, 1),
        "seconds": round(counters.last, 2),
        "rss_start_mib": round(rss_start, 1),
        "rss_end_mib": round(rss_end, 1),
        "rss_samples": [(round(t, 1), done, round(rss, 1)) for t, done, rss, _ in counters.samples],
        "fd_samples": [(round(t, 1), done, fds) for t, done, _, fds in counters.samples],
        "cpu_count": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"targets:            {summary.targets} ({counters.by_status})")
    print(f"configured rate:    {args.rate:.0f} new connections/s (0: unlimited)")
    off = f" ({100 * (steady / args.rate - 1):+.1f}%)" if args.rate > 0 else ""
    print(f"achieved (steady):  {steady:.0f}/s{off}")
    print(
        f"achieved (overall): {overall:.0f}/s over {counters.last:.1f} s, {counters.connections} connections"
    )
    print(f"RSS:                {rss_start:.0f} MiB before, {rss_end:.0f} MiB after")
    print("   seconds   targets done   RSS MiB   open fds")
    for t, done, rss, fds in counters.samples:
        print(f"   {t:7.1f}   {done:12d}   {rss:7.1f}   {fds:8d}")


if __name__ == "__main__":
    main()
