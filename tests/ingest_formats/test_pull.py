"""`aicensus ingest censys|shodan --query`: the real SDKs against a loopback server (127.0.0.1)
that replays recorded API responses (real/pull/, see real/README.md). Never the real services."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner

from aicensus.cli import app
from aicensus.ingest.files import ingest_file
from aicensus.ingest.pull import PullError, pull
from aicensus.store import Store

pytest.importorskip("shodan", reason="the [pull] extra (shodan) is part of the test extra")
pytest.importorskip("censys_platform", reason="the [pull] extra is part of the test extra")

PAGES = Path(__file__).parent / "real" / "pull"
TOKENS = {"": 1, "AAAAAQ-page-2": 2, "AAAAAg-page-3": 3}


class Replay(BaseHTTPRequestHandler):
    credits: ClassVar[int | None] = None  # query_credits reported by /api-info
    fail_pages: ClassVar[set[int]] = set()
    served: ClassVar[list[tuple[str, int]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-RateLimit-Remaining", "9")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # Shodan
        url = urlparse(self.path)
        args = parse_qs(url.query)
        assert args.get("key") == ["test-key"]
        if url.path == "/api-info":
            info = json.loads((PAGES / "shodan-api-info.json").read_text())
            if self.credits is not None:
                info["query_credits"] = self.credits
            self._send(200, info)
            return
        assert url.path == "/shodan/host/search"
        number = int(args["page"][0])
        self._page("shodan", number, f"shodan-search-page-{number}.json")

    def do_POST(self) -> None:  # Censys Platform
        assert self.path.startswith("/v3/global/search/query")
        assert self.headers["Authorization"] == "Bearer test-key"
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        number = TOKENS[body.get("page_token", "")]
        self._page("censys", number, f"censys-search-page-{number}.json")

    def _page(self, engine: str, number: int, name: str) -> None:
        if number in self.fail_pages:
            self.fail_pages.discard(number)
            self._send(400, {"error": "simulated failure", "code": 400, "status": "Bad Request"})
            return
        self.served.append((engine, number))
        self._send(200, json.loads((PAGES / name).read_text()))


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    Replay.fail_pages, Replay.served, Replay.credits = set(), [], None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Replay)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _stored(db: Path) -> list[tuple[str, int, str]]:
    with Store.open(db, read_only=True) as store:
        return sorted((o.ip, o.port, str(o.observed_at)) for o in store.observations())


@pytest.mark.parametrize("engine", ["shodan", "censys"])
def test_interrupted_pull_resumes_without_counting_a_page_twice(
    engine: str, server: str, tmp_path: Path
) -> None:
    opts = {"key": "test-key", "base_url": server, "per_second": 100.0}
    whole = pull(engine, "product:ollama", db=tmp_path / "whole.duckdb",
                 save_pages=tmp_path / "p1", **opts)  # fmt: skip
    assert whole.pages == 3 and whole.observations > 0

    Replay.served.clear()
    Replay.fail_pages = {3}
    db = tmp_path / "resumed.duckdb"
    with pytest.raises(PullError, match="API"):
        pull(engine, "product:ollama", db=db, save_pages=tmp_path / "p2", **opts)
    assert Replay.served == [(engine, 1), (engine, 2)]
    resumed = pull(engine, "product:ollama", db=db, save_pages=tmp_path / "p2", **opts)
    assert Replay.served == [(engine, 1), (engine, 2), (engine, 3)]  # 1 and 2 not fetched again
    assert (resumed.resumed_pages, resumed.pages) == (2, 1)
    assert resumed.duplicates == 0
    assert _stored(db) == _stored(tmp_path / "whole.duckdb")  # the same as one whole pull
    if engine == "shodan":
        assert resumed.credits.get("query_credits") == 100

    # The saved pages are files `ingest` reads again: into a fresh store, the same data.
    saved = sorted(Path(resumed.pages_dir).glob("page-*.json"))
    assert [p.name for p in saved] == ["page-0001.json", "page-0002.json", "page-0003.json"]
    for page in saved:
        assert ingest_file(page, engine, db=tmp_path / "fresh.duckdb").unusable is None
    assert _stored(tmp_path / "fresh.duckdb") == _stored(db)


def test_a_finished_query_pulled_again_is_a_new_run(server: str, tmp_path: Path) -> None:
    opts = {"key": "test-key", "base_url": server, "per_second": 100.0}
    db = tmp_path / "s.duckdb"
    first = pull("shodan", "q", db=db, save_pages=tmp_path / "p", **opts)
    second = pull("shodan", "q", db=db, save_pages=tmp_path / "p", **opts)
    assert (first.run, second.run) == (1, 2)
    assert second.pages == 3 and second.observations == 0  # all already stored


def test_cli_pull_and_no_key(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SHODAN_API_KEY", "CENSYS_API_KEY", "CENSYS_PLATFORM_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    app._register()
    runner = CliRunner()
    db = str(tmp_path / "c.duckdb")
    result = runner.invoke(app.cli, ["ingest", "censys", "--query", "q", "--db", db])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "CENSYS_API_KEY" in result.stderr
    key = tmp_path / "key"
    key.write_text("test-key\n")
    result = runner.invoke(app.cli, [
        "ingest", "censys", "--query", "q", "--db", db, "--key-file", str(key),
        "--api-url", server, "--save-pages", str(tmp_path / "pages"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 pages" in result.stderr and "x-ratelimit-remaining: 9" in result.stderr.lower()
    assert len(_stored(Path(db))) > 0


def test_shodan_pull_stops_when_credits_run_out_and_resumes(server: str, tmp_path: Path) -> None:
    opts = {"key": "test-key", "base_url": server, "per_second": 100.0}
    db = tmp_path / "s.duckdb"
    Replay.credits = 2
    with pytest.raises(PullError, match="no shodan query credits left"):
        pull("shodan", "q", db=db, save_pages=tmp_path / "p", **opts)
    assert Replay.served == [("shodan", 1), ("shodan", 2)]  # page 3 not asked for
    Replay.credits = 100
    resumed = pull("shodan", "q", db=db, save_pages=tmp_path / "p", **opts)
    assert (resumed.resumed_pages, resumed.pages) == (2, 1)
    assert Replay.served[-1] == ("shodan", 3)


def test_censys_resume_without_the_saved_pages_walks_the_cursors_again(
    server: str, tmp_path: Path
) -> None:
    opts = {"key": "test-key", "base_url": server, "per_second": 100.0}
    whole = tmp_path / "whole.duckdb"
    pull("censys", "q", db=whole, save_pages=tmp_path / "p1", **opts)
    Replay.served.clear()
    Replay.fail_pages = {3}
    db = tmp_path / "s.duckdb"
    with pytest.raises(PullError):
        pull("censys", "q", db=db, save_pages=tmp_path / "p2", **opts)
    for page in (tmp_path / "p2").rglob("page-*.json"):
        page.unlink()  # the cursor of page 3 is gone with page 2's file
    Replay.served.clear()
    resumed = pull("censys", "q", db=db, save_pages=tmp_path / "p2", **opts)
    assert Replay.served == [("censys", 1), ("censys", 2), ("censys", 3)]
    assert (resumed.pages, resumed.observations, resumed.duplicates) == (1, 4, 0)  # 2 hosts × 2
    assert _stored(db) == _stored(whole)
