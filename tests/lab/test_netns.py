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


def _launch(host: str, port: int, inner: int) -> subprocess.Popen[bytes]:
    server = [sys.executable, "-m", "http.server", str(inner), "--bind", "0.0.0.0"]
    argv = ["--host", host, "--port", str(port), "--inner-port", str(inner), "--wait-path", "/"]
    return subprocess.Popen(
        [sys.executable, "-m", "aicensus.lab.real.netns", *argv, "--", *server],
        cwd=os.path.dirname(__file__),
    )


def _wait_answer(host: str, port: int) -> tuple[int, bytes]:
    for _ in range(100):
        try:
            return _get(f"http://{host}:{port}/")
        except OSError:  # closed until the server inside answers /
            time.sleep(0.1)
    raise AssertionError(f"{host}:{port} never answered")


def _namespace_servers(inner: int) -> list[int]:
    """The http.server processes of this test still alive anywhere (by their command line)."""
    out = subprocess.run(["pgrep", "-f", f"http.server {inner} --bind"], capture_output=True)
    return [int(pid) for pid in out.stdout.split()]


def test_a_server_binding_every_interface_is_reached_only_through_the_forwarder() -> None:
    host = free_network().rsplit(".", 1)[0] + ".10"
    port, inner = _free_port(host), _free_port("127.0.0.1")
    proc = _launch(host, port, inner)
    try:
        status, body = _wait_answer(host, port)
        assert status == 200 and b"Directory listing" in body
        with socket.socket() as probe:  # the 0.0.0.0 bind is the namespace's, not the host's
            assert probe.connect_ex(("127.0.0.1", inner)) != 0
    finally:
        proc.terminate()
        proc.wait(10)
    with socket.socket() as probe:  # the forwarder's socket went with it
        assert probe.connect_ex((host, port)) != 0


@pytest.mark.parametrize("ending", ["sigkill", "two-sigterms"])
def test_the_namespace_ends_with_its_launcher(ending: str) -> None:
    """However the launcher ends (SIGKILL, or the relay's SIGTERM and the lab's both at once),
    nothing of the namespace outlives it: unshare ignores SIGTERM, so a launcher that died
    without killing it used to leave the server running."""
    host = free_network().rsplit(".", 1)[0] + ".11"
    port, inner = _free_port(host), _free_port("127.0.0.1")
    proc = _launch(host, port, inner)
    try:
        _wait_answer(host, port)
        assert _namespace_servers(inner)
        if ending == "sigkill":
            proc.kill()
        else:
            proc.terminate()
            time.sleep(0.01)
            proc.terminate()
        proc.wait(10)
        for _ in range(50):
            if not _namespace_servers(inner):
                break
            time.sleep(0.1)
        assert not _namespace_servers(inner)
    finally:
        for pid in _namespace_servers(inner):
            os.kill(pid, 9)


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
