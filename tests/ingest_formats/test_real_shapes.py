"""Every shape read from a real file of the tool's or SDK's own repository (see real/README.md
for where each comes from)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from aicensus.cli import app
from aicensus.fingerprint.load import builtin_signatures
from aicensus.ingest.files import READERS, ingest_file
from aicensus.store import Store

REAL = Path(__file__).parent / "real"
SIGS = builtin_signatures()


def _run(*args: str) -> object:
    app._register()
    return CliRunner().invoke(app.cli, list(args))


def test_pretty_printed_censys_platform_host_view_with_endpoint_ollama(tmp_path: Path) -> None:
    db = tmp_path / "c.duckdb"
    result = _run("ingest", "censys", str(REAL / "censys-platform-host-view.json"),
                  "--db", str(db), "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert "0 bad records" in stderr and "2 observations stored" in stderr
    assert "1 quic services" in stderr and "1 udp services" in stderr
    with Store.open(db, read_only=True) as store:
        stored = {(o.ip, o.port): o for o in store.observations()}
    assert set(stored) == {("192.0.2.44", 11434), ("192.0.2.44", 443)}  # QUIC 443 not stored
    ollama = stored[("192.0.2.44", 11434)]
    assert (ollama.product, ollama.version, str(ollama.status)) == ("ollama", "0.6.2", "identified")
    models = {m.name: m for m in ollama.models}
    assert set(models) == {"llama3.2:3b", "my-assistant:latest"}
    assert models["llama3.2:3b"].running and models["llama3.2:3b"].vram_bytes == 3276397568
    assert stored[("192.0.2.44", 443)].scheme == "https"


def test_zgrab2_readme_output_with_its_summary_line() -> None:
    result = READERS["zgrab2"](REAL / "zgrab2-readme-http.jsonl", SIGS)
    assert result.bad == [] and result.records == 2
    assert result.skipped == {"zgrab2 summary lines": 1}
    [obs] = result.observations
    assert (obs.ip, obs.port, obs.scheme) == ("23.215.0.138", 80, "http")
    assert obs.product is None  # example.com is not an AI server


def test_zgrab2_non_http_module_record_is_not_http_on_its_port() -> None:
    result = READERS["zgrab2"](REAL / "zgrab2-ssh.json", SIGS)
    assert result.bad == []
    [obs] = result.observations
    assert (obs.ip, obs.port, str(obs.status)) == ("172.17.0.3", 22, "not-http")
    assert "ssh" in (obs.error or "")


def test_masscan_ndjson_as_masscan_writes_it() -> None:
    result = READERS["masscan"](REAL / "masscan-ndjson.json", SIGS)
    assert result.bad == [] and result.records == 4
    assert result.skipped == {"icmp records": 1}
    by_port = {(o.ip, o.port): o for o in result.observations}
    assert set(by_port) == {("192.0.2.7", 11434), ("192.0.2.9", 8080)}
    assert by_port[("192.0.2.7", 11434)].product == "ollama"
    assert by_port[("192.0.2.9", 8080)].product is None


def test_masscan_xml_banners_through_ingest_masscan_and_ingest_nmap() -> None:
    for fmt in ("masscan", "nmap"):
        result = READERS[fmt](REAL / "masscan-banners.xml", SIGS)
        assert result.bad == [] and result.skipped == {"icmp records": 1}, fmt
        by_port = {(o.ip, o.port): o for o in result.observations}
        assert set(by_port) == {("192.0.2.7", 11434), ("192.0.2.9", 8080)}, fmt
        assert by_port[("192.0.2.7", 11434)].product == "ollama", fmt
        assert by_port[("192.0.2.7", 11434)].observed_at.startswith("2025-03-01T00:00:00")


def test_shodan_host_api_response(tmp_path: Path) -> None:
    summary = ingest_file(REAL / "shodan-host.json", "shodan", db=tmp_path / "s.duckdb")
    assert summary.bad_records == [] and summary.observations == 1
    assert summary.skipped == {"udp banners": 1}
    assert summary.by_product == {"ollama": 1}


def test_nmap_normal_output_open_ports_and_service_lines() -> None:
    result = READERS["nmap"](REAL / "nmap-normal.txt", SIGS)
    assert result.bad == [] and result.records == 1
    assert result.skipped == {"filtered ports": 2}
    by_port = {o.port: o for o in result.observations}
    assert set(by_port) == {22, 80, 9929}
    http = by_port[80]
    assert (http.ip, http.hostname) == ("74.207.244.221", "scanme.nmap.org")
    assert http.observed_at == "2010-11-08T05:09:59+00:00"
    markers = [e.marker for e in http.evidence]
    assert "http Apache httpd 2.2.14 ((Ubuntu))" in markers and "Go ahead and ScanMe!" in markers
    assert str(http.status) == "unidentified" and http.product is None


def test_shodan_search_page_from_the_sdk_tutorial() -> None:
    result = READERS["shodan"](REAL / "shodan-search-page.json", SIGS)
    assert result.bad == []
    [obs] = result.observations
    assert (obs.ip, obs.port, obs.hostname) == ("89.110.147.239", 80, "pl4t1n.de")
    assert obs.observed_at == "2014-01-15T05:49:56.283713"


def test_masscan_list_icmp_and_udp_lines_are_skipped_not_bad(tmp_path: Path) -> None:
    listing = tmp_path / "scan.txt"
    listing.write_text(
        "#masscan\nopen icmp 0 192.0.2.8 1740787202\nopen udp 53 192.0.2.8 1740787203\n"
        "open tcp 11434 192.0.2.8 1740787204\n# end\n"
    )
    result = READERS["masscan"](listing, SIGS)
    assert result.bad == [] and result.skipped == {"icmp records": 1, "udp records": 1}
    assert [(o.ip, o.port) for o in result.observations] == [("192.0.2.8", 11434)]
