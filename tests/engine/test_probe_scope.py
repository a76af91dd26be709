"""--probe-scope: every product's probes (the default) or only those listed for the port.

The Ollama emulator answers on 127.0.0.77 at a random port, which no signature lists, and a
plain `http.server` on 127.0.0.78 stands for a web server that is no AI product.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from aicensus import api
from aicensus.engine.config import EngineConfig
from aicensus.records import ScanStatus, ServiceObservation


@pytest.fixture(scope="module")
def emulator_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    ready = tmp_path_factory.mktemp("scope") / "ready.json"
    argv = [sys.executable, "-m", "aicensus.lab.emulators.ollama", "--cidr", "127.0.0.77/32",
            "--port", "0", "--ready-file", str(ready), "--quiet"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.1)
        yield int(json.loads(ready.read_text())["port"])
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def plain_port() -> Iterator[int]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.78", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def scan(ip: str, port: int, scope: str) -> ServiceObservation:
    found: list[ServiceObservation] = []
    api.scan(
        api.plan_targets([ip], ports=str(port)),
        config=EngineConfig(probe_scope=scope),  # type: ignore[arg-type]
        on_observation=found.append,
    )
    (obs,) = found
    return obs


def test_port_scope_still_identifies_what_the_root_page_reveals(emulator_port: int) -> None:
    # No signature lists this port, but GET / ("Ollama is running") points at Ollama, whose
    # own probes then confirm it: both scopes identify it with the same requests.
    wide = scan("127.0.0.77", emulator_port, "all")
    narrow = scan("127.0.0.77", emulator_port, "port")
    for obs in (wide, narrow):
        assert obs.status is ScanStatus.IDENTIFIED and obs.product == "ollama" and obs.models
    assert _paths(narrow) == _paths(wide)


def _paths(obs: ServiceObservation) -> list[str]:
    return sorted("(canary)" if "aicensus-canary-" in e.path else e.path for e in obs.request_log)


def test_port_scope_sends_one_request_to_a_service_nothing_lists(plain_port: int) -> None:
    # GET / only: nothing matched, so a canary could not change the verdict and is not sent.
    wide = scan("127.0.0.78", plain_port, "all")
    narrow = scan("127.0.0.78", plain_port, "port")
    assert wide.status is narrow.status is ScanStatus.UNIDENTIFIED
    assert [e.path for e in narrow.request_log] == ["/"]
    assert len(wide.request_log) > 40
