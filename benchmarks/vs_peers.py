"""Benchmark: aicensus and agentscan-py 1.0.1 side by side on the same emulated population.

Starts one Ollama emulator answering on every address of --cidr (loopback only; each address
serves its own models), then scans it with each tool's own CLI in turn and prints each one's
hosts/s, what it reported per host (product, version, auth, models and their details), the
requests it sent (the emulator's request log) and the ratio.

agentscan-py runs from PyPI in its own virtual environment (created on first use under
~/.cache/aicensus/bench/agentscan with `pip install agentscan-py==1.0.1`; the only network
access of this script). Its settings: `--rate 0` (its default of 50 requests/s would make it
a rate test), `--sweep off` (its default sweep sends up to 700 path guesses per service),
`--scheme http` (the emulator speaks plain HTTP), `--workers` 100 (its default). aicensus runs
with its CLI defaults (`--workers` = the cores, `--concurrency 256`), storing into a DuckDB
file as it always does.

Where `unshare -rn` works (Linux, user namespaces) the scans run in a private network
namespace that has only a loopback interface, so neither tool can reach anything else;
--no-netns runs them on the host's loopback. Measures and prints; asserts nothing.

    python benchmarks/vs_peers.py [--cidr 127.41.0.0/22] [--runs 2]
"""

from __future__ import annotations

import argparse
import collections
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

AGENTSCAN = "agentscan-py==1.0.1"
AGENTSCAN_HOSTS: list[int] = []  # hosts_scanned of each agentscan run
VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "aicensus/bench/agentscan"


