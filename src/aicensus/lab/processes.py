"""The lab's processes and their records: state.json's entries, starting, liveness (with a
guard against pid reuse), stopping, and readiness checks. Loopback only."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from aicensus.errors import LabError

STATE_FORMAT = 1


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS just reported free on `host` (loopback)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def url_of(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def check_loopback(host: str) -> str:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise LabError(f"lab host {host!r} is not an IP address literal") from None
    if not addr.is_loopback:
        raise LabError(f"refusing to run the lab on {host}: loopback addresses only")
    return str(addr)


# --------------------------------------------------------------------------- records


@dataclass
class ComponentState:
    """One started process as recorded in state.json."""

    name: str
    kind: str
    pid: int
    host: str
    port: int
    url: str
    argv: list[str]
    log: str
    started_at: str
    health: str
    request_log: str | None = None
    ready_file: str | None = None
    api_key: str | None = None
    health_any: bool = False  # ready once the health path answers anything (relayed servers)
    services: list[str] = field(default_factory=list)  # --all lab: the services it serves

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ComponentState:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})  # type: ignore[arg-type]


@dataclass
class ComponentStatus:
    """What `lab status` reports for one component."""

    name: str
    running: bool
    url: str
    port: int
    pid: int | None = None
    auth: str = "open"
    api_key: str | None = None
    log: str | None = None
    request_log: str | None = None
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class StartFailure:
    """A component `up` could not start (the --all lab's real products: the rest run on)."""

    name: str
    reason: str  # one line
    log: str  # its log, for the whole story
    at: str = ""

    def line(self) -> str:
        return f"{self.reason} (log: {self.log})"

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> StartFailure:
        return cls(**{k: str(v) for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class LabState:
    components: dict[str, ComponentState] = field(default_factory=dict)
    failed: dict[str, StartFailure] = field(default_factory=dict)  # not running, and why

    def to_json(self, lab_dir: Path) -> str:
        data = {
            "format": STATE_FORMAT,
            "lab_dir": str(lab_dir),
            "updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "components": {n: asdict(c) for n, c in self.components.items()},
            "failed": {n: asdict(f) for n, f in self.failed.items()},
        }
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LabState:
        data = json.loads(text)
        data = data if isinstance(data, dict) else {}
        comps = data.get("components", {})
        failed = data.get("failed", {})
        return cls(
            {n: ComponentState.from_dict(c) for n, c in comps.items()},
            {n: StartFailure.from_dict(f) for n, f in failed.items()},
        )


# --------------------------------------------------------------------------- processes


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]


# Popen objects of the processes this interpreter started, so they can be reaped.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _reap(pid: int) -> None:
    proc = _CHILDREN.get(pid)
    if proc is not None:
        if proc.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [p.decode(errors="replace") for p in raw.split(b"\0") if p]


def process_alive(comp: ComponentState) -> bool:
    """True if the recorded pid still runs the recorded program (guards against pid reuse)."""
    _reap(comp.pid)
    try:
        os.kill(comp.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    if _proc_state(comp.pid) in ("Z", "X"):
        return False
    cmd = _cmdline(comp.pid)
    # No /proc: trust the pid. An empty command line of a live process is one caught inside
    # execve (the kernel shows none while it swaps the image in): it is starting, not gone.
    if not cmd:
        return True
    same_program = Path(cmd[0]).name == Path(comp.argv[0]).name
    return same_program and str(comp.port) in cmd


def _signal(comp: ComponentState, sig: signal.Signals) -> None:
    """Signal the component's own process group (it leads one: start_new_session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(comp.pid) == comp.pid:
            os.killpg(comp.pid, sig)
        else:
            os.kill(comp.pid, sig)


def stop_process(comp: ComponentState, timeout: float = 5.0) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL."""
    if not process_alive(comp):
        return
    _signal(comp, signal.SIGTERM)
    if _wait_dead(comp, timeout):
        return
    _signal(comp, signal.SIGKILL)
    _wait_dead(comp, 2.0)


def _wait_dead(comp: ComponentState, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(comp):
            return True
        time.sleep(0.05)
    return not process_alive(comp)


# Never route lab health checks through an environment proxy: they go to loopback only.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """The HTTP status a GET of `url` gets (None if nothing answers)."""
    try:
        with _OPENER.open(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def busy(host: str, port: int, grace: float) -> bool:
    """True if something still accepts on host:port after `grace` seconds (a process
    that was just stopped may hold its socket for a moment)."""
    deadline = time.monotonic() + grace
    while port_in_use(host, port):
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.1)
    return False


def log_tail(path: str, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def answers(comp: ComponentState, url: str) -> bool:
    """llama-server: /health says 200. Emulator: ready file written and the port answers
    (any status: behind --auth everything is 401)."""
    status = http_status(url)
    if comp.ready_file is not None:
        return Path(comp.ready_file).exists() and status is not None
    if comp.health_any:
        return status is not None
    return status == 200


def spawn(comp: ComponentState, cwd: Path, extra_env: Mapping[str, str] | None = None) -> None:
    """Start the component's argv detached (own session), output to its log; sets its pid."""
    env = {**os.environ, **(extra_env or {})}
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    with open(comp.log, "ab") as log:
        proc = subprocess.Popen(
            comp.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            cwd=cwd,
            env=env,
        )
    comp.pid = proc.pid
    _CHILDREN[proc.pid] = proc
