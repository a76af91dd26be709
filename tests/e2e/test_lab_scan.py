"""Acceptance, as a new user would try it: lab up, then scan it from the CLI.

The lab runs the real llama.cpp llama-server (open and --api-key) and the Ollama emulator on
loopback ports the OS reports free; the scan is the real `aicensus scan` command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aicensus.engine import readonly
from aicensus.lab import llama_server
from aicensus.lab.manager import Lab
from aicensus.store import Store

COMPONENTS = ("llama-server-open", "llama-server-key", "ollama")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if llama_server.find_llama_server() is None and not llama_server.llama_server_required():
        pytest.skip("llama-server not built (run `aicensus lab setup`); CI requires it")
    lab = Lab.isolated(tmp_path_factory.mktemp("lab"), only="all")
    with lab:
        yield lab


@pytest.fixture(scope="module")
def scan_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("db") / "scan.duckdb"


@pytest.fixture(scope="module")
def scanned(lab: Lab, scan_db: Path) -> dict[str, dict]:
    ports = {name: int(lab.url(name).rsplit(":", 1)[1]) for name in COMPONENTS}
    db = scan_db
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "aicensus",
            "scan",
            "127.0.0.1",
            "--ports",
            ",".join(map(str, ports.values())),
            "--format",
            "jsonl",
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert proc.returncode == 0, proc.stderr
    services = [json.loads(line) for line in proc.stdout.splitlines()]
    by_port = {s["port"]: s for s in services}
    return {name: by_port[port] for name, port in ports.items() if port in by_port}


def test_open_llama_server_is_llama_cpp_with_smollm2(scanned: dict[str, dict]) -> None:
    svc = scanned["llama-server-open"]
    assert svc["product"] == "llama.cpp"
    assert svc["auth"] == "open"
    assert svc["version"] and svc["version"].startswith("b")
    (model,) = svc["models"]
    assert "SmolLM2-135M" in model["name"]
    assert model["quantization"] == "Q4_1"
    assert model["parameter_size"] == "135M"
    assert 130_000_000 < model["parameter_count"] < 140_000_000
    assert model["chat_template"]["length"] > 0


def test_keyed_llama_server_requires_auth(scanned: dict[str, dict]) -> None:
    svc = scanned["llama-server-key"]
    assert svc["product"] == "llama.cpp"
    assert svc["auth"] == "auth_required"
    assert any("401" in ev["marker"] for ev in svc["auth_evidence"])


def test_ollama_emulator_models_capabilities_and_running(scanned: dict[str, dict]) -> None:
    svc = scanned["ollama"]
    assert svc["product"] == "ollama"
    assert svc["auth"] == "open"
    assert svc["version"]
    models = {m["name"]: m for m in svc["models"]}
    assert {"qwen3:8b", "gemma3:4b", "llama3.1:8b", "nomic-embed-text:latest"} <= set(models)
    assert {"tools", "thinking"} <= set(models["qwen3:8b"]["capabilities"])
    assert "vision" in models["gemma3:4b"]["capabilities"]
    assert "embedding" in models["nomic-embed-text:latest"]["capabilities"]
    assert models["qwen3:8b"]["running"] is True
    assert models["gemma3:4b"]["running"] is False
    assert models["qwen3:8b"]["developer"] == "Alibaba"
    assert models["qwen3:8b"]["country"] == "CN"


def _allowed(method: str, path: str, body: str, component: str) -> bool:
    """engine/readonly.py's judge of a received request: a GET or HEAD to a write route is a
    violation too (only the allow-listed route-existence HEADs pass), and a POST must be on
    the allowlist, with its body, to the product that defines it."""
    if method == "GET" and any(w in path for w in ("/slots", "/lora")):
        return False  # llama.cpp: the scanner only ever HEADs these (slot prompts are private)
    return readonly.received_violation(method, path, body, product=component) is None


def test_lab_servers_received_only_read_only_requests(lab: Lab, scanned: dict[str, dict]) -> None:
    """From the servers' own request logs, not from the scanner's."""
    for name in COMPONENTS:
        received = lab.requests(name)
        assert len(received) >= 3, f"{name} logged {len(received)} requests"
        bad = [
            r
            for r in received
            if not _allowed(str(r["method"]), str(r["path"]), str(r.get("body") or ""), name)
        ]
        assert bad == [], f"{name} received non-allow-listed requests: {bad}"
    shows = [r for r in lab.requests("ollama") if r["method"] == "POST"]
    assert shows, "the Ollama emulator should have been asked /api/show"


def test_scan_is_stored_with_its_request_log(scanned: dict[str, dict], scan_db: Path) -> None:
    assert set(scanned) == set(COMPONENTS)
    with Store.open(scan_db, read_only=True) as store:
        (info,) = store.scans()
        stored = {(o.port, o.product, str(o.auth)) for o in store.observations(info.scan_id)}
        logs = [o.request_log for o in store.observations(info.scan_id)]
    assert stored == {(s["port"], s["product"], s["auth"]) for s in scanned.values()}
    assert info.status == "completed"
    assert all(log and log[0].path == "/" for log in logs)
