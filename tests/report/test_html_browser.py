"""The HTML report opened in a real headless Chromium (Debian `chromium`, driven by Playwright).

`aicensus report --format html --policy no-cn.yaml -o report.html` is written from a real store,
served over HTTP on 127.0.0.1, and loaded in Chromium: no console or page errors, the findings
table, the hosts' models and provenance, the inline SVG charts, the models the policy denies
(card summary and alternatives), and server-provided text (script and img payloads, ANSI
escapes, control characters) shown as text with no script of the data run.

Chromium is required, not optional: `scripts/test` installs it (apt-get) when missing, and CI
runs that. The test fails with a clear message when it is absent.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from aicensus.assess import assess
from aicensus.cli.report import report_command
from aicensus.records import (
    AuthState,
    Evidence,
    ModelRecord,
    RequestLogEntry,
    ScanStatus,
    ServiceObservation,
)
from aicensus.store import Store
from tests.support.assess_cases import (
    FAKE_KEY,
    SCRIPT_NAME,
    hostile_models,
    keyed_llamacpp,
    open_ollama,
)
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS

IMG_NAME = '<img src=x onerror="window.__pwned=1;alert(2)">'
ANSI_NAME = "\x1b[31mred-model\x1b[0m:latest"
CONTROL_NAME = "ctl\x00\x07\x08\x7f\u202eevil:7b"
ATTR_DEVELOPER = '" onmouseover="window.__pwned=1" x="'
STYLE_LICENCE = "</td></tr></table><style>body{display:none}</style>"


def xss_ollama(ip: str = "127.0.0.9") -> ServiceObservation:
    """Open Ollama whose model names and metadata carry markup and terminal escapes."""
    log = [
        RequestLogEntry(method=m, path=p, status=s, bytes=10, ms=1.0)
        for m, p, s in (("GET", "/", 200), ("GET", "/api/tags", 200), ("HEAD", "/api/pull", 405))
    ]
    return ServiceObservation(
        ip=ip,
        port=11434,
        scheme="http",
        status=ScanStatus.IDENTIFIED,
        product="ollama",
        version="0.12.6<b>bold</b>",
        auth=AuthState.OPEN,
        models=[
            ModelRecord(name=IMG_NAME, capabilities=["completion", "tools"]),
            ModelRecord(name=ANSI_NAME, developer=ATTR_DEVELOPER, licence=STYLE_LICENCE),
            ModelRecord(name=CONTROL_NAME, developer="Meta", country="US"),
        ],
        auth_evidence=[Evidence(kind="auth", probe="GET /api/tags", marker="status 200 → open")],
        request_log=log,
    )


def _need_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the HTML report is tested in headless Chromium. Install it "
            "with `apt-get install -y chromium chromium-driver` (scripts/test does this when run "
            "as root), or point AICENSUS_CHROMIUM at a Chromium binary.",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """report.html written by the CLI from a store holding the test services."""
    root = tmp_path_factory.mktemp("html-report")
    db = str(root / "scan.duckdb")
    with Store.open(db) as store:
        scan = store.begin_scan("scan", {"targets": ["127.0.0.1"]})
        store.add_observations(scan, [open_ollama(), keyed_llamacpp(), hostile_models(),
                                      xss_ollama()])  # fmt: skip
        store.finish_scan(scan)
    policy = root / "no-cn.yaml"  # denies qwen2.5:7b (open_ollama) and SCRIPT_NAME (hostile)
    policy.write_text("name: no-cn-models\ncountries: {deny: [CN], include_base: true}\n")
    out = root / "site" / "report.html"
    out.parent.mkdir()
    result = CliRunner().invoke(
        report_command, ["--db", db, "--format", "html", "--policy", str(policy), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def served(report_file: Path) -> Iterator[str]:
    """The report's folder over HTTP on 127.0.0.1 (an OS-chosen free port)."""
    handler = functools.partial(
        _QuietHandler, directory=str(report_file.parent)
    )  # serves only that folder
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/{report_file.name}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class Loaded:
    """What the browser saw while loading the page once."""

    def __init__(self) -> None:
        self.console: list[tuple[str, str]] = []
        self.page_errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.pwned: object = None
        self.page = None


