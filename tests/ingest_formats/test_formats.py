"""Ingest of other tools' scan data, on samples written to each format's documented schema
(tests/ingest_formats/data/): what becomes an observation, which records are bad (by line),
that good records are never lost, and that re-ingesting is a no-op."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from click.testing import CliRunner

import aicensus.cli.ingest_formats  # noqa: F401 - attaches the commands
from aicensus.cli.scan import ingest_group
from aicensus.fingerprint.load import builtin_signatures
from aicensus.ingest.files import READERS, ingest_file
from aicensus.records import AuthState, ScanStatus
from aicensus.store import Store
from aicensus.store import longitudinal as lon

DATA = Path(__file__).parent / "data"
SIGS = builtin_signatures()


def _read(fmt: str, name: str, **options: object):  # type: ignore[no-untyped-def]
    return READERS[fmt](DATA / name, SIGS, **options)


def _by(result, ip: str, port: int):  # type: ignore[no-untyped-def]
    found = [o for o in result.observations if (o.ip, o.port) == (ip, port)]
    assert found, (ip, port, [(o.ip, o.port) for o in result.observations])
    return found


def test_zgrab2_endpoints_of_one_service_are_fingerprinted_together() -> None:
    result = _read("zgrab2", "zgrab2-http.jsonl")
    assert [(b.line, b.reason.split(":")[0]) for b in result.bad] == [
        (4, "not JSON"),
        (7, "bad IP address '999.1.1.1'"),
        (12, "bad or missing timestamp 'None'"),
    ]
    day1, day2 = _by(result, "192.0.2.10", 11434)
    assert day1.product == "ollama" and day1.version == "0.5.12"
    assert day1.observed_at == "2025-03-01T12:00:00Z" and day1.source == "zgrab2"
    assert day1.auth == AuthState.OPEN
    models = {m.name: m for m in day1.models}
    assert set(models) == {"llama3.2:3b", "qwen2.5:7b", "nomic-embed-text:latest"}
    assert models["qwen2.5:7b"].running and models["qwen2.5:7b"].vram_bytes == 6654289920
    assert models["qwen2.5:7b"].quantization == "Q4_K_M"
    assert models["qwen2.5:7b"].developer == "Alibaba" and models["qwen2.5:7b"].country == "CN"
    # the next day's root-only grab is a second observation, not merged into the first
    assert day2.observed_at == "2025-03-02T12:00:00Z" and day2.product == "ollama"
    assert not day2.models
    (llama,) = _by(result, "198.51.100.20", 8080)
    assert llama.product == "llama.cpp"
    (nginx,) = _by(result, "203.0.113.30", 80)
    assert nginx.status == ScanStatus.UNIDENTIFIED
    (timeout,) = _by(result, "203.0.113.31", 11434)
    assert timeout.status == ScanStatus.CONNECTION_TIMEOUT and timeout.scheme is None
    assert result.records == 12 and len(result.observations) == 5


def test_zgrab2_default_port_applies_to_records_without_one(tmp_path: Path) -> None:
    line = (
        '{"ip": "192.0.2.77", "data": {"http": {"status": "success", "timestamp": '
        '"2025-01-01T00:00:00Z", "result": {"response": {"status_code": 200, "body": '
        '"Ollama is running", "request": {"url": {"scheme": "http", "host": "192.0.2.77", '
        '"path": "/"}}}}}}}\n'
    )
    path = tmp_path / "z.jsonl"
    path.write_text(line)
    (obs,) = READERS["zgrab2"](path, SIGS, default_port=11434).observations
    assert (obs.port, obs.product) == (11434, "ollama")
    (obs,) = READERS["zgrab2"](path, SIGS).observations
    assert obs.port == 80


def test_censys_platform_ollama_object() -> None:
    result = _read("censys", "censys-platform.jsonl")
    assert [b.line for b in result.bad] == [1, 4, 6]
    assert "service 2" in result.bad[0].reason  # the bad service only; its host's others kept
    (ollama,) = _by(result, "192.0.2.50", 11434)
    assert ollama.product == "ollama" and ollama.version == "0.6.8"
    assert ollama.status == ScanStatus.IDENTIFIED and ollama.auth == AuthState.OPEN
    assert ollama.observed_at == "2025-06-01T08:00:00Z" and ollama.source == "censys"
    models = {m.name: m for m in ollama.models}
    assert set(models) == {"llama3.1:8b", "deepseek-r1:14b", "gemma2:9b"}
    assert models["deepseek-r1:14b"].running and models["deepseek-r1:14b"].vram_bytes
    assert not models["llama3.1:8b"].running
    assert models["gemma2:9b"].family == "gemma2" and models["gemma2:9b"].developer == "Google"
    assert models["deepseek-r1:14b"].developer == "DeepSeek"
    assert models["llama3.1:8b"].size_bytes == 4920753328
    (ssh,) = _by(result, "192.0.2.50", 22)
    assert ssh.status == ScanStatus.UNIDENTIFIED and ssh.product is None
    (single,) = _by(result, "198.51.100.60", 11434)
    assert single.version == "0.9.0-rc1" and [m.name for m in single.models] == ["llama3.1:8b"]
    (v2,) = _by(result, "203.0.113.70", 11434)  # Search 2.0: fingerprinted from the body
    assert v2.product == "ollama" and v2.observed_at == "2025-06-03T09:59:00.000Z"


def test_shodan_banners_including_gzip(tmp_path: Path) -> None:
    plain = _read("shodan", "shodan-banners.json")
    zipped = tmp_path / "export.json.gz"
    with gzip.open(zipped, "wb") as out:
        out.write((DATA / "shodan-banners.json").read_bytes())
    from_gzip = READERS["shodan"](zipped, SIGS)
    for result in (plain, from_gzip):
        assert [b.line for b in result.bad] == [5, 6]
        (ollama,) = _by(result, "192.0.2.101", 11434)
        assert ollama.product == "ollama" and ollama.source == "shodan"
        assert ollama.observed_at == "2025-09-01T03:04:05.123456"
        (uvicorn,) = _by(result, "192.0.2.102", 8000)
        assert uvicorn.status == ScanStatus.UNIDENTIFIED
        (ssh,) = _by(result, "192.0.2.103", 22)
        assert ssh.status == ScanStatus.NOT_HTTP
        assert not [o for o in result.observations if o.ip == "192.0.2.104"]  # udp skipped


@pytest.mark.parametrize(("name", "bad"), [("masscan.json", [10]), ("masscan.txt", [5, 7])])
def test_masscan_open_ports_and_http_banners(name: str, bad: list[int]) -> None:
    result = _read("masscan", name)
    assert [b.line for b in result.bad] == bad
    identified = [o for o in result.observations if o.product == "ollama"]
    assert len(identified) == 1 and identified[0].scheme == "http"
    assert identified[0].observed_at == "2025-03-01T00:00:00+00:00"  # the earliest record
    open_only = [o for o in result.observations if o.product is None]
    assert len(open_only) == 1
    assert open_only[0].status == ScanStatus.UNIDENTIFIED and open_only[0].scheme is None
    assert open_only[0].error == "port open; no HTTP response recorded"


def test_nmap_xml() -> None:
    result = _read("nmap", "nmap.xml")
    assert [b.line for b in result.bad] == [13]  # the host with a MAC address only
    (ollama,) = [o for o in result.observations if o.product == "ollama"]
    assert (ollama.ip, ollama.port, ollama.hostname) == ("192.0.2.200", 11434, "llm.example.net")
    assert ollama.observed_at == "2025-03-01T00:00:10+00:00"
    assert any(e.kind == "nmap-service" for e in ollama.evidence)
    nginx = [o for o in result.observations if (o.ip, o.port) == ("192.0.2.202", 8080)]
    assert nginx and any("nginx" in e.marker for e in nginx[0].evidence)
    assert not [o for o in result.observations if o.ip == "192.0.2.202" and o.port == 11434]


def test_malformed_nmap_xml_keeps_hosts_before_the_error(tmp_path: Path) -> None:
    text = (DATA / "nmap.xml").read_text().replace('<host starttime="1740787230"', "<host <<")
    path = tmp_path / "broken.xml"
    path.write_text(text)
    result = READERS["nmap"](path, SIGS)
    assert any(o.product == "ollama" for o in result.observations)
    assert result.bad and "malformed XML" in result.bad[-1].reason


def test_good_records_are_never_lost_among_bad_ones(tmp_path: Path) -> None:
    good = (DATA / "shodan-banners.json").read_text().splitlines()[0]
    path = tmp_path / "mixed.json"
    path.write_text("\n".join(["{", good, "[]", "null", good.replace("192.0.2.101", "x"), good]))
    result = READERS["shodan"](path, SIGS)
    assert [b.line for b in result.bad] == [1, 3, 4, 5]
    assert len(result.observations) == 2


def test_ingest_is_idempotent_by_file_hash_and_observation_key(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    first = ingest_file(DATA / "zgrab2-http.jsonl", "zgrab2", db=db)
    assert first.observations == 5 and len(first.bad_records) == 3
    again = ingest_file(DATA / "zgrab2-http.jsonl", "zgrab2", db=db)
    assert again.already_ingested is not None and again.observations == 0
    assert again.scan_id == first.scan_id
    forced = ingest_file(DATA / "zgrab2-http.jsonl", "zgrab2", db=db, force=True)
    assert (forced.observations, forced.duplicates) == (0, 5)
    copy = tmp_path / "same-records-other-bytes.jsonl"
    copy.write_text((DATA / "zgrab2-http.jsonl").read_text() + "\n\n")
    other = ingest_file(copy, "zgrab2", db=db)
    assert (other.observations, other.duplicates) == (0, 5)
    with Store.open(db, read_only=True) as store:
        assert len(list(store.observations())) == 5
        files = lon.sources(store)
    assert {f.format for f in files} == {"zgrab2"} and len(files) == 2


def test_every_format_lands_in_one_store(tmp_path: Path) -> None:
    db = tmp_path / "all.duckdb"
    samples = [
        ("zgrab2", "zgrab2-http.jsonl"), ("censys", "censys-platform.jsonl"),
        ("shodan", "shodan-banners.json"), ("masscan", "masscan.json"),
        ("masscan", "masscan.txt"), ("nmap", "nmap.xml"),
        ("zoomeye", "../real/zoomeye-api-v2-search.json"),
    ]  # fmt: skip
    total = 0
    for fmt, name in samples:
        total += ingest_file(DATA / name, fmt, db=db).observations
    with Store.open(db, read_only=True) as store:
        stored = list(store.observations())
        kinds = {s.args["format"] for s in store.scans()}
    assert len(stored) == total
    every = {"zgrab2", "censys", "shodan", "masscan", "nmap", "zoomeye"}
    assert {o.source for o in stored} == every and kinds == every


def test_responses_format_through_the_same_runner(tmp_path: Path) -> None:
    corpus = Path(__file__).parents[1] / "data" / "ollama-api-tags-wild.jsonl"
    summary = ingest_file(corpus, "responses", db=tmp_path / "r.duckdb")
    assert summary.observations > 50 and summary.by_product.get("ollama")
    again = ingest_file(corpus, "responses", db=tmp_path / "r.duckdb")
    assert again.already_ingested is not None


def test_cli_reports_bad_lines_and_stores(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.duckdb")
    runner = CliRunner()
    result = runner.invoke(
        ingest_group, ["zgrab2", str(DATA / "zgrab2-http.jsonl"), "--db", db, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert "skipped line 4: not JSON" in result.stderr
    assert "5 observations stored" in result.stderr
    assert '"product": "ollama"' in result.stdout
    again = runner.invoke(ingest_group, ["zgrab2", str(DATA / "zgrab2-http.jsonl"), "--db", db])
    assert "already ingested" in again.stderr
    for fmt, name in (("censys", "censys-platform.jsonl"), ("nmap", "nmap.xml"),
                      ("masscan", "masscan.txt"), ("shodan", "shodan-banners.json")):  # fmt: skip
        done = runner.invoke(ingest_group, [fmt, str(DATA / name), "--db", db])
        assert done.exit_code == 0 and "observations stored" in done.stderr, done.output


def test_unreadable_file_is_one_line_error(tmp_path: Path) -> None:
    from aicensus.cli import app

    app._register()
    missing = tmp_path / "nope.jsonl"
    result = CliRunner().invoke(app.cli, ["ingest", "censys", str(missing), "--no-db"])
    assert result.exit_code == 2 and "cannot read" in result.stderr
