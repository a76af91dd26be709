"""Every shape read from a real file of the tool's or SDK's own repository (see real/README.md
for where each comes from)."""

from __future__ import annotations

from pathlib import Path

import msgspec
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


# masscan's four text outputs of one real scan (example.com, 2021), as ruby-masscan keeps them.
RUBY_MASSCAN = {
    "ruby-masscan-masscan.ndjson": "2021-08-28T13:15:08+00:00",  # -oD
    "ruby-masscan-masscan.json": "2021-08-26T06:50:21+00:00",  # -oJ
    "ruby-masscan-masscan.xml": "2021-08-26T06:50:54+00:00",  # -oX
    "ruby-masscan-masscan.list": "2021-08-26T06:47:50+00:00",  # -oL
}


def test_masscan_outputs_as_masscan_writes_them() -> None:
    for name, first_seen in RUBY_MASSCAN.items():
        result = READERS["masscan"](REAL / name, SIGS)
        assert result.bad == [] and result.records == 8, name
        assert result.skipped == {"icmp records": 1}, name  # the --ping reply: not a service
        by_port = {o.port: o for o in result.observations}
        assert set(by_port) == {80, 443}, name
        assert {o.ip for o in result.observations} == {"93.184.216.34"}, name
        web, tls = by_port[80], by_port[443]
        # The `http` banner (--banners sends GET /) is the response to GET /, fingerprinted.
        assert web.scheme == "http" and [(e.method, e.path, e.status) for e in web.request_log] == [
            ("GET", "/", 404)
        ], name
        assert web.observed_at == tls.observed_at == first_seen, name  # the earliest line
        # TLS banners are no HTTP response: the port stays open-only, the banners kept.
        assert tls.scheme is None and tls.request_log == [], name
        markers = [e.marker for e in tls.evidence]
        assert markers[0] == "tcp/443 open" and markers[1].startswith("ssl: TLS/1.1"), name


def test_masscan_xml_through_ingest_nmap_keeps_its_banners() -> None:
    masscan = READERS["masscan"](REAL / "ruby-masscan-masscan.xml", SIGS)
    nmap = READERS["nmap"](REAL / "ruby-masscan-masscan.xml", SIGS)
    assert msgspec.to_builtins(nmap) == msgspec.to_builtins(masscan)


def test_shodan_host_api_response(tmp_path: Path) -> None:
    """A whole /shodan/host/{ip} response as Shodan returned it (1.1.1.1, July 2023)."""
    db = tmp_path / "s.duckdb"
    summary = ingest_file(REAL / "shodan-host-1.1.1.1.json", "shodan", db=db)
    assert summary.bad_records == [] and summary.observations == 14
    assert summary.skipped == {"udp banners": 2}  # dns-udp 53, snmp 161: counted, not stored
    with Store.open(db, read_only=True) as store:
        stored = {o.port: o for o in store.observations()}
    assert 161 not in stored and {53, 80, 443, 8443} <= set(stored)
    assert str(stored[53].status) == "not-http"  # dns-tcp: a TCP service, not HTTP
    assert (stored[443].scheme, stored[80].scheme) == ("https", "http")
    assert {o.ip for o in stored.values()} == {"1.1.1.1"}
    assert stored[80].hostname == "one.one.one.one"
    assert stored[80].observed_at == "2023-07-15T08:18:47.550779"  # each banner's own time


def test_masscan_xml_as_python_masscan_keeps_it() -> None:
    """masscan -oX of a real scan (2017), with an HTML title banner, through both readers."""
    for fmt in ("masscan", "nmap"):
        result = READERS[fmt](REAL / "masscan-python-masscan.xml", SIGS)
        assert result.bad == [] and result.skipped == {}, fmt
        by_ip = {o.ip: o for o in result.observations}
        assert len(result.observations) == len(by_ip) == 11, fmt
        assert {o.port for o in result.observations} == {80}, fmt
        assert by_ip["10.0.9.9"].observed_at == "2017-03-23T04:19:34+00:00", fmt
        titled = by_ip["10.0.9.29"]
        markers = [e.marker for e in titled.evidence]
        assert "title: 401 - Unauthorized" in markers and titled.product is None, fmt
        assert all(len(o.evidence) == 1 for ip, o in by_ip.items() if ip != "10.0.9.29"), fmt


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


