"""`aicensus ingest responses` goes through the one ingest path: time grouping, ledger,
de-duplication and batching, like every other format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from aicensus import api
from aicensus.cli import app
from aicensus.ingest.files import ingest_file
from aicensus.store import Store
from aicensus.store import longitudinal as lon

TAGS = json.dumps({"models": [{"name": "llama3:8b", "model": "llama3:8b", "size": 1,
                               "digest": "a" * 64, "details": {"family": "llama"}}]})  # fmt: skip


def _days(path: Path, days: int, *, ip: str = "192.0.2.50", hours: tuple[int, ...] = (0,)) -> None:
    start = datetime(2025, 1, 1, 6, tzinfo=UTC)
    lines = []
    for day in range(days):
        for minutes in hours:
            at = start + timedelta(days=day, minutes=minutes)
            for p, body in (("/", "Ollama is running"), ("/api/tags", TAGS)):
                lines.append(json.dumps({
                    "ip": ip, "port": 11434, "scheme": "http", "path": p, "status": 200,
                    "headers": {"Content-Type": "application/json"}, "body": body,
                    "observed_at": at.isoformat(),
                }))  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def test_one_host_on_120_days_is_120_observations_and_persistent(tmp_path: Path) -> None:
    recording, db = tmp_path / "r.jsonl", tmp_path / "s.duckdb"
    _days(recording, 120)
    app._register()
    result = CliRunner().invoke(app.cli, ["ingest", "responses", str(recording), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "120 observations stored" in result.stderr
    with Store.open(db, read_only=True) as store:
        history = lon.host_history(store, "192.0.2.50")
        files = lon.sources(store)
    assert history is not None
    assert (history.observations, history.days_observed) == (120, 120)
    assert history.persistence == "persistent"
    assert [f.format for f in files] == ["responses"] and files[0].observations == 120
    again = CliRunner().invoke(app.cli, ["ingest", "responses", str(recording), "--db", str(db)])
    assert again.exit_code == 0 and "already ingested" in again.stderr


def test_responses_within_an_hour_are_one_observation_and_duplicates_are_dropped(
    tmp_path: Path,
) -> None:
    recording, db = tmp_path / "r.jsonl", tmp_path / "s.duckdb"
    _days(recording, 3, hours=(0, 20, 40))  # three passes an hour apart at most, per day
    first = api.ingest_responses(recording, db=db)
    assert first.observations == 3 and first.records == 3 * 3 * 2
    forced = api.ingest_responses(recording, db=db, force=True)
    assert (forced.observations, forced.duplicates) == (0, 3)
    with Store.open(db, read_only=True) as store:
        stored = list(store.observations())
    assert len(stored) == 3 and all(o.product == "ollama" and o.models for o in stored)
    assert sorted(o.observed_at for o in stored)[0].startswith("2025-01-01T06:00")


def test_a_file_without_a_usable_record_fails_and_stays_out_of_the_ledger(tmp_path: Path) -> None:
    broken, db = tmp_path / "hosts.json", tmp_path / "s.duckdb"
    broken.write_text('{"ip": "192.0.2.9", "services": "not a list"}\n{oops\n')
    app._register()
    runner = CliRunner()
    result = runner.invoke(app.cli, ["ingest", "censys", str(broken), "--db", str(db)])
    assert result.exit_code == 1
    assert "no usable censys record: 2 of 2 records bad (line 1:" in result.stderr
    assert "not recorded as ingested" in result.stderr
    with Store.open(db, read_only=True) as store:
        assert lon.sources(store) == []
        assert [s.status for s in store.scans()] == ["failed"]
    broken.write_text('{"ip": "192.0.2.9", "services": [{"port": 80, "scan_time": '
                      '"2025-01-01T00:00:00Z", "ollama": {"version": "0.6.2"}}]}\n')  # fmt: skip
    fixed = runner.invoke(app.cli, ["ingest", "censys", str(broken), "--db", str(db)])
    assert fixed.exit_code == 0 and "1 observations stored" in fixed.stderr, fixed.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    nothing = runner.invoke(app.cli, ["ingest", "shodan", str(empty), "--no-db"])
    assert nothing.exit_code == 1 and "no shodan records in the file" in nothing.stderr


def test_the_study_report_states_per_source_what_was_read_used_and_skipped(
    tmp_path: Path,
) -> None:
    import io

    from aicensus.report.study import compute_study
    from aicensus.report.study_html import write_study_html

    recording, db = tmp_path / "r.jsonl", tmp_path / "s.duckdb"
    _days(recording, 3)
    with recording.open("a") as handle:
        handle.write("{not json\n")
    api.ingest_responses(recording, db=db)
    study = compute_study(db)
    assert study["meta"]["ingest"] == {
        "responses": {
            "files": 1, "records": 7, "observations": 3, "duplicates": 0, "bad": 1, "skipped": {}
        }
    }  # fmt: skip
    html = io.StringIO()
    write_study_html(html, study)
    assert "responses: 1 files, 7 records read, 3 observations stored" in html.getvalue()


def test_the_study_report_says_why_records_were_skipped(tmp_path: Path) -> None:
    """The ledger keeps each source's skip reasons (schema 5); the report shows them."""
    import io

    from aicensus.report.study import compute_study
    from aicensus.report.study_html import write_study_html

    db = tmp_path / "s.duckdb"
    real = Path(__file__).parent / "real" / "censys-platform-host-view.json"
    assert ingest_file(real, "censys", db=db).unusable is None
    study = compute_study(db)
    assert study["meta"]["ingest"]["censys"]["skipped"] == {"quic services": 1, "udp services": 1}
    html = io.StringIO()
    write_study_html(html, study)
    assert "not stored: 1 quic services, 1 udp services" in html.getvalue()
