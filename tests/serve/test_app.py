"""The dashboard's routes over a real store (Starlette's TestClient; no browser, no network):
content of every page, filters, paging and exports, the security headers, read-only routes,
the token and Host checks, and a store held by a writer."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from aicensus.cli.serve import serve_command
from aicensus.serve import create_app
from aicensus.serve.app import CSP
from tests.support.assess_cases import SCRIPT_NAME
from tests.support.serve_store import (
    BIDI_NAME,
    CORPUS,
    FILLER,
    FORMULA_NAME,
    IMG_NAME,
    build_store,
)

LOCAL = "http://127.0.0.1:8765"
PAGES = ("/", "/services", "/services?product=ollama&page=2", "/service?ip=1.2.3.4&port=11434",
         "/models", "/model?name=qwen2.5%3A7b", "/study", "/scans")  # fmt: skip
SERVICES = FILLER + 4  # filler + 1.2.3.4, 10.0.0.7, 192.168.1.20, 8.8.8.8


@pytest.fixture(scope="module")
def client(db: str) -> TestClient:
    return TestClient(create_app(db, background=False), base_url=LOCAL)


def _sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_every_page_answers_with_strict_headers(client: TestClient) -> None:
    for url in PAGES:
        r = client.get(url)
        assert r.status_code == 200, (url, r.text[:500])
        assert r.headers["content-security-policy"] == CSP
        assert "script-src" not in CSP and "'unsafe-inline'" not in CSP  # no script at all
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert "<script" not in r.text.lower()
        assert 'style="' not in r.text  # the CSP forbids inline style: nothing relies on it


def test_overview(client: TestClient) -> None:
    text = client.get("/").text
    totals = re.findall(r"<li><b>([\d,]+)</b> ([a-z ]+)</li>", text)
    got = {label: int(n.replace(",", "")) for n, label in totals}
    assert got["services"] == SERVICES
    assert got["hosts"] == SERVICES
    assert got["host countries"] == 2  # 1.2.3.4 (AU) and 8.8.8.8 (US); the rest are private
    assert got["products"] == 2
    assert got["observations"] == 3 + 3 + FILLER
    for label in ("hosts by country", "findings by severity", "services by product",
                  "services by model developer", "services by developer country",
                  "new hosts per day"):  # fmt: skip
        assert f'aria-label="{label}"' in text, label
    # The map colours the two host countries and no other.
    coloured = re.findall(r'fill="(#[0-9a-f]{6})" data-iso="([A-Z]*)"', text)
    assert {iso for colour, iso in coloured if colour != "#eeeeee"} == {"AU", "US"}


def test_services_filters_and_paging(client: TestClient) -> None:
    def count(query: str) -> int:
        text = client.get(f"/services?{query}").text
        m = re.search(r'<p id="count">([\d,]+) of ([\d,]+) services', text)
        assert m, text[:2000]
        assert int(m.group(2).replace(",", "")) == SERVICES
        return int(m.group(1).replace(",", ""))

    assert count("") == SERVICES
    assert count("product=llama.cpp") == 1
    assert count("product=ollama") == SERVICES - 1
    assert count("version=0.1.30") == FILLER + 1
    assert count("country=US") == 1 and count("country=AU") == 1
    assert count("auth=auth_required") == 1
    assert count("developer=Alibaba") == FILLER + 1
    # qwen everywhere, the formula model, and hostile_models (its server says CN)
    assert count("dev_country=CN") == FILLER + 3
    assert count("finding=AIC-CVE-2024-37032") == FILLER + 1  # Ollama 0.1.30 (not 0.12.6)
    assert count("q=8.8.8") == 1 and count("q=nothing-matches") == 0
    assert count("product=ollama&country=US") == 1
    page1 = client.get("/services").text
    page2 = client.get("/services?page=2").text
    assert 'id="next"' in page1 and 'id="prev"' not in page1
    assert "page 2 of 2" in page2 and 'id="prev"' in page2
    rows = lambda t: re.findall(r'<a href="/service\?ip=([^&]+)&amp;port=(\d+)"', t)  # noqa: E731
    assert len(rows(page1)) == 50 and len(rows(page2)) == SERVICES - 50
    assert not set(rows(page1)) & set(rows(page2))
    assert "page 1 of 1" in client.get("/services?page=x&product=llama.cpp").text
    by_severity = rows(client.get("/services?sort=severity&page=2").text)
    assert by_severity[-1] == ("10.0.0.7", "8080")  # its only finding is info
    by_models = rows(client.get("/services?sort=models").text)
    # four models each, the most; a tie keeps address order
    assert by_models[:2] == [("192.168.1.20", "11434"), ("8.8.8.8", "11434")]
    assert rows(client.get("/services?sort=bogus").text) == rows(page1)


def test_exports_match_the_filtered_view(client: TestClient) -> None:
    r = client.get("/services.json?dev_country=CN")
    assert r.headers["content-type"].startswith("application/json")
    doc = json.loads(r.text)
    assert doc["count"] == FILLER + 3 == len(doc["services"])
    assert doc["filters"] == {"dev_country": "CN"}
    assert all("CN" in s["developer_countries"] for s in doc["services"])
    r = client.get("/services.csv?dev_country=CN")
    assert "attachment" in r.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert len(table) == FILLER + 3
    assert {row["ip"] for row in table} == {s["ip"] for s in doc["services"]}
    hostile = next(row for row in table if row["ip"] == "8.8.8.8")
    assert FORMULA_NAME in hostile["developers"].split(";")
    # No cell starts as a spreadsheet formula; one that would is quoted.
    assert not [v for row in table for v in row.values() if v[:1] in ("=", "+", "-", "@")]
    assert "1.2.3.4" in {row["ip"] for row in table}


def test_service_page(client: TestClient) -> None:
    text = client.get("/service?ip=1.2.3.4&port=11434").text
    assert "ollama 0.1.30" in text
    timeline = text.split('id="timeline"')[1].split("</table>")[0]
    # header, the first, and the version change (also the last); the unchanged day is left out
    assert timeline.count("<tr>") == 1 + 2
    assert "2026-01-01" in timeline and "2026-01-02" not in timeline
    assert "3 observations" in text
    assert "0.1.29" in timeline and "0.1.30" in timeline
    models = text.split('id="models"')[1].split("</table>")[0]
    assert "qwen2.5:7b" in models and "Alibaba" in models and "apache-2.0" in models
    findings = text.split('id="findings"')[1].split("</table>")[0]
    assert "AIC-CVE-2024-37032" in findings and "critical" in findings
    assert "banner: Ollama is running" in text.split('id="evidence"')[1]
    assert "/api/version" in text.split('id="requests"')[1]
    assert 'aria-label="observations per day"' in text
    assert client.get("/service?ip=9.9.9.9&port=1").status_code == 404
    assert client.get("/service?ip=1.2.3.4&port=x").status_code == 404


def test_models_and_model_card(client: TestClient) -> None:
    text = client.get("/models").text
    assert "qwen2.5:7b" in text and "llama3.2-vision:11b" in text
    qwen = re.search(r"qwen2\.5:7b</a></td>(.*?)</tr>", text, re.S)
    assert qwen and f'<td class="n">{FILLER + 1}</td>' in qwen.group(1)
    assert "1 models" in client.get("/models?q=qwen").text
    card = client.get("/model?name=qwen2.5%3A7b").text
    assert "Alibaba" in card.split('id="card"')[1].split("</pre>")[0]
    served = card.split('id="served"')[1].split("</table>")[0]
    assert served.count("/service?ip=") == FILLER + 1
    alternatives = card.split('id="alternatives"')[1].split("</table>")[0]
    assert "<td" in alternatives and "(CN)" not in alternatives
    assert client.get("/model").status_code == 404


def test_study_and_scans(client: TestClient) -> None:
    study = client.get("/study").text
    assert "Your figures beside the published ones" in study
    assert 'aria-label="hosts by country (top countries)"' in study
    scans = client.get("/scans").text
    body = scans.split('id="scans"')[1].split("</table>")[0]
    assert body.count(">completed<") == 2
    assert "127.0.0.0/8" in body


class _Tags(HTMLParser):
    """Every element name and any event-handler attribute, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.handlers: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        self.handlers += [(tag, k) for k, _ in attrs if k.startswith("on")]


