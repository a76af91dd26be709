"""The lab manager: up / status / down, idempotence, state file, CLI; real llama-server."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from aicensus.cli.lab import lab_group
from aicensus.errors import LabError
from aicensus.lab import llama_server
from aicensus.lab.manager import (
    COMPONENTS,
    ComponentState,
    Lab,
    default_lab_dir,
    free_port,
    parse_only,
    process_alive,
)

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with _OPENER.open(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _component(lab: Lab, name: str) -> ComponentState:
    return lab.state().components[name]


# --------------------------------------------------------------------------- emulator only


def test_up_status_down_with_the_emulator(ollama_lab: Lab) -> None:
    comp = _component(ollama_lab, "ollama")
    assert comp.host == "127.0.0.1" and process_alive(comp)
    assert get(ollama_lab.url("ollama") + "/") == (200, b"Ollama is running")
    (row,) = [r for r in ollama_lab.status() if r.name == "ollama"]
    assert row.running and row.pid == comp.pid and row.auth == "open"

    state = json.loads(ollama_lab.state_path.read_text())
    assert state["format"] == 1
    saved = state["components"]["ollama"]
    assert saved["pid"] == comp.pid and saved["port"] == comp.port
    assert saved["request_log"].endswith("ollama-requests.jsonl")
    assert Path(saved["log"]).exists()

    assert [r["path"] for r in ollama_lab.requests()] == ["/", "/"]  # readiness probe + ours

    assert ollama_lab.down() == ["ollama"]
    assert not process_alive(comp)
    assert not any(r.running for r in ollama_lab.status())
    assert ollama_lab.state().components == {}
    assert ollama_lab.down() == []  # idempotent


def test_up_twice_starts_no_duplicate(ollama_lab: Lab) -> None:
    first = _component(ollama_lab, "ollama").pid
    again = Lab(ollama_lab.dir, only="ollama", ports=ollama_lab.ports)
    again.up()
    assert _component(ollama_lab, "ollama").pid == first


def test_dead_component_is_restarted(ollama_lab: Lab) -> None:
    comp = _component(ollama_lab, "ollama")
    os.kill(comp.pid, 9)
    deadline = time.monotonic() + 5  # SIGKILL is delivered asynchronously
    while process_alive(comp) and time.monotonic() < deadline:
        time.sleep(0.02)
    ollama_lab.up()
    assert _component(ollama_lab, "ollama").pid != comp.pid
    assert get(ollama_lab.url("ollama") + "/api/version")[0] == 200


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        lab = Lab(tmp_path / "lab", only="ollama", ports={"ollama": port})
        with pytest.raises(LabError, match="already in use"):
            lab.up()
    assert lab.state().components == {}


def test_failed_start_is_reported_and_cleaned_up(tmp_path: Path) -> None:
    lab = Lab.isolated(tmp_path / "lab", only="ollama", ollama_args=["--auth", "nonsense"])
    with pytest.raises(LabError, match="exited during start-up") as info:
        lab.up()
    assert "bad --auth" in str(info.value)  # the log tail explains why
    assert lab.state().components == {}


def test_emulator_extra_addresses_and_auth(tmp_path: Path) -> None:
    lab = Lab.isolated(
        tmp_path / "lab",
        only="ollama",
        ollama_cidr="127.78.0.0/30",
        ollama_args=["--auth", "bearer:t0k"],
    )
    with lab:
        port = lab.state().components["ollama"].port
        assert get(f"http://127.78.0.2:{port}/api/tags")[0] == 401
        status, body = get(f"http://127.78.0.2:{port}/api/tags", {"Authorization": "Bearer t0k"})
        assert status == 200 and json.loads(body)["models"]


def test_parse_only() -> None:
    assert parse_only(None) == COMPONENTS
    assert parse_only("ollama,llama-server") == COMPONENTS
    assert parse_only("llama-server-key") == ("llama-server-key",)
    assert parse_only(["ollama"]) == ("ollama",)
    with pytest.raises(LabError, match="unknown lab component"):
        parse_only("vllm")


def test_lab_dir_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AICENSUS_LAB_DIR", str(tmp_path / "x"))
    assert default_lab_dir() == tmp_path / "x"
    monkeypatch.delenv("AICENSUS_LAB_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_lab_dir() == tmp_path / "state" / "aicensus" / "lab"


def test_non_loopback_host_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="loopback"):
        Lab(tmp_path, host="0.0.0.0")


def test_cli_up_status_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AICENSUS_LAB_DIR", str(tmp_path / "lab"))
    runner = CliRunner()
    port = str(free_port())
    up = runner.invoke(lab_group, ["up", "--only", "ollama", "--ollama-port", port])
    assert up.exit_code == 0, up.output
    assert f"http://127.0.0.1:{port}" in up.output and "running" in up.output
    status = runner.invoke(lab_group, ["status", "--json"])
    rows = {r["name"]: r for r in json.loads(status.output)}
    assert rows["ollama"]["running"] and rows["ollama"]["port"] == int(port)
    assert not rows["llama-server-open"]["running"]
    down = runner.invoke(lab_group, ["down"])
    assert down.exit_code == 0 and "stopped: ollama" in down.output
    assert "nothing was running" in runner.invoke(lab_group, ["down"]).output


def test_missing_llama_binary_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AICENSUS_LLAMA_SERVER", str(tmp_path / "nope"))
    with pytest.raises(LabError, match="not an executable"):
        llama_server.find_llama_server()
    monkeypatch.delenv("AICENSUS_LLAMA_SERVER")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert llama_server.find_llama_server() is None
    with pytest.raises(LabError, match="lab setup"):
        llama_server.ensure_llama_server(build=False)


def test_llama_argv_is_small_and_loopback() -> None:
    argv = llama_server.server_argv(
        Path("/bin/llama-server"), Path("/m.gguf"), host="127.0.0.1", port=9931, api_key="k"
    )
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("-c") + 1] == "2048" and argv[argv.index("-t") + 1] == "1"
    assert argv[argv.index("--api-key") + 1] == "k"


# --------------------------------------------------------------------------- real llama-server


@pytest.mark.llama_server
def test_real_llama_servers_open_and_keyed(llama_lab: Lab) -> None:
    open_url = llama_lab.url("llama-server-open")
    key_url = llama_lab.url("llama-server-key")
    assert get(open_url + "/health") == (200, b'{"status":"ok"}')
    status, body = get(open_url + "/props")
    assert status == 200 and "default_generation_settings" in json.loads(body)

    assert get(key_url + "/health")[0] == 200
    status, body = get(key_url + "/props")
    assert status == 401
    assert json.loads(body)["error"]["message"] == "Invalid API Key"
    keyed = {"Authorization": f"Bearer {llama_server.LAB_API_KEY}"}
    assert get(key_url + "/props", keyed)[0] == 200

    key_state = llama_lab.state().components["llama-server-key"]
    assert key_state.api_key == llama_server.LAB_API_KEY
    assert key_state.host == "127.0.0.1"
