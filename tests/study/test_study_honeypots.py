"""The study leaves named honeypots out of its figures by default, shows their count, and
counts them in again when asked (`--include-honeypots`)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from aicensus import api
from aicensus.assess.honeypot import HoneypotEvidence
from aicensus.cli.study import study_command
from aicensus.records import (
    Evidence,
    ModelRecord,
    RequestLogEntry,
    ScanStatus,
    ServiceObservation,
)
from aicensus.report.study_html import write_study_html
from aicensus.store import Store


def _service(ip: str, model: ModelRecord, evidence: list[Evidence], day: int) -> ServiceObservation:
    log = [
        RequestLogEntry(method="GET", path="/", status=200, bytes=17, ms=1.0),
        RequestLogEntry(method="GET", path="/api/tags", status=200, bytes=337, ms=1.0),
    ]
    return ServiceObservation(
        ip=ip, port=11434, scheme="http", status=ScanStatus.IDENTIFIED, product="ollama",
        version="0.12.6", confidence=0.95, models=[model], evidence=evidence, request_log=log,
        observed_at=f"2026-11-{day:02d}T10:00:00+00:00",
    )  # fmt: skip


def _store(tmp_path: Path) -> str:
    """30 addresses answering byte-identically with the canary echoed (honeypots), 30 more with
    the same models but answers of their own (a fleet: suspicious, kept), 4 ordinary hosts and
    one host that claimed every product at once (fingerprint.choose's honeypot status)."""
    echo = HoneypotEvidence(kind="echo", detail="canary echoed", weight=1.0).to_evidence()
    bait = ModelRecord(name="llama3.2:latest", digest="a80c4f17", size_bytes=2019393189,
                       family="llama")  # fmt: skip
    fleet = ModelRecord(name="gemma3:4b", digest="beef", size_bytes=3338801804, family="gemma3")
    observations = []
    for day in (1, 2):
        observations += [_service(f"10.1.0.{i}", bait, [echo], day) for i in range(30)]
        observations += [
            msgspec_replace_log(_service(f"10.6.0.{i}", fleet, [], day), 400 + i) for i in range(30)
        ]
        observations += [
            _service(f"10.7.0.{i}", ModelRecord(name="qwen3:8b", digest=f"c{i}", size_bytes=5,
                                                family="qwen3"), [], day)
            for i in range(4)
        ]  # fmt: skip
    observations.append(
        ServiceObservation(
            ip="10.8.0.1", port=8000, scheme="http", status=ScanStatus.SUSPECTED_HONEYPOT,
            observed_at="2026-11-01T10:00:00+00:00",
            evidence=[Evidence(kind="honeypot", probe="(all probes)",
                               marker="claims to be 9 products at once")],
        )
    )  # fmt: skip
    db = str(tmp_path / "hp.duckdb")
    with Store.open(db) as store:
        scan = store.begin_scan("ingest")
        store.add_observations(scan, observations)
        store.finish_scan(scan)
    return db


def msgspec_replace_log(obs: ServiceObservation, tags_bytes: int) -> ServiceObservation:
    obs.request_log[1].bytes = tags_bytes
    return obs


def _scale(study: dict) -> dict[str, object]:  # type: ignore[type-arg]
    figure = next(f for f in study["figures"] if f["id"] == "scale")
    return {row[0]: row[1] for row in figure["rows"]}


def test_honeypots_are_left_out_with_their_count(tmp_path: Path) -> None:
    db = _store(tmp_path)
    study = api.study(db)
    hp = study["meta"]["honeypots"]
    # 30 byte-identical echoing hosts plus the one that claimed every product
    assert hp["hosts"] == 31 and hp["hosts_excluded"] == 30
    assert hp["observations_excluded"] == 60 and hp["included"] is False
    assert hp["suspicious_hosts"] == 30  # the fleet: same models, its own answers
    assert hp["by_kind"]["echo"] == 30 and hp["by_kind"]["identical-banner"] == 30
    scale = _scale(study)
    assert scale["unique hosts"] == 34  # 30 fleet + 4 ordinary
    assert scale["honeypot hosts (left out)"] == 30
    assert study["meta"]["products"] == {"ollama": 34}
    families = {r[0]: r[1] for r in next(f for f in study["figures"]
                                         if f["id"] == "families")["rows"]}  # fmt: skip
    assert "llama" not in families and families["gemma3"] == 30


def test_include_honeypots_counts_them(tmp_path: Path) -> None:
    db = _store(tmp_path)
    study = api.study(db, include_honeypots=True)
    hp = study["meta"]["honeypots"]
    assert hp["included"] is True and hp["hosts"] == 31 and hp["hosts_excluded"] == 0
    scale = _scale(study)
    assert scale["unique hosts"] == 64
    assert scale["honeypot hosts (included)"] == 31


def test_cli_flag_and_html_show_the_count(tmp_path: Path) -> None:
    db = _store(tmp_path)
    runner = CliRunner()
    left_out = runner.invoke(study_command, ["--db", db])
    assert left_out.exit_code == 0, left_out.output
    assert "30 honeypot hosts left out" in left_out.stderr
    assert json.loads(left_out.stdout)["meta"]["counts"]["hosts"] == 34
    kept = runner.invoke(study_command, ["--db", db, "--include-honeypots"])
    assert json.loads(kept.stdout)["meta"]["counts"]["hosts"] == 64
    # a higher threshold than the bait's 30 addresses: population evidence is gone, the
    # echo alone still names them
    strict = runner.invoke(study_command, ["--db", db, "--honeypot-min-addresses", "100"])
    meta = json.loads(strict.stdout)["meta"]
    assert meta["honeypots"]["hosts_excluded"] == 30 and meta["honeypots"]["suspicious_hosts"] == 0
    out = tmp_path / "s.html"
    with out.open("w") as f:
        write_study_html(f, api.study(db))
    html = out.read_text()
    assert "31 honeypot hosts, 30 left out of the figures (60 observations)" in html
    assert ">honeypot hosts (left out)<" in html


def test_a_store_of_only_honeypots_says_so(tmp_path: Path) -> None:
    echo = HoneypotEvidence(kind="echo", detail="canary echoed", weight=1.0).to_evidence()
    bait = ModelRecord(name="llama3.2:latest", digest="a80c4f17", size_bytes=2019393189)
    db = str(tmp_path / "only.duckdb")
    with Store.open(db) as store:
        scan = store.begin_scan("ingest")
        store.add_observations(scan, [_service(f"10.1.0.{i}", bait, [echo], 1) for i in range(3)])
        store.finish_scan(scan)
    result = CliRunner().invoke(study_command, ["--db", db])
    assert result.exit_code != 0
    assert "besides 3 honeypot hosts (--include-honeypots)" in result.output
    kept = CliRunner().invoke(study_command, ["--db", db, "--include-honeypots"])
    assert kept.exit_code == 0 and json.loads(kept.stdout)["meta"]["counts"]["hosts"] == 3


def test_report_honeypots_over_the_whole_store(tmp_path: Path) -> None:
    from aicensus.cli.report import honeypots_command

    db = _store(tmp_path)
    found = api.honeypots(db)
    assert found["honeypots"] == 31 and found["suspicious"] == 30
    named = {h["ip"]: h for h in found["hosts"]}
    assert named["10.8.0.1"]["verdict"] == "honeypot"  # claimed every product
    assert {e["kind"] for e in named["10.1.0.5"]["evidence"]} == {
        "echo", "identical-inventory", "identical-banner"
    }  # fmt: skip
    assert named["10.6.0.5"]["verdict"] == "suspicious"
    assert "10.7.0.1" not in named
    table = CliRunner().invoke(honeypots_command, ["--db", db])
    assert table.exit_code == 0 and "honeypots: 31 named, 30 suspicious" in table.output
    # a higher threshold: the fleet is no longer suspicious, the echoing hosts still named
    strict = json.loads(
        CliRunner().invoke(honeypots_command, ["--db", db, "--min-addresses", "40",
                                               "--format", "json"]).output
    )  # fmt: skip
    assert strict["honeypots"] == 31 and strict["suspicious"] == 0
