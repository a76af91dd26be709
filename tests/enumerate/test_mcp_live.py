"""MCP enumeration against the official `mcp` SDK's own server, on 127.0.0.1.

The server (tests/support/mcp_server.py) records every request it receives; each test asserts
that the scanner sent only GET/HEAD and the MCP listing calls, never tools/call and friends.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from aicensus import api
from aicensus.engine.readonly import READ_ONLY_POSTS
from aicensus.records import AuthState, ScanStatus, ServiceObservation
from tests.support.loopback import free_port

SERVER = Path(__file__).resolve().parents[1] / "support" / "mcp_server.py"
LISTING = {"initialize", "notifications/initialized", "tools/list", "resources/list",
           "prompts/list"}  # fmt: skip


class Running:
    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log

    def requests(self) -> list[dict[str, str | None]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def mcp_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Running]:
    transport, path, token = request.param
    port, log = free_port(), tmp_path / "requests.jsonl"
    argv = [sys.executable, str(SERVER), "--port", str(port), "--transport", transport,
            "--path", path, "--log", str(log)] + (["--token", token] if token else [])  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait(port, proc)
        log.write_text("")  # only the scan's requests from here on
        yield Running(port, log)
    finally:
        proc.terminate()
        proc.wait(10)


def _wait(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ready-check", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            assert time.monotonic() < deadline, "MCP test server did not start"
            time.sleep(0.1)


def scan(port: int) -> ServiceObservation:
    found: list[ServiceObservation] = []
    api.scan(api.plan_targets(["127.0.0.1"], ports=str(port)), on_observation=found.append)
    (obs,) = found
    return obs


def assert_only_listing_calls(server: Running) -> list[str]:
    seen = server.requests()
    assert seen, "the server saw no request"
    for req in seen:
        if req["http"] == "POST" and req["rpc"] is not None:
            assert req["rpc"] in LISTING, req
        elif req["http"] == "POST":  # another product's allow-listed read-only POST
            assert req["path"] in READ_ONLY_POSTS, req
        else:
            assert req["http"] in ("GET", "HEAD"), req
    return [str(r["rpc"]) for r in seen if r["rpc"] is not None]


@pytest.mark.parametrize(
    "mcp_server", [("streamable-http", "/mcp", None), ("streamable-http", "/", None)],
    indirect=True, ids=["at-mcp", "at-root"],
)  # fmt: skip
def test_streamable_http_server_is_named_and_listed(mcp_server: Running) -> None:
    obs = scan(mcp_server.port)
    assert obs.status is ScanStatus.IDENTIFIED and obs.product == "mcp", obs.evidence
    inv = obs.mcp
    assert inv is not None, obs.error
    assert inv.transport == "streamable-http"
    assert (inv.server_name, inv.server_version) == ("census-test-mcp", "3.1.4")
    assert obs.version == "3.1.4" and obs.auth is AuthState.OPEN
    tools = {t.name: t for t in inv.tools}
    assert set(tools) == {"run_shell", "write_file", "fetch_url", "add"}
    assert "exec" in tools["run_shell"].risks
    assert tools["run_shell"].hints == ["destructive", "open-world"]  # its own annotations
    assert "file-write" in tools["write_file"].risks
    assert "fetch" in tools["fetch_url"].risks
    assert tools["add"].risks == [] and tools["add"].parameters == ["a", "b"]
    assert [r.uri for r in inv.resources] == ["notes://readme"]
    assert [(p.name, p.arguments) for p in inv.prompts] == [("summarize", ["topic"])]
    assert {t.name for t in inv.flagged()} == {"run_shell", "write_file", "fetch_url"}
    calls = assert_only_listing_calls(mcp_server)
    assert {"initialize", "tools/list", "resources/list", "prompts/list"} <= set(calls)
    assert "tools/call" not in calls


@pytest.mark.parametrize("mcp_server", [("streamable-http", "/mcp", "s3cret")], indirect=True)
def test_bearer_protected_server_is_auth_required_with_its_metadata(mcp_server: Running) -> None:
    obs = scan(mcp_server.port)
    assert obs.product == "mcp" and obs.auth is AuthState.AUTH_REQUIRED
    inv = obs.mcp
    assert inv is not None and inv.auth_required and inv.tools == []
    assert inv.resource_metadata is not None
    assert inv.resource_metadata.endswith("/.well-known/oauth-protected-resource/mcp")
    assert inv.authorization_servers == ["http://127.0.0.1:9/"]
    assert inv.scopes == ["mcp"]
    calls = assert_only_listing_calls(mcp_server)
    assert calls == ["initialize"]  # refused at once: nothing listed without the token


def _cli(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "aicensus", *args], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("mcp_server", [("streamable-http", "/mcp", None)], indirect=True)
def test_cli_json_carries_the_inventory_and_the_table_the_flagged_tools(
    mcp_server: Running,
) -> None:
    port = str(mcp_server.port)
    (doc,) = json.loads(_cli("scan", "127.0.0.1", "--ports", port, "--format", "json", "--no-db"))
    inv = doc["mcp"]
    assert inv["server_name"] == "census-test-mcp" and inv["server_version"] == "3.1.4"
    risky = {t["name"]: t["risks"] for t in inv["tools"] if t["risks"]}
    assert risky == {"run_shell": ["exec"], "write_file": ["file-write"], "fetch_url": ["fetch"]}
    table = _cli("scan", "127.0.0.1", "--ports", port, "--no-db")
    assert "4 tools (3 flagged), 1 resources, 1 prompts" in table
    flagged = [line.split() for line in table.splitlines() if line.strip().startswith("tool ")]
    assert sorted((f[1], f[2]) for f in flagged) == [
        ("fetch_url", "fetch"), ("run_shell", "exec"), ("write_file", "file-write"),
    ]  # fmt: skip
    assert "tools/call" not in assert_only_listing_calls(mcp_server)


@pytest.mark.parametrize("mcp_server", [("sse", "/sse", None)], indirect=True)
def test_legacy_sse_server_is_named_and_listed_over_its_stream(mcp_server: Running) -> None:
    obs = scan(mcp_server.port)
    assert obs.product == "mcp" and obs.auth is AuthState.OPEN, obs.error
    inv = obs.mcp
    assert inv is not None and inv.transport == "sse" and inv.endpoint == "/sse", obs.error
    assert (inv.server_name, inv.server_version) == ("census-test-mcp", "3.1.4")
    assert {t.name: t.risks for t in inv.tools} == {
        "run_shell": ["exec"], "write_file": ["file-write"], "fetch_url": ["fetch"], "add": [],
    }  # fmt: skip
    assert [r.uri for r in inv.resources] == ["notes://readme"]
    assert [p.name for p in inv.prompts] == ["summarize"]
    calls = assert_only_listing_calls(mcp_server)
    assert {"initialize", "tools/list", "resources/list", "prompts/list"} <= set(calls)


@pytest.mark.parametrize("mcp_server", [("sse", "/sse", "s3cret")], indirect=True)
def test_bearer_protected_sse_server_is_auth_required(mcp_server: Running) -> None:
    obs = scan(mcp_server.port)
    assert obs.product == "mcp" and obs.auth is AuthState.AUTH_REQUIRED
    inv = obs.mcp
    assert inv is not None and inv.transport == "sse" and inv.auth_required
    assert (
        inv.resource_metadata and "/.well-known/oauth-protected-resource" in inv.resource_metadata
    )
    assert inv.authorization_servers == ["http://127.0.0.1:9/"]
    assert inv.tools == [] and "tools/list" not in assert_only_listing_calls(mcp_server)
