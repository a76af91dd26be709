"""One real product that fails to start does not stop `lab up --all`: it is stopped, recorded
as failed with a one-line reason and its log, the rest stay up, `lab up` exits 1, and the
accuracy report counts the failed product as missed (never drops it).

A product added as data (one signature file): `acme-real-open` is Python's http.server on
the service's address, `acme-real-key` a command that exits at once."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from aicensus import api
from aicensus.cli.lab import lab_group
from aicensus.fingerprint.load import load_directory
from aicensus.lab import full
from aicensus.lab.accuracy import compare, render
from aicensus.lab.full import FullLab
from aicensus.records import ServiceObservation
from tests.support.lab import free_network

SIGNATURE = """\
id: acme-real
name: Acme Real Server
description: A made-up product the lab runs for real (Python's http.server).
ports: [18124]
references: [https://example.invalid/acme-real]
probes:
  marker: {path: /acme.txt}
matchers:
  - name: marker
    probe: marker
    status: [200]
    body_contains: [acme-real-marker]
    weight: 0.9
    why: only the lab's made-up product serves this marker
version:
  - {probe: marker, regex: 'version (\\d+\\.\\d+\\.\\d+)'}
auth:
  gate: [marker]
  protected: {status: [401]}
  open: {status: [200]}
lab:
  real:
    - name: acme-real-open
      command: ["{python}", -m, http.server, --bind, "{address}", --directory, "{data}", "{port}"]
      files: {acme.txt: "acme-real-marker version 4.5.6\\n"}
      health: /acme.txt
      ready: ok
    - name: acme-real-key
      variant: key
      command: [sh, -c, "echo acme-real cannot start here >&2; exit 3"]
      health: /acme.txt
"""


@pytest.fixture()
def sig_dir(tmp_path: Path) -> Path:
    sigs = tmp_path / "signatures"
    sigs.mkdir()
    (sigs / "acme-real.yaml").write_text(SIGNATURE)
    return sigs


def test_a_failed_real_product_is_recorded_and_the_rest_run(
    tmp_path: Path, sig_dir: Path
) -> None:
    said: list[str] = []
    lab = FullLab(
        tmp_path / "all", network=free_network(), only="acme-real", signatures=sig_dir,
        echo=said.append,
    )  # fmt: skip
    lab.up()  # no exception: the open variant runs
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(lab.url("acme-real-open") + "/acme.txt", timeout=10) as resp:
            assert b"acme-real-marker" in resp.read()
        assert list(lab.failed) == ["acme-real-key"]
        line = lab.failed["acme-real-key"]
        log = str(tmp_path / "all" / "logs" / "acme-real-key.log")
        assert "exited during start-up" in line and f"(log: {log})" in line
        assert "\n" not in line
        assert "acme-real cannot start here" in Path(log).read_text()
        assert any("FAILED to start" in m for m in said)

        status = {s.name: s for s in lab.status()}
        assert status["acme-real-open"].running
        assert not status["acme-real-key"].running
        assert status["acme-real-key"].note.startswith("failed to start: ")

        truth = {str(t["name"]): t for t in lab.ground_truth()}
        assert truth["acme-real-open"]["running"] and truth["acme-real-open"]["failed"] is None
        assert truth["acme-real-key"]["running"] is False
        assert truth["acme-real-key"]["failed"] == line

        seen: list[ServiceObservation] = []
        addresses = [str(t["address"]) for t in truth.values()]
        plan = api.plan_targets(addresses, ports="18124")
        api.scan(plan, sigs=load_directory(sig_dir), on_observation=seen.append)
        report = compare(list(truth.values()), seen)
        assert report.failed == ["acme-real-key"]
        assert [(m.name, m.what) for m in report.mismatches] == [("acme-real-key", "failed")]
        score = report.products["acme-real"]
        assert (score.tp, score.fn, score.recall) == (1, 1, 0.5)
        assert not report.perfect
        assert "failed to start (counted as missed): acme-real-key" in render(report)
    finally:
        lab.down()
    assert lab.failed == {}  # down forgets the failure with the rest


def test_lab_up_all_exits_1_names_the_failure_and_leaves_the_rest_up(
    tmp_path: Path, sig_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(full, "builtin_signatures", lambda: load_directory(sig_dir))
    runner = CliRunner()
    where = ["--dir", str(tmp_path / "lab")]
    result = runner.invoke(
        lab_group, ["up", "--all", "--only", "acme-real", "--network", free_network(), *where]
    )
    try:
        assert result.exit_code == 1, result.output
        assert "acme-real-key  FAILED to start: " in result.output
        assert "real product(s) failed to start" in result.output
        doc = json.loads(runner.invoke(lab_group, ["status", "--all", "--json", *where]).output)
        assert list(doc["failed"]) == ["acme-real-key"]
        running = {t["name"]: t["running"] for t in doc["ground_truth"] if t["kind"] == "real"}
        assert running == {"acme-real-open": True, "acme-real-key": False}
    finally:
        down = runner.invoke(lab_group, ["down", "--all", *where])
    assert down.exit_code == 0 and "acme-real-open" in down.output