@pytest.fixture(scope="module")
def browser_page(served: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    _need_chromium()
    from playwright.sync_api import sync_playwright  # the `test` extra; a missing one fails

    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh user-data dir
    seen = Loaded()
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = context.new_page()
            page.on("console", lambda m: seen.console.append((m.type, m.text)))
            page.on("pageerror", lambda e: seen.page_errors.append(str(e)))

            def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
                seen.dialogs.append(f"{dialog.type}: {dialog.message}")
                dialog.dismiss()

            page.on("dialog", on_dialog)
            page.on("request", lambda r: seen.requests.append(r.url))
            response = page.goto(served, wait_until="load")
            assert response is not None and response.status == 200
            page.wait_for_timeout(300)  # let any (unexpected) deferred handler fire
            # An injected handler would run on these: real hovers over the hostile cells, and
            # synthetic mouse and focus events on every element of the page.
            for payload in (IMG_NAME, ATTR_DEVELOPER.strip(), SCRIPT_NAME):
                shown = page.get_by_text(payload)
                if shown.count() and shown.first.is_visible():  # else the assertions fail
                    shown.first.hover(timeout=5_000)
            page.evaluate(
                """() => document.querySelectorAll('*').forEach(el => {
                    for (const t of ['mouseover', 'mouseenter', 'click', 'focus', 'load'])
                        el.dispatchEvent(new Event(t, {bubbles: true}));
                })"""
            )
            seen.pwned = page.evaluate("() => window.__pwned")
            seen.page = page
            yield seen
        finally:
            context.close()


def test_chromium_is_installed() -> None:
    _need_chromium()
    assert os.access(CHROMIUM, os.X_OK) or shutil.which(str(CHROMIUM))


def test_page_loads_without_errors(browser_page: Loaded, served: str) -> None:
    errors = [text for kind, text in browser_page.console if kind in ("error", "warning")]
    assert errors == [], errors
    assert browser_page.page_errors == []
    assert browser_page.page.title() == "aicensus report"
    # Offline: the document is the only request (no CDN, no favicon, nothing external).
    assert browser_page.requests == [served]


def test_findings_table_lists_every_finding(browser_page: Loaded) -> None:
    page = browser_page.page
    table = page.locator("table#findings")
    assert table.count() == 1
    headers = table.locator("th").all_inner_texts()
    assert headers[:3] == ["Severity", "ID", "Service"]
    expected = sum(len(assess(o)) for o in (open_ollama(), keyed_llamacpp(), hostile_models(),
                                            xss_ollama()))  # fmt: skip
    rows = table.locator("tbody tr")
    assert rows.count() == expected
    assert rows.first.locator("td").first.inner_text().strip() == "critical"
    text = table.inner_text()
    assert "AIC-OLLAMA-UNAUTH-MGMT" in text and "AIC-TEMPLATE-CODE-EXEC" in text
    assert "HEAD /api/pull → 405" in text  # the route-existence proof, shown as evidence
    assert FAKE_KEY not in page.content()


def test_hosts_models_and_provenance(browser_page: Loaded) -> None:
    page = browser_page.page
    hosts = page.locator("section.host")
    assert hosts.count() == 4
    ollama = hosts.filter(has_text="http://1.2.3.4:11434/")
    assert ollama.count() == 1
    qwen = ollama.locator("tr", has_text="qwen2.5:7b")
    assert [c.strip() for c in qwen.locator("td").all_inner_texts()[:4]] == [
        "qwen2.5:7b", "Alibaba", "CN", "apache-2.0"
    ]  # fmt: skip
    vision = ollama.locator("tr", has_text="llama3.2-vision:11b").inner_text()
    assert "Meta" in vision and "US" in vision and "vision" in vision
    assert "auth: open" in ollama.inner_text()
    keyed = hosts.filter(has_text="http://10.0.0.7:8080/").inner_text()
    assert "auth: auth_required" in keyed
    assert "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf" in keyed


def test_server_text_is_shown_as_text_and_never_runs(browser_page: Loaded) -> None:
    page = browser_page.page
    assert browser_page.dialogs == []
    assert browser_page.pwned is None
    counts = page.evaluate(
        """() => ({
            scripts: document.querySelectorAll('script').length,
            imgs: document.querySelectorAll('img').length,
            styles: document.querySelectorAll('style').length,
            handlers: [...document.querySelectorAll('*')].filter(
                el => [...el.attributes].some(a => a.name.startsWith('on'))).length,
            bold: document.querySelectorAll('b').length,
        })"""
    )
    assert counts["scripts"] == 0 and counts["imgs"] == 0 and counts["handlers"] == 0
    assert counts["styles"] == 1  # the report's own stylesheet only
    # The payloads are visible, literally, as text.
    for payload in (SCRIPT_NAME, IMG_NAME, ATTR_DEVELOPER.strip(), STYLE_LICENCE):
        assert page.get_by_text(payload, exact=False).count() >= 1, payload
    assert page.get_by_text("0.12.6<b>bold</b>").count() >= 1
    body = page.locator("body")
    assert body.is_visible()
    text = body.inner_text()
    # Terminal escapes and control characters are shown as visible escapes, never raw.
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]", text)
    assert "\\x1b[31mred-model\\x1b[0m:latest" in text
    assert "ctl\\x00\\x07\\x08\\x7f\\u202eevil:7b" in text


