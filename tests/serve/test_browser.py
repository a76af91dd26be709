"""The dashboard in a real headless Chromium (Debian `chromium`, driven by Playwright), served by
uvicorn on 127.0.0.1: every page through its navigation, every services filter, search, paging,
the exports, a service and a model, with no console error, no request that leaves the server,
and the hostile-name corpus shown as text with nothing of it run.

AICENSUS_DASHBOARD_SCREENSHOTS=DIR keeps a screenshot of each page (docs/img/ has them).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from aicensus.serve import create_app
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS, need_chromium
from tests.support.serve_store import ATTR_DEVELOPER, CORPUS, FILLER, IMG_NAME

SERVICES = FILLER + 4


@pytest.fixture(scope="module")
def base_url(db: str) -> Iterator[str]:
    with socket.socket() as s:  # a free loopback port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(db, background=False), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class Seen:
    def __init__(self) -> None:
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []


@pytest.fixture(scope="module")
def browser(base_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Seen]]:
    need_chromium()
    from playwright.sync_api import sync_playwright

    seen = Seen()
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1360, "height": 1000},
            accept_downloads=True,
        )
        try:
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.on("console", lambda m: seen.console.append((m.type, m.text)))
            page.on("pageerror", lambda e: seen.errors.append(str(e)))
            page.on("request", lambda r: seen.requests.append(r.url))

            def on_dialog(dialog: Any) -> None:
                seen.dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", on_dialog)
            yield page, seen
        finally:
            context.close()


def _shot(page: Any, name: str) -> None:
    keep = os.environ.get("AICENSUS_DASHBOARD_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        height = min(page.evaluate("document.documentElement.scrollHeight"), 1800)
        page.screenshot(
            path=str(Path(keep) / f"dashboard-{name}.png"),
            full_page=True,
            clip={"x": 0, "y": 0, "width": 1360, "height": height},
        )


def _clean(seen: Seen) -> None:
    bad = [t for kind, t in seen.console if kind in ("error", "warning")]
    assert bad == [] and seen.errors == [] and seen.dialogs == []


def _count(page: Any) -> int:
    m = re.match(r"([\d,]+) of ([\d,]+) services", page.locator("#count").inner_text())
    assert m and int(m.group(2).replace(",", "")) == SERVICES
    return int(m.group(1).replace(",", ""))


def test_overview_and_navigation(browser: tuple[Any, Seen], base_url: str) -> None:
    page, seen = browser
    page.goto(base_url + "/")
    assert page.title() == "Overview · aicensus"
    assert "services" in page.locator("#totals").inner_text()
    world = page.locator("svg[aria-label='hosts by country']")
    assert world.is_visible() and world.bounding_box()["width"] > 500
    assert world.locator("path[data-iso='US']").get_attribute("fill") != "#eeeeee"
    assert world.locator("path[data-iso='FR']").get_attribute("fill") == "#eeeeee"
    for label in ("findings by severity", "services by product", "new hosts per day"):
        assert page.locator(f"svg[aria-label='{label}'] rect").count() >= 1, label
    _shot(page, "overview")
    for link, title in (("Services", "Services"), ("Models", "Models"), ("Study", "Study"),
                        ("Scans and ingests", "Scans and ingests"), ("Overview", "Overview")):  # fmt: skip
        page.locator("header nav a", has_text=link).first.click()
        page.wait_for_load_state("load")
        assert page.title() == f"{title} · aicensus", link
        assert page.locator("h1").first.is_visible()
    _clean(seen)


def test_every_services_filter(browser: tuple[Any, Seen], base_url: str) -> None:
    page, seen = browser
    page.goto(base_url + "/services")
    assert _count(page) == SERVICES and page.locator("#services tbody tr").count() == 50
    _shot(page, "services")
    selects = page.locator("#filters select")
    names = [selects.nth(i).get_attribute("name") for i in range(selects.count())]
    assert names == ["product", "version", "country", "as", "auth", "finding", "developer",
                     "dev_country", "sort"]  # fmt: skip
    names.remove("sort")
    for name in names:
        page.goto(base_url + "/services")
        options = page.locator(f"#filters select[name='{name}'] option")
        assert options.count() >= 2, name  # "any" and at least one value
        label = options.nth(options.count() - 1).inner_text()  # the least common value
        value = options.nth(options.count() - 1).get_attribute("value")
        expected = int(re.search(r"\(([\d,]+)\)$", label).group(1).replace(",", ""))
        page.select_option(f"#filters select[name='{name}']", value)
        page.locator("#filters button[type=submit]").click()
        page.wait_for_load_state("load")
        assert _count(page) == expected, (name, value)
        shown = min(expected, 50)
        assert page.locator("#services tbody tr").count() == shown, (name, value)
        assert page.locator(f"#filters select[name='{name}']").input_value() == value
    page.goto(base_url + "/services")
    page.select_option("#sort", "severity")  # the auth_required llama.cpp (info only) goes last
    page.locator("#filters button[type=submit]").click()
    page.wait_for_load_state("load")
    page.locator("#next").click()
    page.wait_for_load_state("load")
    last = page.locator("#services tbody tr").last.locator("td").all_inner_texts()
    assert last[0] == "10.0.0.7:8080" and last[8].startswith("info")
    assert page.locator("#sort").input_value() == "severity"  # kept across pages
    page.goto(base_url + "/services")
    page.fill("#filters input[name=q]", "8.8.8.8")
    page.locator("#filters button[type=submit]").click()
    page.wait_for_load_state("load")
    assert _count(page) == 1
    page.locator("#filters a", has_text="clear").click()
    page.wait_for_load_state("load")
    assert _count(page) == SERVICES
    _clean(seen)


def test_paging_and_exports(browser: tuple[Any, Seen], base_url: str) -> None:
    page, seen = browser
    page.goto(base_url + "/services?product=ollama")
    first = page.locator("#services tbody tr td:first-child").all_inner_texts()
    page.locator("#next").click()
    page.wait_for_load_state("load")
    assert "page 2 of 2" in page.locator("#pager").inner_text()
    second = page.locator("#services tbody tr td:first-child").all_inner_texts()
    assert len(first) == 50 and len(second) == SERVICES - 1 - 50 and not set(first) & set(second)
    page.locator("#prev").click()
    page.wait_for_load_state("load")
    assert page.locator("#services tbody tr td:first-child").all_inner_texts() == first
    for link, kind in (("#csv", "csv"), ("#json", "json")):
        with page.expect_download() as info:
            page.locator(link).click()
        download = info.value
        assert download.suggested_filename == f"aicensus-services.{kind}"
        text = Path(download.path()).read_text()
        assert text.count("127.0.1.") == FILLER and "10.0.0.7" not in text  # the filtered view
    _clean(seen)


def test_service_and_model_pages(browser: tuple[Any, Seen], base_url: str) -> None:
    page, seen = browser
    page.goto(base_url + "/services?q=1.2.3.4")
    page.locator("#services a", has_text="1.2.3.4:11434").click()
    page.wait_for_load_state("load")
    assert page.locator("h1#service").inner_text() == "1.2.3.4:11434"
    assert page.locator("#timeline tbody tr").count() == 2
    assert page.locator("svg[aria-label='observations per day'] rect").count() == 3
    qwen = page.locator("#models tr", has_text="qwen2.5:7b")
    assert [c.strip() for c in qwen.locator("td").all_inner_texts()[:4]] == [
        "qwen2.5:7b", "Alibaba", "CN", "apache-2.0"]  # fmt: skip
    assert page.locator("#findings tbody tr", has_text="AIC-CVE-2024-37032").count() == 1
    assert page.locator("#requests tbody tr").count() == 4
    _shot(page, "service")
    qwen.locator("a").click()
    page.wait_for_load_state("load")
    assert page.locator("h1#model").inner_text() == "qwen2.5:7b"
    assert "Alibaba" in page.locator("#card").inner_text()
    assert page.locator("#served tbody tr").count() == FILLER + 1
    alternatives = page.locator("#alternatives tbody tr")
    assert alternatives.count() >= 1
    for i in range(alternatives.count()):
        assert "(CN)" not in alternatives.nth(i).inner_text()
    _shot(page, "model")
    page.goto(base_url + "/models")
    assert page.locator("#models tbody tr").count() >= 8
    _shot(page, "models")
    page.fill("#model-search input[name=q]", "qwen")
    page.locator("#model-search button").click()
    page.wait_for_load_state("load")
    assert page.locator("#models tbody tr").count() == 1
    _clean(seen)


def test_study_and_scans_pages(browser: tuple[Any, Seen], base_url: str) -> None:
    page, seen = browser
    page.goto(base_url + "/study")
    assert page.locator("#study #comparison").count() == 1
    assert page.locator("#study svg").count() >= 5
    assert page.locator("svg[aria-label='hosts by country (top countries)']").is_visible()
    _shot(page, "study")
    page.goto(base_url + "/scans")
    assert page.locator("#scans tbody tr").count() == 2
    _shot(page, "scans")
    _clean(seen)


def test_hostile_corpus_is_text_everywhere(browser: tuple[Any, Seen], base_url: str) -> None:
    page, seen = browser
    urls = ["/", "/services", "/services?q=8.8.8.8", "/service?ip=8.8.8.8&port=11434",
            "/service?ip=192.168.1.20&port=11434", "/models", "/scans", "/study",
            f"/model?name={IMG_NAME}"]  # fmt: skip
    for url in urls:
        page.goto(base_url + url)
        for payload in (IMG_NAME, ATTR_DEVELOPER.strip()):
            shown = page.get_by_text(payload, exact=False)
            if shown.count() and shown.first.is_visible():
                shown.first.hover()
        page.evaluate(
            """() => document.querySelectorAll('*').forEach(el => {
                for (const t of ['mouseover', 'mouseenter', 'click', 'focus', 'load', 'error'])
                    el.dispatchEvent(new Event(t, {bubbles: true}));
            })"""
        )
        counts = page.evaluate(
            """() => ({
                pwned: window.__pwned === undefined ? null : window.__pwned,
                scripts: document.querySelectorAll('script').length,
                imgs: document.querySelectorAll('img').length,
                styles: document.querySelectorAll('style').length,
                bold: [...document.querySelectorAll('b')].filter(b => b.textContent === 'bold').length,
                handlers: [...document.querySelectorAll('*')].filter(
                    el => [...el.attributes].some(a => a.name.startsWith('on'))).length,
            })"""
        )
        assert counts == {"pwned": None, "scripts": 0, "imgs": 0, "styles": 0, "bold": 0,
                          "handlers": 0}, (url, counts)  # fmt: skip
        text = page.locator("body").inner_text()
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]", text)
    page.goto(base_url + "/service?ip=8.8.8.8&port=11434")
    _shot(page, "hostile-service")
    text = page.locator("body").inner_text()
    assert IMG_NAME in text and "0.12.6<b>bold</b>" in text
    assert "\\x1b[31mred-model\\x1b[0m:latest" in text and "evil\\u202egnp.exe:7b" in text
    assert sum(p in page.content() for p in CORPUS) <= len(CORPUS)
    _clean(seen)


def test_nothing_left_the_server(browser: tuple[Any, Seen], base_url: str) -> None:
    _page, seen = browser
    assert seen.requests, "the other tests ran first"
    outside = [u for u in seen.requests if not u.startswith(base_url + "/")]
    assert outside == []
    assert shutil.which(str(CHROMIUM)) or CHROMIUM.exists()
