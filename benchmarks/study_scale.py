"""Study-scale benchmark: SYNTHETIC data at the size of the SentinelLABS/Censys study.

    python benchmarks/study_scale.py [--hosts 175000] [--days 293] [--dir /tmp/aicensus-bench]

1. `aicensus lab synth` writes ~7.2 million synthetic observations (Parquet) — not timed as
   ingest;
2. `aicensus ingest parquet` merges them into a new store (timed: observations per second);
3. `aicensus report study` computes every figure, as JSON and HTML (timed);
4. each step runs in its own process; its peak RSS (ru_maxrss of the child) is printed.

Aims (issue 8): ingest ≥ 200,000 observations/s, report ≤ 60 s, peak RSS ≤ 4 GiB, on the
2-core development machine. Nothing here touches the network.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

# The CLI with this commands attached, whether or not cli/app.py registers them yet.
BOOT = """
import atexit, resource, sys, click
atexit.register(lambda: sys.stderr.write(
    "\\nPEAK_RSS_KIB %d\\n" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
from aicensus.cli import app
app._register()
import aicensus.cli.ingest_formats, aicensus.cli.lab_synth
from aicensus.cli.study import study_command, export_group
report = app.cli.commands.get("report")
if not isinstance(report, click.Group):
    group = click.Group("report")
    group.add_command(study_command)
    app.cli.add_command(group)
if "export" not in app.cli.commands:
    app.cli.add_command(export_group)
app.cli(prog_name="aicensus", args=sys.argv[1:])
"""


CPU: list[float] = []


def _run(args: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS of the child in MiB, stderr); the child's CPU seconds go to CPU."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = usage.ru_maxrss
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", BOOT, *args], capture_output=True, text=True, check=False
    )
    seconds = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(usage.ru_utime + usage.ru_stime - cpu_before)
    if done.returncode != 0:
        sys.exit(f"failed: aicensus {' '.join(args)}\n{done.stderr}")
    # The child prints its own peak RSS (ru_maxrss of RUSAGE_SELF) when it exits.
    lines = done.stderr.strip().splitlines()
    peak = next((int(x.split()[1]) for x in lines if x.startswith("PEAK_RSS_KIB")), before)
    text = "\n".join(x for x in lines if x.strip() and not x.startswith("PEAK_RSS_KIB"))
    return seconds, peak / 1024, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=175_000)
    parser.add_argument("--days", type=int, default=293)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", default="/tmp/aicensus-bench")
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--keep", action="store_true", help="keep the data and the store")
    options = parser.parse_args()
    work = Path(options.dir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    data, db = work / "synthetic", work / "study.duckdb"
    os.environ.setdefault("AICENSUS_DUCKDB_MEMORY_LIMIT", options.memory_limit)

    seconds, rss, err = _run(["lab", "synth", "--hosts", str(options.hosts), "--days",
                              str(options.days), "--seed", str(options.seed), "-o", str(data),
                              "--memory-limit", options.memory_limit])  # fmt: skip
    print(f"synth:  {seconds:6.1f} s (CPU {CPU[-1]:.1f} s)  peak RSS {_rss(rss)}   {err}")
    seconds, rss_ingest, err = _run(["ingest", "parquet", str(data), "--db", str(db)])
    observations = _observations(db)
    print(f"ingest: {seconds:6.1f} s (CPU {CPU[-1]:.1f} s)  peak RSS {_rss(rss_ingest)}   "
          f"{observations / seconds:,.0f} observations/s   {err}")  # fmt: skip
    seconds_json, rss_json, err = _run(
        ["report", "study", "--db", str(db), "-o", str(work / "study.json")]
    )
    print(
        f"report (json): {seconds_json:6.1f} s (CPU {CPU[-1]:.1f} s)  peak RSS {_rss(rss_json)}   {err}"
    )
    seconds_html, rss_html, err = _run(
        ["report", "study", "--db", str(db), "--format", "html", "-o", str(work / "study.html")]
    )
    print(
        f"report (html): {seconds_html:6.1f} s (CPU {CPU[-1]:.1f} s)  peak RSS {_rss(rss_html)}   {err}"
    )
    study = json.loads((work / "study.json").read_text())
    print(json.dumps({"hosts": study["meta"]["counts"]["hosts"],
                      "observations": study["meta"]["counts"]["observations"],
                      "window_days": study["meta"]["window"]["days"],
                      "report_seconds_inside": study["meta"]["seconds"]}))  # fmt: skip
    print(f"store size: {db.stat().st_size / 2**20:,.0f} MiB; data: "
          f"{sum(p.stat().st_size for p in data.rglob('*.parquet')) / 2**20:,.0f} MiB")  # fmt: skip
    if not options.keep:
        shutil.rmtree(work, ignore_errors=True)


def _rss(mib: float) -> str:
    return f"{mib:7.0f} MiB"


def _observations(db: Path) -> int:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM observations").fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


if __name__ == "__main__":
    main()
