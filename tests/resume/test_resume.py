"""Checkpoints and resume, in process: interruption, refusals, the CLI flag, the migration."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from aicensus import api
from aicensus.cli import app
from aicensus.engine.config import EngineConfig
from aicensus.records import ScanStatus, ServiceObservation
from aicensus.store import SCHEMA_VERSION, Checkpoint, Store
from tests.support.loopback import free_port

TARGETS = ["127.22.0.0/26", "127.22.1.0/27"]  # nothing listens there: every target is refused


def plan(port: int) -> api.TargetPlan:
    return api.plan_targets(TARGETS, ports=str(port), seed=3)


def args(port: int) -> dict[str, object]:
    return {"targets": TARGETS, "ports": str(port), "excludes": [], "seed": 3, "shard": None}


class Interrupt:
    """on_observation that presses Ctrl-C at the n-th observation: it raises what Python's
    SIGINT handler raises. Not a real SIGINT: in the full suite (2,600 tests in one process)
    a real one at times did not interrupt, the cause not found. A real Ctrl-C to a scan in a
    process of its own is tested in test_kill_resume.py."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.seen: list[ServiceObservation] = []

    def __call__(self, obs: ServiceObservation) -> None:
        self.seen.append(obs)
        if len(self.seen) == self.at:
            raise KeyboardInterrupt


def test_interrupted_scan_resumes_to_exactly_one_observation_per_target(tmp_path: Path) -> None:
    port, db = free_port(), tmp_path / "s.duckdb"
    config = EngineConfig(concurrency=8)
    for at in (10, 40):  # interrupt twice, the second time a resumed scan
        with pytest.raises(KeyboardInterrupt):
            api.scan(
                plan(port),
                config=config,
                db=db,
                args=args(port),
                batch_size=7,
                on_observation=Interrupt(at),
                resume=api.resumable_scan(db, args(port)) if db.exists() else None,
            )
        with Store.open(db, read_only=True) as store:
            (info,) = store.scans()
            checkpoint = store.checkpoint(info.scan_id)
            stored = list(store.observations(info.scan_id))
        assert info.status == "interrupted"
        assert checkpoint is not None and checkpoint.done() == len(stored) >= at - 1 - 8
    scan_id = api.resumable_scan(db, args(port))
    assert scan_id == 1
    seen: list[ServiceObservation] = []
    summary = api.scan(
        plan(port),
        config=config,
        db=db,
        args=args(port),
        resume=scan_id,
        on_observation=seen.append,
    )
    expected = {(t.ip, t.port) for t in plan(port).iterator}
    assert len(expected) == 96
    assert summary.targets == 96 and 0 < summary.resumed < 96
    assert sorted((o.ip, o.port) for o in seen) == sorted(expected)  # replayed + new, once each
    with Store.open(db, read_only=True) as store:
        (info,) = store.scans()
        stored = list(store.observations(scan_id))
        checkpoint = store.checkpoint(scan_id)
    assert info.status == "completed" and info.counts["observations"] == 96
    assert sorted((o.ip, o.port) for o in stored) == sorted(expected)
    assert {str(o.status) for o in stored} == {"connection-refused"}, [
        (o.status, o.error) for o in stored if o.status != "connection-refused"
    ]
    assert checkpoint == Checkpoint(plan_size=96, done_below=96, done_above=[], resumes=2)
    assert api.resumable_scan(db, args(port)) is None  # completed: nothing left to resume


def test_resume_refuses_other_arguments_and_finished_scans(tmp_path: Path) -> None:
    port, db = free_port(), tmp_path / "s.duckdb"
    with pytest.raises(KeyboardInterrupt):
        api.scan(plan(port), db=db, args=args(port), on_observation=Interrupt(5))
    other = {**args(port), "seed": 4}
    assert api.resumable_scan(db, other) is None
    with pytest.raises(api.ResumeError, match="other arguments"):
        api.scan(api.plan_targets(TARGETS, ports=str(port), seed=4), db=db, args=other, resume=1)
    smaller = api.plan_targets(TARGETS[:1], ports=str(port), seed=3)
    with pytest.raises(api.ResumeError, match="its plan had 96 targets, these arguments give 64"):
        api.scan(smaller, db=db, args=None, resume=1)
    with pytest.raises(api.ResumeError, match="no such scan"):
        api.scan(plan(port), db=db, args=args(port), resume=9)
    with pytest.raises(api.ResumeError, match="needs its store"):
        api.scan(plan(port), args=args(port), resume=1)
    api.scan(plan(port), db=db, args=args(port), resume=1)
    with pytest.raises(api.ResumeError, match="already completed"):
        api.scan(plan(port), db=db, args=args(port), resume=1)


