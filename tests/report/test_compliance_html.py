"""The compliance report's HTML (`aicensus report compliance --format html`): the project's
server-side SVG charts (report/charts.py) — violations per pack, verdicts, violating services
by model developer country (bars and world map), violations per stored scan — in one offline
file with server-provided text escaped, checked as text and in headless Chromium."""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from aicensus import api
from aicensus.cli.app import _register, cli
from aicensus.records import AuthState, ModelRecord, ScanStatus, ServiceObservation
from aicensus.store import Store
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS, need_chromium

PACKS = ["us-ny-deepseek-2025", "countries-of-concern", "no-unauthenticated-servers"]
SCRIPT_NAME = "<script>window.__pwned=1</script>:7b"
HOSTILE_COUNTRY = '"><svg onload="window.__pwned=1">'
CONTROL_NAME = "deepseek\u202eevil\x1b[2J:1b"


def _ollama(ip: str, when: str, models: list[ModelRecord], auth: AuthState) -> ServiceObservation:
    return ServiceObservation(
        ip=ip, port=11434, scheme="http", status=ScanStatus.IDENTIFIED, product="ollama",
        version="0.12.6", confidence=1.0, auth=auth, models=models, observed_at=when,
    )  # fmt: skip


def _mistral() -> ModelRecord:
    return ModelRecord(
        name="ministral-3:8b", developer="Mistral AI", country="FR", attribution_confidence=0.95
    )


def _deepseek(name: str = "deepseek-r1:7b", country: str = "CN") -> ModelRecord:
    return ModelRecord(
        name=name, developer="DeepSeek", country=country, attribution_confidence=0.95
    )


def make_store(path: Path) -> str:
    """Three scans: a Western model behind auth; then DeepSeek on an open server; then also a
    DeepSeek model whose name and country a hostile server made markup."""
    scans = [
        ("2025-01-10T08:00:00+00:00", [_ollama("127.0.0.1", "", [_mistral()],
                                               AuthState.AUTH_REQUIRED)]),
        ("2025-02-10T08:00:00+00:00", [_ollama("127.0.0.1", "", [_mistral()],
                                               AuthState.AUTH_REQUIRED),
                                       _ollama("127.0.0.2", "", [_deepseek()], AuthState.OPEN)]),
        ("2025-03-01T08:00:00+00:00", [_ollama("127.0.0.1", "", [_mistral()],
                                               AuthState.AUTH_REQUIRED),
                                       _ollama("127.0.0.2", "", [_deepseek()], AuthState.OPEN),
                                       _ollama("127.0.0.3", "", [
                                           _deepseek(SCRIPT_NAME, HOSTILE_COUNTRY),
                                           _deepseek(CONTROL_NAME)], AuthState.AUTH_REQUIRED)]),
    ]  # fmt: skip
    db = str(path)
    with Store.open(db) as store:
        for when, observations in scans:
            scan = store.begin_scan("scan", {"targets": ["127.0.0.0/24"]})
            for obs in observations:
                obs.observed_at = when
            store.add_observations(scan, observations)
            store.finish_scan(scan)
    return db


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_store(tmp_path_factory.mktemp("compliance-html") / "s.duckdb")


