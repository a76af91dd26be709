"""SIGKILL a real scan at random moments, resume it, and get exactly the uninterrupted result.

The scanner is `python -m aicensus scan ... --resume` against the Ollama emulator answering
on every address of 127.20.0.0/24 (each with its own deterministic models), plus 128
addresses with nothing listening. It is killed with SIGKILL several times at random moments
(rate-limited so the kills land mid-scan, with small batches so they land around commits
too), then resumed to the end. The final store must hold exactly one observation per
planned target, and the same (ip, port, status, product, version, auth, models) set as an
uninterrupted scan; after every kill the DuckDB file must open and its checkpoint must
account for exactly the observations stored.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from aicensus.store import Store

EMULATED = "127.20.0.0/24"
SILENT = "127.21.0.0/25"  # nothing listens: refused
PLANNED = 256 + 128
KILLS = 4


@pytest.fixture(scope="module")
def emulator_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp = tmp_path_factory.mktemp("emulator")
    ready = tmp / "ready.json"
    argv = [sys.executable, "-m", "aicensus.lab.emulators.ollama", "--cidr", EMULATED]
    argv += ["--port", "0", "--ready-file", str(ready), "--quiet"]
    with open(tmp / "stderr", "wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 60
            while not ready.exists():
                assert proc.poll() is None, (tmp / "stderr").read_text()
                assert time.monotonic() < deadline, "emulator not ready in 60 s"
                time.sleep(0.05)
            time.sleep(0.1)  # the ready file is written whole, but give it a beat
            yield int(json.loads(ready.read_text())["port"])
        finally:
            proc.terminate()
            proc.wait(10)


def scan_argv(port: int, db: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "aicensus", "scan", EMULATED, SILENT,
        "--ports", str(port), "--seed", "7", "--db", str(db), "--format", "jsonl",
        "--concurrency", "16", *extra,
    ]  # fmt: skip


def result_set(db: Path) -> tuple[int, set[tuple], list[tuple[str, int]]]:
    with Store.open(db, read_only=True) as store:
        scan_id = store.latest_scan_id()
        observations = list(store.observations(scan_id))
    keys = [(o.ip, o.port) for o in observations]
    rows = {
        (o.ip, o.port, str(o.status), o.product, o.version, str(o.auth),
         tuple(sorted(m.name for m in o.models)))
        for o in observations
    }  # fmt: skip
    return len(observations), rows, keys


def identified(db: Path) -> int:
    if not db.exists():
        return 0
    with Store.open(db, read_only=True) as store:
        return sum(1 for o in store.observations(store.latest_scan_id()) if o.product)


def check_consistent(db: Path) -> tuple[int, str]:
    """The file opens, every observation decodes, and the checkpoint counts exactly them."""
    with Store.open(db, read_only=True) as store:
        scans = store.scans()
        if not scans:
            return 0, "none"
        assert len(scans) == 1, [s.status for s in scans]
        scan_id = scans[-1].scan_id
        stored = [msgspec.to_builtins(o) for o in store.observations(scan_id)]
        checkpoint = store.checkpoint(scan_id)
    assert checkpoint is not None and checkpoint.plan_size == PLANNED
    keys = [(o["ip"], o["port"]) for o in stored]
    assert len(keys) == len(set(keys)), "a target was stored twice"
    assert checkpoint.done() == len(stored), (checkpoint, len(stored))
    return len(stored), scans[-1].status


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigkill_and_resume_equals_an_uninterrupted_scan(
    emulator_port: int, tmp_path: Path, workers: str
) -> None:
    # The reference scans in this process; the killed scan with `workers` processes (2: the
    # kill takes the parent, and its workers die with it) must still end with the same result.
    reference = tmp_path / "reference.duckdb"
    done = subprocess.run(
        scan_argv(emulator_port, reference, "--workers", "1"), capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    n_ref, expected, _ = result_set(reference)
    assert n_ref == PLANNED
    assert sum(1 for row in expected if row[3] == "ollama") == 256

    db = tmp_path / "killed.duckdb"
    seed = int(os.environ.get("AICENSUS_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    slow = ["--resume", "--rate", "100", "--batch-size", "3", "--checkpoint-every", "0.1"]
    slow += ["--workers", workers]
    progress = []
    for _ in range(KILLS):
        # Kill once the run has printed a random number of services beyond those it replays
        # (so mid-scan, not during start-up), after a further random pause.
        replayed = identified(db)
        proc = subprocess.Popen(
            scan_argv(emulator_port, db, *slow), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        watchdog = threading.Timer(60, proc.kill)
        watchdog.start()
        assert proc.stdout is not None
        want, seen = replayed + rng.randint(1, 40), 0
        while seen < want and proc.stdout.readline():
            seen += 1
        time.sleep(rng.uniform(0, 0.3))
        proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=30)
        watchdog.cancel()
        assert proc.returncode == -signal.SIGKILL, (seed, stderr.decode())
        stored, status = check_consistent(db)
        assert status == "running", (seed, status)  # killed, so never finished
        progress.append(stored)
    print(f"kill seed {seed}: observations stored after each kill: {progress}")
    assert progress == sorted(progress) and progress[-1] < PLANNED, (seed, progress)

    final = subprocess.run(
        scan_argv(emulator_port, db, "--resume", "--workers", workers),
        capture_output=True,
        timeout=120,
    )
    assert final.returncode == 0, final.stderr.decode()
    assert b"resuming scan 1" in final.stderr
    n, got, keys = result_set(db)
    assert n == PLANNED and len(set(keys)) == PLANNED, (seed, progress)
    assert got == expected, (seed, progress, sorted(got ^ expected)[:5])
    with Store.open(db, read_only=True) as store:
        (info,) = store.scans()
        checkpoint = store.checkpoint(info.scan_id)
    assert info.status == "completed" and info.counts["observations"] == PLANNED
    assert checkpoint is not None and checkpoint.done_below == PLANNED
    assert 1 <= checkpoint.resumes <= KILLS
    # The resumed run prints the whole scan: what earlier runs stored, then the rest.
    printed = [json.loads(line) for line in final.stdout.decode().splitlines()]
    assert {(s["ip"], s["port"]) for s in printed} == {(r[0], r[1]) for r in expected if r[3]}
    assert len(printed) == 256


@pytest.mark.parametrize(
    ("sig", "code", "message"),
    [
        (signal.SIGTERM, 128 + signal.SIGTERM, "terminated by signal 15; resume with --resume"),
        (signal.SIGHUP, 128 + signal.SIGHUP, "terminated by signal 1; resume with --resume"),
        (signal.SIGINT, 130, "aicensus: interrupted"),  # Ctrl-C, to the scan's own process
    ],
)
def test_a_signal_stops_a_scan_cleanly_and_it_resumes(
    emulator_port: int, tmp_path: Path, sig: signal.Signals, code: int, message: str
) -> None:
    db = tmp_path / "terminated.duckdb"
    slow = ["--resume", "--rate", "100", "--batch-size", "1000", "--checkpoint-every", "60"]
    proc = subprocess.Popen(
        scan_argv(emulator_port, db, *slow), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    assert proc.stdout is not None
    printed = [proc.stdout.readline() for _ in range(20)]  # mid-scan, nothing committed yet
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    watchdog.cancel()
    assert proc.returncode == code, stderr.decode()
    assert message in stderr.decode()
    assert b"Traceback" not in stderr
    # The batch in hand was written on the way out, with a checkpoint that accounts for it.
    stored, status = check_consistent(db)
    assert status == "interrupted"
    assert identified(db) >= len([line for line in printed if line]) == 20
    assert stored < PLANNED
    final = subprocess.run(
        scan_argv(emulator_port, db, "--resume"), capture_output=True, timeout=120
    )
    assert final.returncode == 0, final.stderr.decode()
    n, _, keys = result_set(db)
    assert n == PLANNED and len(set(keys)) == PLANNED
