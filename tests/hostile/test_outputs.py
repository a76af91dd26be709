"""Terminal escapes and hostile input records, through the real CLI (issue 14, items 7 and 9).

- A server whose version string carries `ESC ] 0; … BEL ESC [2J`, a C1 CSI and a bidi override
  is scanned and reported: the table and the CSV on standard output carry none of them, the
  JSON outputs carry no raw C1 or bidi character yet decode to the exact value.
- A store holding a hostile `ip` (as an old or crafted store could) prints it neutralised.
- `ingest responses` records `javascript:` and other schemes as bad records; `ingest parquet`
  refuses a dataset with a bad ip or port 99999999 (nothing merged) and counts a repeated row
  as a duplicate instead of aborting the merge.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from aicensus.records import AuthState, ScanStatus, ServiceObservation
from aicensus.store import Store
from tests.support import hostile_servers as servers
from tests.support.hostile_harness import run_scan

HOSTILE_VERSION = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e0.12.6\u2066"
# Anything a terminal acts on: ESC, BEL, C1, bidi and isolate controls.
RAW_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")
JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def aicensus(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "aicensus", *args],
        capture_output=True, text=True, encoding="utf-8", timeout=120, env=env, cwd=cwd,
    )  # fmt: skip


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stored scan of an Ollama look-alike whose version string is an escape attack."""
    out = tmp_path_factory.mktemp("escapes")
    farm = servers.HostileFarm()
    farm.start()
    port = servers.free_port_on("127.31.5.1")
    version = json.dumps({"version": HOSTILE_VERSION}).encode()  # JSON-escaped on the wire
    farm.bind([servers.Case("escapes", "127.31.5.1", servers.OllamaLike(version=version))], port)
    try:
        run = run_scan(["127.31.5.1", "--ports", str(port)], out, "escapes")
    finally:
        farm.stop()
    assert run.returncode == 0, run.stderr
    assert run.services and run.services[0]["version"] == HOSTILE_VERSION  # exact in jsonl
    assert not JSON_UNSAFE.search(run.stdout)  # yet no raw C1 or bidi in the JSON text
    assert run.db is not None
    return run.db


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_terminal_outputs_carry_no_escapes(scanned: Path, fmt: str) -> None:
    done = aicensus("report", "--db", str(scanned), "--format", fmt)
    assert done.returncode == 0, done.stderr
    assert "127.31.5.1" in done.stdout
    assert not RAW_UNSAFE.search(done.stdout.replace("\n", "").replace("\r", "")), done.stdout
    if fmt == "csv":  # spelled out, so the reader still sees what the server sent
        assert "\\x1b]0;pwned\\x07" in done.stdout


@pytest.mark.parametrize("fmt", ["json", "sarif", "cyclonedx"])
def test_machine_outputs_are_exact_without_raw_c1_or_bidi(scanned: Path, fmt: str) -> None:
    done = aicensus("report", "--db", str(scanned), "--format", fmt)
    assert done.returncode == 0, done.stderr
    assert not JSON_UNSAFE.search(done.stdout)
    strings: list[str] = []
    _strings(json.loads(done.stdout), strings)
    assert any(HOSTILE_VERSION in text for text in strings)  # the exact value, decoded


def _strings(value: object, into: list[str]) -> None:
    if isinstance(value, str):
        into.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, into)
    elif isinstance(value, list):
        for item in value:
            _strings(item, into)


def test_a_hostile_ip_in_a_store_is_neutralised_in_the_table(tmp_path: Path) -> None:
    db = tmp_path / "crafted.duckdb"
    with Store.open(db) as store:
        scan = store.begin_scan("scan", {})
        obs = ServiceObservation(
            ip="10.0.0.1\x1b[2J\x1b]0;x\x07", port=11434, scheme="http",
            status=ScanStatus.IDENTIFIED, observed_at="2025-01-01T00:00:00+00:00",
            product="ollama", auth=AuthState.OPEN,
        )  # fmt: skip
        store.add_observations(scan, [obs])
        store.finish_scan(scan, "completed")
    for fmt in ("table", "csv"):
        done = aicensus("report", "--db", str(db), "--format", fmt)
        assert done.returncode == 0, done.stderr
        assert "10.0.0.1" in done.stdout
        assert not RAW_UNSAFE.search(done.stdout.replace("\n", "")), (fmt, done.stdout)