def test_hostile_strings_are_text_on_every_page(client: TestClient) -> None:
    urls = [*PAGES, "/service?ip=8.8.8.8&port=11434", "/services?q=8.8.8.8",
            f"/model?name={IMG_NAME}", "/model?name=" + BIDI_NAME]  # fmt: skip
    seen = set()
    for url in urls:
        text = client.get(url).text
        for payload in CORPUS:
            assert payload not in text or (payload.isprintable() and "<" not in payload), (
                url,
                payload,
            )
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]", text)
        tags = _Tags()
        tags.feed(text)
        assert tags.handlers == [] and not tags.names & {"script", "img", "style", "iframe"}
        seen.update(p for p in ("&lt;script&gt;alert(1)&lt;/script&gt;", "\\u202e", "\\x1b[31m")
                    if p in text)  # fmt: skip
    assert seen == {"&lt;script&gt;alert(1)&lt;/script&gt;", "\\u202e", "\\x1b[31m"}
    assert SCRIPT_NAME not in client.get("/scans").text  # the scan's arguments hold it too


def test_only_get_and_the_store_is_unchanged(client: TestClient, db: str) -> None:
    before = _sha(db)
    for url in ("/", "/services", "/service?ip=1.2.3.4&port=11434", "/scans", "/study"):
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert client.request(method, url).status_code == 405, (method, url)
        assert client.head(url).status_code == 200
    assert _sha(db) == before