@pytest.fixture(scope="module")
def report_file(db: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compliance-site") / "compliance.html"
    args = ["report", "compliance", "--db", db, "--format", "html", "-o", str(out)]
    _register()  # what `main` does before parsing (idempotent)
    res = CliRunner().invoke(cli, [*args, *(a for p in PACKS for a in ("--pack", p))])
    assert res.exit_code == 1, res.output  # violations found
    return out


def test_trend_counts_each_scans_violations(db: str) -> None:
    report = api.compliance_report(PACKS, db=db)
    trend = [(t.started_at[:4], t.services, t.violations) for t in report.trend]
    assert [t[1] for t in trend] == [1, 2, 3]
    ny = [t[2]["us-ny-deepseek-2025"] for t in trend]
    auth = [t[2]["no-unauthenticated-servers"] for t in trend]
    assert ny == [0, 1, 3] and auth == [0, 1, 1]
    first = api.render_compliance(report, "text").splitlines()[1]
    assert first.startswith("Violations per stored scan: scan 1 (") and first.endswith(" 6")
    doc = json.loads(api.render_compliance(report, "json"))
    assert [t["violations"]["us-ny-deepseek-2025"] for t in doc["trend"]] == [0, 1, 3]


def test_html_has_the_charts_with_the_reports_numbers(report_file: Path) -> None:
    page = report_file.read_text()
    svgs = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    labels = [re.search(r'aria-label="([^"]*)"', s).group(1) for s in svgs]  # type: ignore[union-attr]
    assert labels == [
        "Violations per pack",
        "Verdicts, all packs",
        "Violating services by model developer country",
        "Violating services by model developer country",  # the world map
        "Violations per scan (all selected packs)",
    ]
    per_pack = svgs[0]
    assert "<title>us-ny-deepseek-2025: 3</title>" in per_pack
    assert "<title>no-unauthenticated-servers: 1</title>" in per_pack
    countries = svgs[2]
    assert "<title>CN: 2</title>" in countries  # 127.0.0.2 and 127.0.0.3 (distinct services)
    assert 'data-iso="CN"' in svgs[3] and "China (CN): 2 violating services" in svgs[3]
    trend = svgs[4]
    assert [int(n) for n in re.findall(r"scan \d+: (\d+)</title>", trend)] == [0, 3, 6]


def test_html_escapes_hostile_names_and_loads_nothing(report_file: Path) -> None:
    page = report_file.read_text()
    assert "<script" not in page.lower() and "onload=" not in page.replace("onload=&quot;", "")
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;svg onload=&quot;window.__pwned=1&quot;&gt;" in page  # country label
    assert "\u202e" not in page and "\x1b" not in page and "\\u202e" in page
    head = page.split("<body>")[0]
    assert "Content-Security-Policy" in head and "default-src 'none'" in head
    assert not re.search(r"\ssrc=", page)  # nothing to load: no img, script or frame sources
    hrefs = re.findall(r'href="([^"]*)"|href=\'([^\']*)\'', page)
    assert all(a.startswith(("https://", "#", "data:")) or b.startswith(("#", "data:"))
               for a, b in hrefs)  # fmt: skip


def test_a_pack_source_that_is_not_http_is_not_a_link(db: str) -> None:
    report = api.compliance_report(["us-ny-deepseek-2025"], db=db)
    report.packs[0].source = "javascript:alert(1)"
    page = api.render_compliance(report, "html")
    assert 'href="javascript' not in page and "javascript:alert(1)" in page


# ---------------------------------------------------------------- in a browser


@pytest.fixture(scope="module")
def served(report_file: Path) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(report_file.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/{report_file.name}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_chromium_renders_the_charts_offline_and_runs_nothing(served: str, tmp_path: Path) -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    console: list[tuple[str, str]] = []
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        try:
            page = context.new_page()
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            response = page.goto(served, wait_until="load")
            assert response is not None and response.status == 200
            page.evaluate(
                """() => document.querySelectorAll('*').forEach(el => {
                    for (const t of ['mouseover', 'click', 'focus', 'load'])
                        el.dispatchEvent(new Event(t, {bubbles: true}));
                })"""
            )
            page.wait_for_timeout(200)
            assert page.evaluate("() => window.__pwned") is None
            assert page.title() == "aicensus compliance report"
            boxes = page.evaluate(
                "() => [...document.querySelectorAll('svg')].map(s => {"
                " const r = s.getBoundingClientRect(); return [r.width, r.height]; })"
            )
            assert len(boxes) == 5 and all(w > 100 and h > 20 for w, h in boxes), boxes
            bars = page.evaluate("() => document.querySelectorAll('svg rect').length")
            assert bars >= 10
            shown = page.inner_text("body")
            assert "<script>window.__pwned=1</script>:7b" in shown  # the name, as text
        finally:
            context.close()
    assert [t for kind, t in console if kind in ("error", "warning")] == []
    assert errors == []
    assert requests == [served]  # the document only: no CDN, no favicon, nothing external


def test_trend_stays_within_its_scan_and_service_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from aicensus.report import compliance
    from aicensus.store import ScanInfo

    def scan(i: int, identified: int) -> ScanInfo:
        return ScanInfo(scan_id=i, kind="scan", started_at=datetime.now(UTC), finished_at=None,
                        args={}, tool_version="x", status="completed",
                        counts={"identified": identified})  # fmt: skip

    scans = [scan(i, 100) for i in range(1, 101)]
    assert compliance._judged(scans) == set(range(41, 101))  # the latest 60
    monkeypatch.setattr(compliance, "TREND_SERVICES", 250)
    assert compliance._judged(scans) == {99, 100}  # a third would pass 250 services
    assert compliance._judged([scan(1, 10_000)]) == {1}  # the newest is always judged