def test_ingest_responses_records_bad_schemes_as_bad_records(tmp_path: Path) -> None:
    good = {"ip": "192.0.2.7", "port": 11434, "path": "/", "status": 200,
            "body": "Ollama is running"}  # fmt: skip
    lines = [
        {**good, "scheme": "javascript:alert(1)//"},
        {**good, "scheme": "file"},
        {**good, "ip": "fe80::1%\x1b[2J"},
        {**good, "port": 99999999},
        {**good, "scheme": "http"},
    ]
    path = tmp_path / "responses.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    db = tmp_path / "r.duckdb"
    done = aicensus("ingest", "responses", str(path), "--db", str(db), "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("skipped line") == 4, done.stderr
    with Store.open(db, read_only=True) as store:
        stored = list(store.observations())
    assert [(o.ip, o.scheme) for o in stored] == [("192.0.2.7", "http")]
    sarif = aicensus("report", "--db", str(db), "--format", "sarif")
    assert "javascript" not in sarif.stdout


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A real export of a store with three services."""
    lines = [
        {"ip": f"192.0.2.{i}", "port": 11434, "scheme": "http", "path": "/", "status": 200,
         "body": "Ollama is running"}
        for i in (1, 2, 3)
    ]  # fmt: skip
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    db = tmp_path / "src.duckdb"
    assert aicensus("ingest", "responses", str(path), "--db", str(db)).returncode == 0
    out = tmp_path / "dataset"
    done = aicensus("export", "parquet", str(out), "--db", str(db))
    assert done.returncode == 0, done.stderr
    return out


def _rewrite_observations(dataset: Path, select: str) -> None:
    [part] = list((dataset / "observations").rglob("*.parquet"))
    con = duckdb.connect()
    tmp = part.with_suffix(".tmp")
    query = select.format(src="read_parquet('" + str(part) + "')")
    con.execute(f"COPY ({query}) TO '{tmp}' (FORMAT parquet)")
    tmp.replace(part)


@pytest.mark.parametrize(
    "change",
    [
        "ip = CASE WHEN ref = 1 THEN '10.0.0.1\x1b[2J' ELSE ip END",
        "ip = CASE WHEN ref = 1 THEN 'not-an-ip' ELSE ip END",
        "port = CASE WHEN ref = 1 THEN 99999999 ELSE port END",
        "scheme = CASE WHEN ref = 1 THEN 'javascript' ELSE scheme END",
    ],
)
def test_ingest_parquet_refuses_bad_endpoints(dataset: Path, tmp_path: Path, change: str) -> None:
    column, expr = change.split(" = ", 1)
    _rewrite_observations(dataset, f"SELECT * REPLACE ({expr} AS {column}) FROM {{src}}")
    db = tmp_path / "merged.duckdb"
    done = aicensus("ingest", "parquet", str(dataset), "--db", str(db))
    assert done.returncode != 0
    assert "invalid endpoint" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not RAW_UNSAFE.search(done.stderr.strip())
    with Store.open(db, read_only=True) as store:
        assert list(store.observations()) == []


def test_ingest_parquet_skips_and_counts_a_repeated_row(dataset: Path, tmp_path: Path) -> None:
    _rewrite_observations(
        dataset, "SELECT * FROM {src} UNION ALL SELECT * FROM {src} WHERE ref = 2"
    )
    db = tmp_path / "merged.duckdb"
    done = aicensus("ingest", "parquet", str(dataset), "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "3 observations stored" in done.stderr and "1 duplicates skipped" in done.stderr
    with Store.open(db, read_only=True) as store:
        assert sorted(o.ip for o in store.observations()) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