def test_checkpoint_commits_with_its_batch_or_not_at_all(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    obs = [ServiceObservation(ip="127.0.0.1", port=1, scheme=None, status=ScanStatus.ERROR)]

    def failing():
        yield obs[0]
        raise RuntimeError("the batch fails part way")

    with Store.open(db) as store:
        scan_id = store.begin_scan("scan", {}, checkpoint=Checkpoint(plan_size=5))
        with pytest.raises(RuntimeError):
            store.add_observations(
                scan_id, failing(), checkpoint=Checkpoint(plan_size=5, done_below=2)
            )
        assert store.checkpoint(scan_id) == Checkpoint(plan_size=5)
        assert list(store.observations(scan_id)) == []
        store.add_observations(scan_id, obs, checkpoint=Checkpoint(plan_size=5, done_above=[3]))
        assert store.checkpoint(scan_id) == Checkpoint(plan_size=5, done_above=[3])
        assert len(list(store.observations(scan_id))) == 1


def test_a_version_1_store_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))  # what aicensus 0.1 wrote: schema 2 less scan_progress
    con.execute((Path(__file__).parents[1] / "store" / "data" / "schema_v2.sql").read_text())
    con.execute("DROP TABLE scan_progress")
    con.execute("INSERT INTO schema_version VALUES (1, now())")
    con.close()
    with Store.open(db) as store:
        scan_id = store.begin_scan("scan", {}, checkpoint=Checkpoint(plan_size=1))
        assert store.checkpoint(scan_id) == Checkpoint(plan_size=1)
    con = duckdb.connect(str(db), read_only=True)
    versions = [
        v for (v,) in con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
    ]
    con.close()
    assert versions == [1, 2, 3, 4, 5, SCHEMA_VERSION] and SCHEMA_VERSION == 6


class Ran:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def cli(*argv: str) -> Ran:
    """`aicensus scan ...` in process (the CLI's start-up would dominate this test)."""
    app._register()
    result = CliRunner().invoke(app.cli, ["scan", *argv, "--format", "jsonl", "--all"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def test_cli_resume_flag(tmp_path: Path) -> None:
    port, db = free_port(), tmp_path / "s.duckdb"
    first = cli(*TARGETS, "--ports", str(port), "--seed", "3", "--db", str(db), "--resume")
    assert first.returncode == 0, first.stderr
    assert "no unfinished scan with these arguments" in first.stderr
    assert len(first.stdout.splitlines()) == 96
    again = cli(*TARGETS, "--ports", str(port), "--seed", "3", "--db", str(db), "--resume")
    assert again.returncode == 0 and "starting one" in again.stderr  # the first one completed
    done = cli("--resume", "1", "--db", str(db))
    assert done.returncode == 2 and "already completed" in done.stderr
    assert "Traceback" not in done.stderr
    # A scan killed before its first batch (status running, nothing stored) ...
    con = duckdb.connect(str(db))
    con.execute("UPDATE scans SET status = 'running' WHERE scan_id = 2")
    # (models is a view over observations and their sets: nothing to delete there)
    con.execute(
        "DELETE FROM request_log WHERE obs_id IN (SELECT obs_id FROM observations WHERE scan_id = 2)"
    )
    con.execute("DELETE FROM observations WHERE scan_id = 2")
    con.execute("UPDATE scan_progress SET done_below = 0, done_above = [] WHERE scan_id = 2")
    con.close()
    # ... resumes by id alone, with the arguments it was started with.
    resumed = cli("--resume", "2", "--db", str(db))
    assert resumed.returncode == 0, resumed.stderr
    assert len(resumed.stdout.splitlines()) == 96
    assert "stored as scan 2" in resumed.stderr
    mismatch = cli(TARGETS[0], "--ports", str(port), "--db", str(db), "--resume", "2")
    assert mismatch.returncode == 2 and "cannot resume scan 2" in mismatch.stderr
    no_db = cli(*TARGETS, "--no-db", "--resume")
    assert no_db.returncode == 2 and "--no-db" in no_db.stderr
    # `--resume 127.22.0.0/26` is the flag followed by a target.
    token = cli("--resume", *TARGETS, "--ports", str(port), "--seed", "3", "--db", str(db))
    assert token.returncode == 0, token.stderr
    assert len(token.stdout.splitlines()) == 96
