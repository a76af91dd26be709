"""Bad input gives a one-line error and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aicensus.store import Store


def run_cli(*args: str, stdin: str | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "aicensus", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["scan", "127.0.0.300"], "127.0.0.300"),
        (["scan", "127.0.0.1/33"], "127.0.0.1/33"),
        (["scan", "127.0.0.9-127.0.0.1"], "127.0.0.9-127.0.0.1"),
        (["scan", "127.0.0.1", "--ports", "nosuchpreset"], "nosuchpreset"),
        (["scan", "127.0.0.1", "--ports", "70000"], "70000"),
        (["scan", "127.0.0.1", "--shard", "5/4"], "5/4"),
        (["scan", "@/nonexistent/targets.txt"], "/nonexistent/targets.txt"),
        (["ingest", "responses", "/nonexistent/r.jsonl"], "/nonexistent/r.jsonl"),
    ],
)
def test_bad_input(args: list[str], needle: str, tmp_path: Path) -> None:
    assert_one_line_error(run_cli(*args, "--no-db"), needle)


def test_malformed_fingerprint_names_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "ollama.yaml").write_text(
        "id: ollama\nname: x\ndescription: x\nports: [70]\nreferences: []\n"
        "probes: {root: {path: /}}\nmatchers:\n  - {name: a, probe: nope, weight: 0.5, why: x}\n"
    )
    proc = run_cli("scan", "127.0.0.1", "--ports", "1", "--signatures", str(tmp_path), "--no-db")
    assert_one_line_error(proc, "ollama.yaml: matchers[0].probe")
    proc = run_cli("signatures", "validate", str(tmp_path))
    assert_one_line_error(proc, "ollama.yaml")


def test_locked_database(tmp_path: Path) -> None:
    db = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from aicensus.store import Store; s = Store.open(sys.argv[1]); "
            "print('ready', flush=True); time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        proc = run_cli("scan", "127.0.0.1", "--ports", "1", "--db", str(db))
        assert_one_line_error(proc, str(db))
    finally:
        holder.kill()
        holder.wait()
    with Store.open(db) as store:  # not corrupt: opens and reads after the holder died
        assert store.scans() == []


def test_unreadable_signature_directory_and_stdin_targets(tmp_path: Path) -> None:
    proc = run_cli(
        "scan", "-", "--ports", "1", "--no-db", "--format", "jsonl", "--all", stdin="127.0.0.1\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert '"status":"connection-refused"' in proc.stdout
