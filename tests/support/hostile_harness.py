"""Run `python -m aicensus scan` as a subprocess and measure it: wall time, peak RSS, output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from aicensus.store import Store

# Tight limits so every hostile case is over in seconds; the bounds below follow from them.
CONNECT, READ, TOTAL, TARGET = 1.0, 1.0, 2.0, 6.0
SCAN_FLAGS = [
    "--connect-timeout", str(CONNECT),
    "--read-timeout", str(READ),
    "--timeout", str(TOTAL),
    "--target-timeout", str(TARGET),
    "--concurrency", "32",
    "--all",
    "--evidence",
]  # fmt: skip
_SUMMARY = re.compile(r"requests in ([0-9.]+)s")

# Runs the real `aicensus` group (its error handling and exit codes) with the real scan
# command, and at exit writes the process's VmHWM (peak resident set since exec; wait4's
# ru_maxrss would also count the parent's pages the child had before exec). Only `scan` is
# registered: the other commands' imports would add seconds of start-up to every case.
_MEASURED = """
import atexit, sys
_out = sys.argv[1]
def _peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(_out, "w").write(line.split()[1])
atexit.register(_peak)
sys.argv = ["aicensus", *sys.argv[2:]]
from aicensus.cli.app import cli
from aicensus.cli.scan import scan_command
cli.add_command(scan_command)
cli(prog_name="aicensus")
"""


@dataclass
class ScanRun:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    wall: float  # seconds, process start to exit
    peak_rss_mib: float  # the scanner process's own high-water mark (VmHWM)
    db: Path | None
    services: list[dict] = field(default_factory=list)

    @property
    def scan_seconds(self) -> float:
        """The scan's own duration from its summary line (no interpreter start-up)."""
        found = _SUMMARY.search(self.stderr)
        return float(found.group(1)) if found else float("inf")

    def stored(self) -> list[dict]:
        """What the store holds for the scan, read back read-only (proves the file is sound)."""
        assert self.db is not None
        import msgspec

        with Store.open(self.db, read_only=True) as store:
            return [msgspec.to_builtins(o) for o in store.observations(store.latest_scan_id())]


def run_scan(args: list[str], out_dir: Path, name: str, *, fmt: str = "jsonl") -> ScanRun:
    """One scan in its own process, with that process's peak RSS."""
    db = out_dir / f"{name}.duckdb"
    peak = out_dir / f"{name}.vmhwm"
    argv = [sys.executable, "-c", _MEASURED, str(peak), "scan", *SCAN_FLAGS, *args]
    argv += ["--format", fmt, "--db", str(db)]
    out_path, err_path = out_dir / f"{name}.stdout", out_dir / f"{name}.stderr"
    env = {**os.environ, "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        proc.wait()
        wall = time.monotonic() - started
    stdout = out_path.read_bytes().decode("utf-8")  # strict: the output must be valid UTF-8
    run = ScanRun(
        argv=argv,
        returncode=proc.returncode,
        stdout=stdout,
        stderr=err_path.read_bytes().decode("utf-8", "replace"),
        wall=wall,
        peak_rss_mib=int(peak.read_text()) / 1024 if peak.exists() else float("inf"),
        db=db,
    )
    if fmt == "jsonl":
        run.services = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return run