def test_denied_models_section(browser_page: Loaded) -> None:
    page = browser_page.page
    heading = page.locator("h2#denied")
    assert heading.count() == 1 and heading.inner_text() == "Models your policy denies"
    assert heading.is_visible()
    blocks = page.locator("section.denied")
    assert blocks.count() == 2
    qwen = blocks.filter(has=page.locator("h3", has_text="qwen2.5:7b"))
    assert qwen.count() == 1
    assert "on 1.2.3.4:11434 (ollama)" in qwen.locator("h3").inner_text()
    assert "countries.deny" in qwen.locator("ul.why").inner_text()
    card = {
        row.locator("th").inner_text().strip(): row.locator("td").inner_text().strip()
        for row in qwen.locator("table.card tr").all()
    }
    assert card["Developer"] == "Alibaba (CN)"
    assert "Alibaba" in card["Legal entity"]
    assert card["Licence"].startswith("Apache-2.0 (permissive)")
    assert "https://ollama.com/library/qwen2.5" in card["Sources"]
    assert "excluding CN" in qwen.locator("h4", has_text="Alternatives").inner_text()
    rows = qwen.locator("table.alternatives tbody tr")
    assert 1 <= rows.count() <= 3
    for i in range(rows.count()):
        cells = [c.strip() for c in rows.nth(i).locator("td").all_inner_texts()]
        assert cells[0] == str(i + 1) and cells[1] and cells[5]  # name and reason
        assert not cells[2].endswith("(CN)"), cells
    # The hostile model name is denied too (its server says CN): shown as text, never markup.
    hostile = blocks.filter(has_text="alert(1)")
    assert hostile.count() == 1
    assert hostile.locator("h3").inner_text().startswith(SCRIPT_NAME)
    assert hostile.locator("script, img, style, [onerror], [onclick]").count() == 0
    assert "unknown" in hostile.locator("table.card").inner_text()
    assert hostile.locator("table.alternatives").count() == 0
    # Models the policy allows (Meta, US) are not in the section.
    assert blocks.filter(has_text="llama3.2-vision:11b").count() == 0
    assert "2 models denied" in page.locator("p.muted").first.inner_text()


def test_charts_are_inline_svg(browser_page: Loaded) -> None:
    page = browser_page.page
    charts = page.locator("svg[role=img]")
    assert charts.count() >= 2
    labels = [charts.nth(i).get_attribute("aria-label") for i in range(charts.count())]
    assert "findings by severity" in labels
    assert "models by developer country" in labels
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 40
        assert charts.nth(i).locator("rect").count() >= 1
    severity = page.locator("svg[aria-label='findings by severity']")
    assert severity.locator("text", has_text="critical").count() == 1


def test_screenshot(browser_page: Loaded, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    browser_page.page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    keep = os.environ.get("AICENSUS_REPORT_SCREENSHOT")
    if keep:  # for a human look: AICENSUS_REPORT_SCREENSHOT=/tmp/report.png pytest ...
        shutil.copyfile(shot, keep)