def agentscan_venv(venv: Path) -> Path:
    """The agentscan executable in its own virtual environment (made and filled if needed)."""
    exe = venv / "bin" / "agentscan"
    python = venv / "bin" / "python"
    if not exe.exists():
        print(f"installing {AGENTSCAN} into {venv} …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", AGENTSCAN], check=True)
    version = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('agentscan-py'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if version != AGENTSCAN.split("==")[1]:
        raise SystemExit(f"{venv} holds agentscan-py {version}, not {AGENTSCAN}")
    return exe


def in_private_netns(argv: list[str]) -> None:
    """Re-run this script in a network namespace with only `lo` (up); return if impossible."""
    if os.environ.get("AICENSUS_BENCH_NETNS") or not shutil.which("unshare"):
        return
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    if probe.returncode != 0 or not shutil.which("ip"):
        print("(unshare -rn unavailable: scanning on the host's loopback)")
        return
    env = {**os.environ, "AICENSUS_BENCH_NETNS": "1"}
    script = 'ip link set lo up && exec "$@"'
    cmd = ["unshare", "-rn", "sh", "-c", script, "sh", sys.executable, *argv]
    raise SystemExit(subprocess.run(cmd, env=env).returncode)


class RequestCounter:
    """Requests the emulator logged since the last call (one JSON line each)."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def take(self) -> list[dict[str, Any]]:
        with self.path.open(encoding="utf-8") as fh:
            fh.seek(self.offset)
            lines = fh.readlines()
            self.offset = fh.tell()
        return [json.loads(line) for line in lines if line.strip()]


def own_time(pattern: str, text: str) -> float:
    """The scan time a tool printed about itself (its process start not included)."""
    found = re.search(pattern, text)
    return float(found.group(1)) if found else float("nan")


def run_aicensus(args: argparse.Namespace, tmp: Path) -> tuple[float, float, list[dict[str, Any]]]:
    cmd = [sys.executable, "-m", "aicensus", "scan", args.cidr, "--ports", str(args.port)]
    cmd += ["--format", "jsonl", "--db", str(tmp / f"aicensus-{time.monotonic_ns()}.duckdb")]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"aicensus failed: {done.stderr.strip()}")
    found = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return elapsed, own_time(r"requests in ([0-9.]+)s", done.stderr), found


def run_agentscan(
    args: argparse.Namespace, exe: Path, tmp: Path
) -> tuple[float, float, list[dict[str, Any]]]:
    out = tmp / f"agentscan-{time.monotonic_ns()}.json"
    cmd = [str(exe), "-t", args.cidr, "--ports", str(args.port), "--scheme", "http"]
    cmd += ["--rate", "0", "--sweep", "off", "--workers", str(args.agentscan_workers)]
    cmd += ["--authorized", "--no-banner", "--no-list-endpoints", "--json", str(out)]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or not out.exists():
        raise SystemExit(f"agentscan failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    report = json.loads(out.read_text())
    # It leaves out a block's network and broadcast addresses: its rate counts what it scanned.
    AGENTSCAN_HOSTS.append(int(report["hosts_scanned"]))
    return elapsed, own_time(r"elapsed ([0-9.]+)s", done.stdout), report["findings"]


def describe_aicensus(found: list[dict[str, Any]]) -> list[str]:
    ok = [f for f in found if f.get("product")]
    models = [m for f in ok for m in f.get("models") or []]
    detail = collections.Counter(
        key for m in models
        for key in ("quantization", "parameter_size", "context_length", "capabilities",
                    "chat_template", "developer", "country", "licence", "running")
        if m.get(key)
    )  # fmt: skip
    lines = [
        f"hosts identified:   {len(ok)} ({collections.Counter(f['product'] for f in ok)})",
        f"with version:       {sum(1 for f in ok if f.get('version'))}",
        f"with auth state:    {sum(1 for f in ok if f.get('auth') not in (None, 'unknown'))}",
        f"models listed:      {len(models)} ({len(models) / max(1, len(ok)):.2f} per host)",
        f"model details:      {dict(detail)}",
    ]
    if ok:
        one = ok[0]
        names = [(m["name"], m.get("quantization"), m.get("parameter_size"), m.get("developer"))
                 for m in one.get("models") or []]  # fmt: skip
        lines.append(
            f"e.g. {one['ip']}:     {one['product']} {one.get('version')}, auth "
            f"{one.get('auth')}, models {names}"
        )
    return lines


def describe_agentscan(found: list[dict[str, Any]]) -> list[str]:
    ok = [f for f in found if f.get("service") and not f.get("silent")]
    endpoints = [len(f.get("endpoints") or []) for f in ok]
    keys = sorted({k for f in ok for k in f})
    lines = [
        f"hosts identified:   {len(ok)} ({collections.Counter(f['service'] for f in ok)})",
        f"with version:       {sum(1 for f in ok if f.get('version'))} (no version field)",
        f"with auth state:    {sum(1 for f in ok if f.get('auth') not in (None, 'unknown'))}",
        f"models listed:      0 (its findings have no model list: fields {', '.join(keys)})",
        f"endpoints listed:   {sum(endpoints) / max(1, len(ok)):.1f} per host",
    ]
    if ok:
        one = ok[0]
        paths = [e.get("path") for e in one.get("endpoints") or []][:8]
        lines.append(
            f"e.g. {one['host']}:     {one['service']}, auth {one.get('auth')}, "
            f"confidence {one.get('confidence')}, endpoints {paths}"
        )
    return lines


def requests_summary(entries: list[dict[str, Any]], hosts: int) -> list[str]:
    methods = collections.Counter(str(e.get("method")) for e in entries)
    paths = collections.Counter(f"{e.get('method')} {e.get('path')}" for e in entries)
    refused = sum(1 for e in entries if e.get("refused"))
    return [
        f"requests:           {len(entries)} ({len(entries) / max(1, hosts):.2f} per host; "
        f"{dict(methods)}; {refused} refused by the emulator as writes)",
        f"distinct requests:  {len(paths)}: "
        + ", ".join(f"{p} ×{n}" for p, n in paths.most_common(14)),
    ]


def identified_hosts(tool: str, found: list[dict[str, Any]]) -> set[str]:
    if tool == "aicensus":
        return {f["ip"] for f in found if f.get("product")}
    return {f["host"] for f in found if f.get("service") and not f.get("silent")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cidr", default="127.41.0.0/22")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--runs", type=int, default=1, help="rounds of both tools")
    parser.add_argument("--agentscan-workers", type=int, default=100)
    parser.add_argument("--venv", type=Path, default=VENV, help="agentscan-py's own venv")
    parser.add_argument("--no-netns", action="store_true", help="do not unshare the network")
    args = parser.parse_args()
    net = ipaddress.ip_network(args.cidr)
    if not net.is_loopback:
        raise SystemExit("benchmarks only scan loopback addresses")
    exe = agentscan_venv(args.venv)  # before unsharing: the install needs PyPI
    if not args.no_netns:
        in_private_netns(sys.argv)
    private = bool(os.environ.get("AICENSUS_BENCH_NETNS"))
    print("network: " + ("a private namespace with only lo" if private else "the host's loopback"))
    hosts = net.num_addresses
    rates: dict[str, list[float]] = {"aicensus": [], "agentscan": []}
    scan_rates: dict[str, list[float]] = {"aicensus": [], "agentscan": []}
    named: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        log = tmp / "requests.jsonl"
        emulator = start_emulator_logged(args.cidr, args.port, tmp / "ready", log)
        counter = RequestCounter(log)
        try:
            for run in range(1, args.runs + 1):
                for tool in ("aicensus", "agentscan"):
                    counter.take()
                    load = os.getloadavg()[0]
                    if tool == "aicensus":
                        elapsed, scan_s, found = run_aicensus(args, tmp)
                        described = describe_aicensus(found)
                    else:
                        elapsed, scan_s, found = run_agentscan(args, exe, tmp)
                        described = describe_agentscan(found)
                    time.sleep(0.5)  # the log's last lines
                    sent = counter.take()
                    n = hosts if tool == "aicensus" else AGENTSCAN_HOSTS[-1]
                    rates[tool].append(n / elapsed)
                    scan_rates[tool].append(n / scan_s)
                    print(f"\n== run {run}: {tool}: {n / elapsed:.0f} hosts/s "
                          f"({n} hosts in {elapsed:.2f} s, process start included; "
                          f"{n / scan_s:.0f} hosts/s by its own {scan_s:.1f} s scan time; "
                          f"load average {load:.1f} before)")  # fmt: skip
                    named[tool] = identified_hosts(tool, found)
                    for line in [*requests_summary(sent, hosts), *described]:
                        print(line)
                missed = sorted(named["aicensus"] - named["agentscan"])
                print(f"\nidentified by aicensus, not by agentscan: {len(missed)} {missed[:8]}"
                      " (agentscan skips a block's network and broadcast addresses)")  # fmt: skip
                missed = sorted(named["agentscan"] - named["aicensus"])
                print(f"identified by agentscan, not by aicensus: {len(missed)} {missed[:8]}")
        finally:
            emulator.terminate()
            emulator.wait(10)
    print("\n== summary (hosts/s: whole process; by the tool's own scan time)")
    for tool, values in rates.items():
        own = ", ".join(f"{v:.0f}" for v in scan_rates[tool])
        print(f"{tool:10} {', '.join(f'{v:.0f}' for v in values)} hosts/s; {own} hosts/s")
    for label, table in (("whole process", rates), ("own scan time", scan_rates)):
        ratios = [a / b for a, b in zip(table["aicensus"], table["agentscan"], strict=True)]
        print(f"ratio ({label}): {', '.join(f'{r:.1f}x' for r in ratios)} (aicensus / agentscan)")
    print(f"cpu count  {os.cpu_count()}")


def start_emulator_logged(cidr: str, port: int, ready: Path, log: Path) -> Any:
    """The benchmark's emulator with its request log (scan_ollama_emulator's has none)."""
    log.touch()
    cmd = [sys.executable, "-m", "aicensus.lab.emulators.ollama", "--cidr", cidr]
    cmd += ["--port", str(port), "--ready-file", str(ready), "--request-log", str(log), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"emulator did not start: {err.strip()}")
        time.sleep(0.2)
    return proc


if __name__ == "__main__":
    main()
