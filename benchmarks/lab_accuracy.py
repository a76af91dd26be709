"""Accuracy of `aicensus scan` on the whole lab: precision and recall per product.

    python benchmarks/lab_accuracy.py [--network 127.0.0.0/24] [--only SEL] [--keep]
                                      [--require-real] [--json FILE] [--startup-timeout S]
                                      [--heavy] [--settle S]

Starts the `--all` lab (real products where installed, emulators otherwise, look-alikes
and decoys, each on its own address of --network), scans the whole network on every AI
port (`aicensus scan NETWORK --ports ai`, through the library), compares the result with
the lab's ground truth (aicensus.lab.accuracy) and prints precision and recall per
product and overall, the auth-state accuracy, decoy and honeypot handling, and every
mismatch. Heavy real products (`heavy: true`: GBs of dependencies, e.g. Langflow, Letta)
are left out unless --heavy is given (their venvs: `aicensus lab setup --all --heavy`);
left out, they count neither as missed nor as failed. It also reads every lab server's own request log and counts the write/compute
requests they received (must be 0). Exit status 0 only when everything matches.

Loopback only: the network must lie inside 127.0.0.0/8 (the lab refuses anything else).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from aicensus import api
from aicensus.engine import readonly
from aicensus.errors import AicensusError
from aicensus.lab.accuracy import compare, render
from aicensus.lab.emulators.common import read_request_log
from aicensus.lab.full import FullLab
from aicensus.records import ServiceObservation


def refused_requests(lab: FullLab) -> list[dict[str, object]]:
    """Requests the lab's servers received that a read-only scanner must never send: any the
    emulators refused, and any that engine/readonly.py's judge of received requests rejects
    (a GET or HEAD to a write route included, not only a refused method)."""
    bad: list[dict[str, object]] = []
    for comp in lab.state().components.values():
        if not comp.request_log:
            continue
        for entry in read_request_log(comp.request_log):
            why = entry.get("refused") and "refused by the emulator"
            why = why or readonly.received_violation(
                str(entry.get("method", "")), str(entry.get("path", "")),
                str(entry.get("body") or ""),
                product=(str(entry.get("product") or "(decoy)") if "site" in entry else None),
            )  # fmt: skip
            if why:
                bad.append({"component": comp.name, "why": why, **entry})
    return bad


def settle(limit: float) -> tuple[float, float]:
    """Wait (at most `limit` s) for the machine's 1-minute load average to fall to twice its
    core count; the seconds waited and the load then."""
    started = time.monotonic()
    target = 2.0 * (os.cpu_count() or 1)
    while os.getloadavg()[0] > target and time.monotonic() - started < limit:
        time.sleep(5)
    return time.monotonic() - started, os.getloadavg()[0]


def _interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--network", default="127.0.0.0/24", help="loopback /24 for the lab")
    p.add_argument("--only", default=None, help="lab selection (default: everything)")
    p.add_argument("--keep", action="store_true", help="leave the lab running afterwards")
    p.add_argument("--require-real", action="store_true", help="fail if a real product is missing")
    p.add_argument(
        "--heavy", action="store_true",
        help="also start the heavy real products (venvs: aicensus lab setup --all --heavy)",
    )  # fmt: skip
    p.add_argument("--json", default=None, help="also write the report as JSON here")
    p.add_argument(
        "--observations", default=None, help="also write the scan's observations here (JSONL)"
    )
    p.add_argument("--dir", default=None, help="lab state dir (default: a temporary one)")
    p.add_argument(
        "--startup-timeout", type=float, default=300.0,
        help="seconds each server may take to answer (Ray heads start one at a time)",
    )  # fmt: skip
    p.add_argument(
        "--settle", type=float, default=180.0,
        help="after the start, wait up to S seconds for the 1-minute load average to fall to "
        "twice the core count (a hundred servers finishing their first-request set-up on a "
        "small machine time out a scan that starts at once)",
    )  # fmt: skip
    args = p.parse_args(argv)

    lab_dir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="aicensus-lab-all-"))
    lab = FullLab(
        lab_dir,
        network=args.network,
        only=args.only,
        require_real=args.require_real,
        heavy=args.heavy,
        startup_timeout=args.startup_timeout,
        echo=lambda m: print(m, file=sys.stderr),
    )
    # A terminated benchmark still takes its lab down (the finally below): SIGTERM ends it
    # the way Ctrl-C does, instead of leaving a hundred servers running.
    signal.signal(signal.SIGTERM, _interrupted)
    t0 = time.monotonic()
    try:
        lab.up()
        t_up = time.monotonic() - t0
        settled, load = settle(args.settle)
        truth = lab.ground_truth()
        observations: list[ServiceObservation] = []
        t1 = time.monotonic()
        summary = api.scan(
            api.plan_targets([args.network], ports="ai"), on_observation=observations.append
        )
        t_scan = time.monotonic() - t1
        report = compare(truth, observations)
        bad = refused_requests(lab)
        failed = lab.failed
    finally:
        if not args.keep:
            lab.down()

    print(f"lab: {len(truth)} services on {args.network} (up in {t_up:.1f}s)")
    print(f"settled for {settled:.0f}s; 1-minute load average {load:.1f} when the scan began")
    if lab.missing:
        print("real products missing (left out): " + ", ".join(sorted(lab.missing)))
    if lab.left_out:
        print("heavy products left out (--heavy runs them): " + ", ".join(sorted(lab.left_out)))
    for name, why in failed.items():
        print(f"real product FAILED to start (counted as missed): {name}: {why}")
    print(
        f"scan: {summary.targets} targets, {summary.requests} requests, {t_scan:.1f}s; "
        f"statuses {dict(sorted(summary.by_status.items()))}"
    )
    print()
    print(render(report))
    print()
    print(f"write/compute requests received by the lab's servers: {len(bad)}")
    for entry in bad[:20]:
        print(f"  {entry.get('component')}: {entry.get('method')} {entry.get('path')}")
    if args.json:
        doc = report.as_dict()
        doc["refused_requests"] = bad
        doc["missing_real"] = lab.missing
        doc["failed_real"] = failed
        doc["left_out_heavy"] = lab.left_out
        Path(args.json).write_text(json.dumps(doc, indent=2, default=str) + "\n")
    if args.observations:
        Path(args.observations).write_bytes(
            b"".join(msgspec.json.encode(o) + b"\n" for o in observations)
        )
    return 0 if report.perfect and not bad and not (args.require_real and lab.missing) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AicensusError as exc:  # a bad --only, a lab that cannot start: one line, no trace
        sys.exit(f"lab_accuracy: {exc}")
