"""The fast versions of benchmarks/load_rate.py.

2,048 closed loopback ports at --rate 1000: the configured rate of new connections must be
met within 10% (measured from the engine's new-connection hook, past the token bucket's
initial burst), and resident memory must stop growing once the worker pool is busy: targets
go by, memory does not follow them. And 1,024 emulated Ollama hosts, fully enumerated: open
descriptors and memory stay flat.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "load_rate.py"
RATE = 1000
HOSTS = 2048
RSS_GROWTH_MIB = 12  # from a third of the way through to the end; measured ~1-2 MiB


def bench(cidr: str, rate: float, every: float = 0.2) -> dict:
    argv = [sys.executable, str(BENCHMARK), "--cidr", cidr, "--rate", str(rate)]
    argv += ["--sample-every", str(every), "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_rate_is_met_and_memory_is_flat() -> None:
    # A rate can only be held by a machine that can go faster: on one so loaded that the
    # scanner cannot reach 1.5x the rate unthrottled, this measures the load, not the limiter.
    # So the rate asked for is the lower of RATE and two thirds of what this machine reaches
    # unthrottled right now; a machine that cannot open 150 connections/s fails.
    capacity = bench("127.65.0.0/22", 0, 1.0)["overall_rate"]
    assert capacity >= 150, f"only {capacity:.0f} connections/s unthrottled"
    rate = min(RATE, round(capacity / 1.5))
    result = bench("127.64.0.0/21", rate)
    assert result["targets"] == HOSTS
    assert result["by_status"] == {"connection-refused": HOSTS}
    assert result["connections"] == HOSTS  # one refused connection per target, no retries
    assert abs(result["steady_rate"] - rate) <= 0.10 * rate, (rate, result["steady_rate"])
    assert abs(result["overall_rate"] - rate) <= 0.10 * rate, (rate, result["overall_rate"])
    samples = result["rss_samples"]
    assert len(samples) >= 5, samples
    after_warmup = [rss for _t, done_, rss in samples if done_ >= HOSTS // 3]
    assert after_warmup, samples
    assert max(after_warmup) - after_warmup[0] <= RSS_GROWTH_MIB, samples


def test_finished_hosts_leave_nothing_open_while_enumerating() -> None:
    """1,024 emulated Ollama hosts, fully enumerated, 64 at a time: a finished host's
    keep-alive connections are closed at once, so open descriptors stay near 2 per host in
    progress (with aiohttp's 15 s keep-alive they reached ~4,000 on 2,048 hosts) and memory
    stays flat."""
    concurrency = 64
    argv = [sys.executable, str(BENCHMARK), "--cidr", "127.66.0.0/22", "--emulator"]
    argv += ["--rate", "0", "--concurrency", str(concurrency), "--sample-every", "0.25", "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["by_status"] == {"identified": 1024}
    fds = [n for _t, _done, n in result["fd_samples"]]
    assert fds and max(fds) <= 2 * concurrency + 100, result["fd_samples"]
    after_warmup = [rss for _t, done_, rss in result["rss_samples"] if done_ >= 1024 // 3]
    assert len(after_warmup) >= 3, result["rss_samples"]
    assert max(after_warmup) - after_warmup[0] <= RSS_GROWTH_MIB, result["rss_samples"]