def test_censys_platform_host_from_the_api_docs() -> None:
    """The Platform host of docs.censys.com's get-started example: `{"resource", "extensions"}`,
    a lower-case transport protocol and a non-HTTP (CWMP) service."""
    result = READERS["censys"](REAL / "censys-platform-docs-host.json", SIGS)
    assert result.bad == [] and result.records == 1 and result.skipped == {}
    [obs] = result.observations
    assert (obs.ip, obs.port, obs.observed_at) == ("27.33.219.14", 7547, "2025-03-06T19:03:55Z")
    assert [e.marker for e in obs.evidence] == ["CWMP"] and obs.product is None


def test_zoomeye_api_v2_response_and_the_cli_save_file(tmp_path: Path) -> None:
    """The API v2 reference's /v2/search response, and the same records as `zoomeye search
    -save` writes them (a JSON array of `data`): one observation, its header an exchange."""
    for name in ("zoomeye-api-v2-search.json", "zoomeye-cli-save.json"):
        db = tmp_path / f"{name}.duckdb"
        result = _run("ingest", "zoomeye", str(REAL / name), "--db", str(db), "--format", "json")
        assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
        assert "0 bad records" in result.stderr  # type: ignore[attr-defined]
        with Store.open(db, read_only=True) as store:
            [obs] = list(store.observations())
        assert (obs.ip, obs.port, obs.scheme, obs.hostname) == (
            "1.1.1.1",
            443,
            "https",
            "www.google.com",
        ), name
        assert obs.observed_at == "2024-07-03T14:34:10" and obs.source == "zoomeye", name
        assert str(obs.status) == "unidentified" and obs.product is None, name


def test_zoomeye_records_without_http_and_over_udp(tmp_path: Path) -> None:
    """Field names as the API v2 reference gives them; a record with no `header` keeps
    ZoomEye's labels, a UDP one is counted, not stored, and a bad one is named."""
    lines = [
        '{"ip": "192.0.2.5", "port": 22, "protocol": "tcp", "service": "ssh", '
        '"product": "OpenSSH", "update_time": "2024-07-03T14:34:10"}',
        '{"ip": "192.0.2.5", "port": 53, "protocol": "udp", "service": "dns", '
        '"update_time": "2024-07-03T14:34:10"}',
        '{"ip": "192.0.2.5", "port": 0, "protocol": "tcp", "update_time": "2024-07-03T14:34:10"}',
    ]
    path = tmp_path / "z.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = READERS["zoomeye"](path, SIGS)
    assert result.skipped == {"udp records": 1}
    assert [(b.line, b.reason) for b in result.bad] == [(3, "bad port '0'")]
    [obs] = result.observations
    assert (obs.port, str(obs.status)) == (22, "not-http")
    assert [e.marker for e in obs.evidence] == ["ssh OpenSSH"]


def test_censys_platform_host_as_the_api_returned_it() -> None:
    """A Platform get-host response for 1.1.1.1 captured from the real API (2026): DNS over UDP
    and QUIC on 443 are counted, not stored; the HTTP service's endpoint response is kept; a
    service with no scan time is a bad record that says so, its host's others kept."""
    result = READERS["censys"](REAL / "censys-platform-host-1.1.1.1.json", SIGS)
    assert result.records == 1
    assert result.skipped == {"udp services": 1, "quic services": 1}
    assert [b.reason for b in result.bad] == [
        "1.1.1.1 service 3: no scan_time (nor observed_at, nor the host's last_updated_at)"
    ]
    [obs] = result.observations
    assert (obs.ip, obs.port, obs.scheme) == ("1.1.1.1", 80, "http")
    assert obs.observed_at == "2026-04-10T00:44:26Z"
    assert [(e.method, e.path, e.status) for e in obs.request_log] == [("GET", "/", 301)]