def test_host_header_must_be_loopback(db: str) -> None:
    client = TestClient(create_app(db, background=False), base_url="http://evil.example:8765")
    assert client.get("/").status_code == 400  # DNS rebinding: a foreign name is refused
    for host, url in (("127.0.0.2", "http://127.0.0.2:1"), ("::1", "http://[::1]:1"),
                      ("::1", "http://localhost:1")):  # fmt: skip
        app = create_app(db, host=host, background=False)
        assert TestClient(app, base_url=url).get("/scans").status_code == 200, (host, url)


def test_token_on_a_public_bind(db: str) -> None:
    with pytest.raises(ValueError, match="needs a token"):
        create_app(db, host="0.0.0.0")
    client = TestClient(create_app(db, host="0.0.0.0", token="s3cret"), base_url=LOCAL)
    assert client.get("/").status_code == 401
    assert client.get("/?token=wrong").status_code == 401
    r = client.get("/services?token=s3cret&product=ollama", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/services?product=ollama"
    assert "httponly" in r.headers["set-cookie"].lower()
    assert client.get("/services?product=ollama").status_code == 200  # the cookie now
    r = client.get("/%2Fevil.example/?token=s3cret", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/evil.example/"  # same site


def test_cli_refuses_public_bind_without_token_and_bad_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(serve_command, ["--host", "0.0.0.0", "--db", "x.duckdb"])
    assert result.exit_code == 2
    assert "--token" in result.output and len(result.output.strip().splitlines()) == 1
    result = CliRunner().invoke(serve_command, ["--db", str(tmp_path / "missing.duckdb")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith("aicensus: error:")


_HOLD = """
import sys, time
from aicensus.store import Store
with Store.open(sys.argv[1]) as store:
    print("holding", flush=True)
    time.sleep(60)
"""


def _hold(db: str) -> subprocess.Popen[str]:
    """Another process with the store open for writing, as a running scan has it."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, db], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def test_store_held_by_a_writer_is_busy_then_stale_never_an_error(tmp_path: Path) -> None:
    db = build_store(tmp_path / "busy.duckdb")
    client = TestClient(create_app(db, background=False), base_url=LOCAL)
    proc = _hold(db)
    try:
        r = client.get("/")
        assert r.status_code == 503 and 'id="busy"' in r.text and r.headers["retry-after"]
        assert '<meta http-equiv="refresh"' in r.text
    finally:
        proc.kill()
        proc.wait()
    assert client.get("/").status_code == 200  # read once the writer is gone
    time.sleep(0.01)
    proc = _hold(db)  # the writer opening the file changes it: the snapshot is now stale
    try:
        Path(db).touch()
        for url in ("/", "/services", "/models"):
            r = client.get(url)
            assert r.status_code == 200, url
            assert 'id="stale"' in r.text and "store is busy" in r.text
        r = client.get("/service?ip=1.2.3.4&port=11434")  # needs a fresh read: busy, not 500
        assert r.status_code == 503 and 'id="busy"' in r.text
    finally:
        proc.kill()
        proc.wait()


def test_findings_and_geography_arrive_in_the_background(db: str) -> None:
    app = create_app(db)  # background=True: the first page does not wait for them
    client = TestClient(app, base_url=LOCAL)
    assert client.get("/").status_code == 200
    snap = app.state.dashboard.reader.current()
    assert snap.done.wait(60)
    assert snap.pending == ""
    text = client.get("/").text
    assert 'id="pending"' not in text
    assert sum(snap.severity_counts().values()) > 0 and snap.host_countries()["US"] == 1
    assert client.get("/services?finding=AIC-CVE-2024-37032").text.count("/service?ip=") == 50
    for _ in range(600):  # the study is computed in a thread too; the page reloads until then
        page = client.get("/study").text
        if 'id="computing"' not in page:
            break
        time.sleep(0.1)
    assert "Your figures beside the published ones" in page


def test_an_empty_store_is_no_error(tmp_path: Path) -> None:
    from aicensus.store import Store

    db = str(tmp_path / "empty.duckdb")
    Store.open(db).close()
    client = TestClient(create_app(db, background=False), base_url=LOCAL)
    for url in ("/", "/services", "/models", "/scans", "/study", "/services.csv"):
        r = client.get(url)
        assert r.status_code == 200, (url, r.text[:300])
    assert "0 of 0 services" in client.get("/services").text
    assert "No service matches." in client.get("/services").text


def test_aicensus_serve_serves_on_loopback(db: str) -> None:
    """The real command: `aicensus serve` in its own process, fetched over 127.0.0.1."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "aicensus", "serve", "--db", db, "--port", str(port)],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert f"http://127.0.0.1:{port}/" in line and "read-only" in line
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/scans", timeout=5) as r:
                    body = r.read().decode()
                    headers = r.headers
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("aicensus serve did not answer")
        assert "Scans and ingests" in body and headers["Content-Security-Policy"] == CSP
        assert "server" not in {k.lower() for k in headers}
    finally:
        proc.terminate()
        proc.wait(10)


def test_new_data_shows_once_the_writer_is_done(tmp_path: Path) -> None:
    from aicensus.store import Store
    from tests.support.assess_cases import open_ollama

    db = build_store(tmp_path / "grows.duckdb")
    client = TestClient(create_app(db, background=False), base_url=LOCAL)
    assert f"{SERVICES} of {SERVICES} services" in client.get("/services").text
    with Store.open(db) as store:  # a scan adds a service, then closes the store
        scan = store.begin_scan("scan", {"targets": ["9.9.9.9"]})
        store.add_observations(scan, [open_ollama(ip="9.9.9.9")])
        store.finish_scan(scan)
    text = client.get("/services").text
    assert f"{SERVICES + 1} of {SERVICES + 1} services" in text and 'id="stale"' not in text
    assert "AIC-CVE-2024-37032" in client.get("/service?ip=9.9.9.9&port=11434").text
    filtered = client.get("/services?finding=AIC-CVE-2024-37032&q=9.9.9.9").text
    assert "1 of" in filtered  # the new service was assessed for the new snapshot


def test_a_failing_study_is_a_message_not_a_page_that_computes_forever(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aicensus.report.study as study

    def broken(_db: str) -> None:
        raise RuntimeError("no figure\x1b[2J today")

    monkeypatch.setattr(study, "compute_study", broken)
    text = TestClient(create_app(db, background=False), base_url=LOCAL).get("/study").text
    error = text.split('id="study-error">')[1].split("</p>")[0]
    assert error.startswith("the study failed: RuntimeError: no figure") and "\x1b" not in error


def test_exports_stream_in_chunks_and_leave_no_file(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A download comes in several chunks (JSON rows split across them, CSV bytes likewise)
    that make up the same document; the CSV's temporary file is gone before the first."""
    import tempfile

    from aicensus.store import board

    client = TestClient(create_app(db, background=False), base_url=LOCAL)
    whole = json.loads(client.get("/services.json?sort=severity").text)
    csv_whole = client.get("/services.csv?sort=severity").text
    monkeypatch.setattr(board, "_CHUNK_ROWS", 7)
    monkeypatch.setattr(board, "_CHUNK_BYTES", 100)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with client.stream("GET", "/services.json?sort=severity") as r:
        chunks = list(r.iter_raw())
    assert len(chunks) >= SERVICES // 7
    assert json.loads(b"".join(chunks)) == whole and whole["count"] == SERVICES
    with client.stream("GET", "/services.csv?sort=severity") as r:
        chunks = list(r.iter_raw())
    assert len(chunks) > 10 and b"".join(chunks).decode() == csv_whole
    assert list(tmp_path.iterdir()) == []


def test_the_background_steps_aside_while_a_page_is_answered() -> None:
    import threading

    from aicensus.serve.reader import Pages

    pages, waited = Pages(), threading.Event()

    def background() -> None:
        pages.wait_idle()
        waited.set()

    with pages.answering():
        thread = threading.Thread(target=background)
        thread.start()
        assert not waited.wait(0.3)  # held while the page is answered
    assert waited.wait(1)  # and let go as soon as it is
    thread.join()
    pages.wait_idle()  # no page: returns at once
