"""lab/real/netns.py against a real server that binds every interface: the host sees only the
forwarder on its loopback address, and the server's 0.0.0.0 socket stays in the namespace.
Needs root (unshare --net and setns), as the lab's Ray and Milvus do."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.support.lab import free_network

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as resp:
        return resp.status, resp.read()


def test_a_server_binding_every_interface_is_reached_only_through_the_forwarder() -> None:
    host = free_network().rsplit(".", 1)[0] + ".10"
    port, inner = _free_port(host), _free_port("127.0.0.1")
    server = [sys.executable, "-m", "http.server", str(inner), "--bind", "0.0.0.0"]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aicensus.lab.real.netns",
            "--host",
            host,
            "--port",
            str(port),
            "--inner-port",
            str(inner),
            "--wait-path",
            "/",
            "--",
            *server,
        ],
        cwd=os.path.dirname(__file__),
    )
    try:
        status = 0
        for _ in range(100):
            try:
                status, body = _get(f"http://{host}:{port}/")
                break
            except OSError:  # closed until the server inside answers /
                time.sleep(0.1)
        assert status == 200 and b"Directory listing" in body
        with socket.socket() as probe:  # the 0.0.0.0 bind is the namespace's, not the host's
            assert probe.connect_ex(("127.0.0.1", inner)) != 0
    finally:
        proc.terminate()
        proc.wait(10)
    with socket.socket() as probe:  # the forwarder's socket went with it
        assert probe.connect_ex((host, port)) != 0


def test_a_non_loopback_address_is_refused() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aicensus.lab.real.netns",
            "--host",
            "0.0.0.0",
            "--port",
            "1",
            "--inner-port",
            "2",
            "--",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0 and "not a loopback address" in done.stderr
