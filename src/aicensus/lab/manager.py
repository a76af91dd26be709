"""Start, stop and inspect the lab: real servers and emulators on loopback addresses.

    with Lab.isolated(tmp_path, only=["ollama"]) as lab:   # free ports, own state dir
        url = lab.url("ollama")
        ...
        assert not [r for r in lab.requests("ollama") if r["refused"]]

Components (defaults; every one binds 127.0.0.1 only):

    ollama             Ollama emulator                 11434
    llama-server-open  llama.cpp llama-server, open    8080
    llama-server-key   llama.cpp llama-server --api-key aicensus-lab-key   9931

`llama-server` (or `llama`) selects both llama.cpp components, `all` everything.
Processes run detached (own session); their pids, ports, logs and request logs are
recorded in `<lab dir>/state.json`; the lab dir is `$AICENSUS_LAB_DIR`, else
`$XDG_STATE_HOME/aicensus/lab`, else `~/.local/state/aicensus/lab`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType

from aicensus.errors import LabError
from aicensus.lab import llama_server
from aicensus.lab.emulators.common import read_request_log

STATE_FORMAT = 1
COMPONENTS: tuple[str, ...] = ("llama-server-open", "llama-server-key", "ollama")
ALIASES: dict[str, tuple[str, ...]] = {
    "llama-server": ("llama-server-open", "llama-server-key"),
    "llama": ("llama-server-open", "llama-server-key"),
    "all": COMPONENTS,
}
DEFAULT_PORTS: dict[str, int] = {
    "llama-server-open": 8080,
    "llama-server-key": 9931,
    "ollama": 11434,
}
KINDS: dict[str, str] = {
    "llama-server-open": "llama-server",
    "llama-server-key": "llama-server",
    "ollama": "ollama-emulator",
}
HEALTH_PATHS: dict[str, str] = {"llama-server": "/health", "ollama-emulator": "/"}
EMULATOR_MODULE = "aicensus.lab.emulators.ollama"


def default_lab_dir() -> Path:
    override = os.environ.get("AICENSUS_LAB_DIR")
    if override:
        return Path(override).expanduser()
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "aicensus" / "lab"


def parse_only(only: str | Iterable[str] | None) -> tuple[str, ...]:
    """Component names from `--only` (comma list or iterable, aliases allowed), in lab order."""
    if only is None:
        return COMPONENTS
    items = only.split(",") if isinstance(only, str) else list(only)
    chosen: set[str] = set()
    for raw in items:
        name = raw.strip()
        if not name:
            continue
        if name in ALIASES:
            chosen.update(ALIASES[name])
        elif name in COMPONENTS:
            chosen.add(name)
        else:
            known = ", ".join([*COMPONENTS, *ALIASES])
            raise LabError(f"unknown lab component {name!r} (known: {known})")
    return tuple(c for c in COMPONENTS if c in chosen)


RELAY_MODULE = "aicensus.lab.relay"


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS just reported free on `host` (loopback)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _check_loopback(host: str) -> str:
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
class LabState:
    components: dict[str, ComponentState] = field(default_factory=dict)

    def to_json(self, lab_dir: Path) -> str:
        data = {
            "format": STATE_FORMAT,
            "lab_dir": str(lab_dir),
            "updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "components": {n: asdict(c) for n, c in self.components.items()},
        }
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LabState:
        data = json.loads(text)
        comps = data.get("components", {}) if isinstance(data, dict) else {}
        return cls({n: ComponentState.from_dict(c) for n, c in comps.items()})


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
    if cmd is None:  # no /proc: trust the pid
        return True
    same_program = bool(cmd) and Path(cmd[0]).name == Path(comp.argv[0]).name
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


def _busy(host: str, port: int, grace: float) -> bool:
    """True if something still accepts on host:port after `grace` seconds (a process
    that was just stopped may hold its socket for a moment)."""
    deadline = time.monotonic() + grace
    while port_in_use(host, port):
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.1)
    return False


def _log_tail(path: str, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _answers(comp: ComponentState, url: str) -> bool:
    """llama-server: /health says 200. Emulator: ready file written and the port answers
    (any status: behind --auth everything is 401)."""
    status = http_status(url)
    if comp.ready_file is not None:
        return Path(comp.ready_file).exists() and status is not None
    if comp.health_any:
        return status is not None
    return status == 200


# --------------------------------------------------------------------------- the lab


class Lab:
    """The lab in one state directory. A context manager: `up()` on entry, `down()` on exit."""

    def __init__(
        self,
        lab_dir: str | os.PathLike[str] | None = None,
        *,
        only: str | Iterable[str] | None = None,
        ports: Mapping[str, int] | None = None,
        host: str = "127.0.0.1",
        api_key: str = llama_server.LAB_API_KEY,
        llama_server_binary: str | os.PathLike[str] | None = None,
        model: str | os.PathLike[str] | None = None,
        build: bool = True,
        ollama_cidr: str | None = None,
        ollama_args: Sequence[str] = (),
        startup_timeout: float = 120.0,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.dir = Path(lab_dir) if lab_dir is not None else default_lab_dir()
        self.only = parse_only(only)
        self.ports = {**DEFAULT_PORTS, **(ports or {})}
        self.host = _check_loopback(host)
        self.api_key = api_key
        self.binary = Path(llama_server_binary) if llama_server_binary else None
        self.model = Path(model) if model else None
        self.build = build
        self.ollama_cidr = ollama_cidr
        self.ollama_args = list(ollama_args)
        self.startup_timeout = startup_timeout
        self.echo = echo or (lambda _msg: None)

    @classmethod
    def isolated(
        cls,
        lab_dir: str | os.PathLike[str],
        *,
        only: str | Iterable[str] | None = None,
        **kw: object,
    ) -> Lab:
        """A lab in its own state dir on ports the OS reports free (for tests)."""
        host = str(kw.get("host", "127.0.0.1"))
        ports = {name: free_port(host) for name in parse_only(only)}
        return cls(lab_dir, only=only, ports=ports, **kw)  # type: ignore[arg-type]

    # ---- paths and state
    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    def _load(self) -> LabState:
        try:
            return LabState.from_json(self.state_path.read_text())
        except FileNotFoundError:
            return LabState()
        except (ValueError, TypeError) as exc:
            raise LabError(f"{self.state_path} is not a lab state file ({exc})") from None

    def _save(self, state: LabState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name("state.json.tmp")
        tmp.write_text(state.to_json(self.dir))
        tmp.replace(self.state_path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def state(self) -> LabState:
        return self._load()

    # ---- public operations
    def up(self) -> list[ComponentStatus]:
        """Start every selected component that is not already running; wait until each answers."""
        with self._locked():
            state = self._load()
            started: list[ComponentState] = []
            try:
                for name in self.only:
                    if not self._running(name, state):
                        started.append(self._start(name, state))
                        self._save(state)
                for i, comp in enumerate(started):
                    started[i] = self._ready_or_retry(comp, state)
            except BaseException:
                self._abort(started, state)
                raise
            self._save(state)
        return self.status()

    def _ready_or_retry(self, comp: ComponentState, state: LabState) -> ComponentState:
        """Wait for a component; restart it once if it died starting.

        A private port chosen free can be taken by another process before the server binds it.
        """
        try:
            self._wait_ready(comp)
            return comp
        except LabError:
            if process_alive(comp):
                raise
            self.echo(f"{comp.name}: exited while starting; trying once more")
            retry = self._start(comp.name, state)
            self._save(state)
            self._wait_ready(retry)
            return retry

    def down(self, only: str | Iterable[str] | None = None) -> list[str]:
        """Stop the selected components (default: those this Lab was made for); names stopped."""
        names = parse_only(only) if only is not None else self.only
        stopped: list[str] = []
        with self._locked():
            state = self._load()
            for name in names:
                comp = state.components.pop(name, None)
                if comp is not None:
                    stop_process(comp)
                    stopped.append(name)
            self._save(state)
        return stopped

    def status(self) -> list[ComponentStatus]:
        state = self._load()
        return [self._status_of(name, state) for name in COMPONENTS if self._listed(name, state)]

    def _listed(self, name: str, state: LabState) -> bool:
        return name in self.only or name in state.components

    # ---- helpers for tests
    def url(self, name: str) -> str:
        comp = self._load().components.get(name)
        if comp is None:
            raise LabError(f"lab component {name!r} is not running")
        return comp.url

    def request_log(self, name: str = "ollama") -> Path:
        return self.dir / f"{name}-requests.jsonl"

    def requests(self, name: str = "ollama") -> list[dict[str, object]]:
        """Every request the component received, from its request log (JSON lines)."""
        return read_request_log(self.request_log(name))

    def __enter__(self) -> Lab:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    # ---- internals
    def _abort(self, started: list[ComponentState], state: LabState) -> None:
        """Undo a failed `up`: stop what it started, forget it."""
        for comp in started:
            stop_process(comp)
            state.components.pop(comp.name, None)
        self._save(state)

    def _running(self, name: str, state: LabState) -> bool:
        comp = state.components.get(name)
        if comp is None:
            return False
        if process_alive(comp):
            self.echo(f"{name}: already running (pid {comp.pid}) at {comp.url}")
            return True
        state.components.pop(name)
        return False

    def _status_of(self, name: str, state: LabState) -> ComponentStatus:
        comp = state.components.get(name)
        port = comp.port if comp else self.ports[name]
        host = comp.host if comp else self.host
        key = comp.api_key if comp else (self.api_key if name == "llama-server-key" else None)
        st = ComponentStatus(name, False, _url(host, port), port, api_key=key)
        st.auth = f"api key {key}" if key else "open"
        if comp is not None:
            st.running = process_alive(comp)
            st.pid, st.log, st.request_log = comp.pid, comp.log, comp.request_log
            st.note = "" if st.running else "recorded but not running"
        return st

    def _start(self, name: str, state: LabState) -> ComponentState:
        port = self.ports[name]
        if _busy(self.host, port, grace=3.0):
            raise LabError(
                f"cannot start {name}: {self.host}:{port} is already in use by another "
                "program (stop it, or choose another port)"
            )
        comp = self._describe(name, port)
        self.echo(f"{name}: starting on {comp.url}")
        self._spawn(comp)
        state.components[name] = comp
        return comp

    def _describe(self, name: str, port: int) -> ComponentState:
        kind = KINDS[name]
        logs = self.dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        comp = ComponentState(
            name=name,
            kind=kind,
            pid=0,
            host=self.host,
            port=port,
            url=_url(self.host, port),
            argv=[],
            log=str(logs / f"{name}.log"),
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            health=HEALTH_PATHS[kind],
        )
        if kind == "ollama-emulator":
            comp.request_log = str(self.request_log(name))
            comp.ready_file = str(self.dir / f"{name}.ready.json")
            Path(comp.ready_file).unlink(missing_ok=True)
            comp.argv = self._emulator_argv(comp)
        else:
            comp.api_key = self.api_key if name == "llama-server-key" else None
            comp.argv = self._llama_argv(comp)
        return comp

    def _emulator_argv(self, comp: ComponentState) -> list[str]:
        argv = [sys.executable, "-m", EMULATOR_MODULE, "--address", comp.host]
        if self.ollama_cidr:
            argv += ["--cidr", self.ollama_cidr]
        argv += ["--request-log", str(comp.request_log), "--ready-file", str(comp.ready_file)]
        argv += self.ollama_args
        return [*argv, "--port", str(comp.port)]

    def _llama_argv(self, comp: ComponentState) -> list[str]:
        """llama-server keeps no request log, so it runs behind a recording byte relay."""
        binary = self.binary or llama_server.ensure_llama_server(build=self.build, echo=self.echo)
        model = self.model or llama_server.ensure_gguf(install=True, echo=self.echo)
        private_port = free_port(comp.host)
        server = llama_server.server_argv(
            binary, model, host=comp.host, port=private_port, api_key=comp.api_key
        )
        comp.request_log = str(self.request_log(comp.name))
        relay = [
            sys.executable,
            "-m",
            RELAY_MODULE,
            "--host",
            comp.host,
            "--port",
            str(comp.port),
            "--upstream-port",
            str(private_port),
            "--log",
            comp.request_log,
        ]
        return [*relay, "--", *server]

    def _spawn(self, comp: ComponentState, extra_env: Mapping[str, str] | None = None) -> None:
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
                cwd=self.dir,
                env=env,
            )
        comp.pid = proc.pid
        _CHILDREN[proc.pid] = proc

    def _wait_ready(self, comp: ComponentState) -> None:
        deadline = time.monotonic() + self.startup_timeout
        url = comp.url + comp.health
        while time.monotonic() < deadline:
            if _answers(comp, url):
                self.echo(f"{comp.name}: ready at {comp.url} (pid {comp.pid})")
                return
            if not process_alive(comp):
                raise LabError(
                    f"{comp.name} exited during start-up; last lines of {comp.log}:\n"
                    + _log_tail(comp.log)
                )
            time.sleep(0.1)
        raise LabError(
            f"{comp.name} did not answer {url} within {self.startup_timeout:.0f}s; "
            f"last lines of {comp.log}:\n" + _log_tail(comp.log)
        )


# --------------------------------------------------------------------------- the --all lab

LAB_USER = "aicensus"
LAB_PASSWORD = "aicensus-lab-password"
GENERIC_MODULE = "aicensus.lab.emulators.generic"
REAL_HEALTH: dict[str, str] = {
    "llama-server": "/health",
    "llama-cpp-python": "/v1/models",
    "gradio": "/",
    "chroma": "/api/v2/heartbeat",
    "chroma-token": "/api/v2/heartbeat",
    "litellm": "/health/liveliness",
    "mcp": "/mcp",
    "mcp-sse": "/messages/",
}


def default_full_lab_dir() -> Path:
    return default_lab_dir() / "all"


class FullLab(Lab):
    """`aicensus lab up --all`: every product (real where installed, emulated otherwise)
    in open and auth variants, look-alikes and decoys, each on its own loopback address of
    `network` (see `aicensus.lab.layout`). Its state lives in `<lab dir>/all/`.

    Real products that are not installed are left out and named in `self.missing`
    (`aicensus lab setup --all` installs them), unless `require_real` is set, where a
    missing one is an error.
    """

    def __init__(
        self,
        lab_dir: str | os.PathLike[str] | None = None,
        *,
        network: str | None = None,
        only: str | Iterable[str] | None = None,
        api_key: str = llama_server.LAB_API_KEY,
        llama_server_binary: str | os.PathLike[str] | None = None,
        model: str | os.PathLike[str] | None = None,
        require_real: bool = False,
        startup_timeout: float = 300.0,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        from aicensus.lab import layout

        self.dir = Path(lab_dir) if lab_dir is not None else default_full_lab_dir()
        self.network = network or self._recorded_network() or layout.DEFAULT_NETWORK
        self.layout = layout.full_layout(self.network)
        self.selected = layout.select(self.layout, only)
        self.api_key = api_key
        self.binary = Path(llama_server_binary) if llama_server_binary else None
        self.model = Path(model) if model else None
        self.build = False
        self.require_real = require_real
        self.startup_timeout = startup_timeout
        self.echo = echo or (lambda _msg: None)
        self.host = "127.0.0.1"
        self.ports = {}
        self.ollama_cidr = None
        self.ollama_args = []
        self.missing: dict[str, list[str]] = {}
        for svc in self.selected:
            if svc.kind == "real":
                lacks = layout.missing_requirements(svc.source)
                if lacks:
                    self.missing[svc.name] = lacks
        self.services = [s for s in self.selected if s.name not in self.missing]
        self.only = tuple(dict.fromkeys(s.process for s in self.services))

    def _recorded_network(self) -> str | None:
        try:
            data = json.loads((self.dir / "network").read_text())
        except (OSError, ValueError):
            return None
        return str(data) if isinstance(data, str) else None

    # ---- public
    def up(self) -> list[ComponentStatus]:
        if self.missing:
            lines = [f"  {name}: needs {', '.join(lacks)}" for name, lacks in self.missing.items()]
            message = (
                "real products not installed (run `aicensus lab setup --all`, or "
                "pip install 'aicensus[lab]'):\n" + "\n".join(lines)
            )
            if self.require_real:
                raise LabError(message)
            self.echo(message + "\nstarting the rest without them")
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "network").write_text(json.dumps(self.network))
        return super().up()

    def down(self, only: str | Iterable[str] | None = None) -> list[str]:
        """Stop every process of this lab (the whole --all lab: `only` is ignored)."""
        stopped: list[str] = []
        with self._locked():
            state = self._load()
            for name in list(state.components):
                stop_process(state.components.pop(name))
                stopped.append(name)
            self._save(state)
        return stopped

    def status(self) -> list[ComponentStatus]:
        state = self._load()
        names = list(dict.fromkeys([*self.only, *state.components]))
        return [self._status_of(name, state) for name in names]

    def ground_truth(self, *, running_only: bool = True) -> list[dict[str, object]]:
        """What a scan of this lab must find: one entry per service (see layout.Service)."""
        state = self._load()
        out: list[dict[str, object]] = []
        for svc in self.layout:
            comp = state.components.get(svc.process)
            running = comp is not None and svc.name in comp.services and process_alive(comp)
            if running_only and not running:
                continue
            out.append({**svc.as_truth(), "running": running})
        return out

    def service(self, name: str):  # type: ignore[no-untyped-def]
        for svc in self.layout:
            if svc.name == name:
                return svc
        raise LabError(f"no lab service {name!r}")

    def url(self, name: str) -> str:
        return self.service(name).url

    def service_requests(self, name: str) -> list[dict[str, object]]:
        """Every request the service received, from its process's request log."""
        svc = self.service(name)
        entries = read_request_log(self.request_log(svc.process))
        if svc.process != "emulators":
            return entries
        return [e for e in entries if e.get("local") == svc.address and e.get("port") == svc.port]

    # ---- internals
    def _status_of(self, name: str, state: LabState) -> ComponentStatus:
        comp = state.components.get(name)
        svcs = [s for s in self.layout if s.process == name]
        first = svcs[0] if svcs else None
        url = _url(first.address, first.port) if first else (comp.url if comp else "")
        st = ComponentStatus(name, False, url, first.port if first else 0)
        if first is not None and first.process != "emulators":
            st.auth = first.expected_auth or "-"
            if first.variant == "key" and first.kind == "real":
                st.api_key = self._secret(first)
        else:
            st.auth = f"{len(svcs)} services"
        if comp is not None:
            st.running = process_alive(comp)
            st.pid, st.log, st.request_log = comp.pid, comp.log, comp.request_log
            st.note = "" if st.running else "recorded but not running"
        return st

    def _secret(self, svc) -> str:  # type: ignore[no-untyped-def]
        if svc.source == "gradio":
            return f"{LAB_USER}:{LAB_PASSWORD}"
        if svc.source == "litellm":
            return "sk-" + self.api_key
        return self.api_key

    def _start(self, name: str, state: LabState) -> ComponentState:
        svcs = [s for s in self.services if s.process == name]
        for svc in svcs:
            if _busy(svc.address, svc.port, grace=3.0):
                raise LabError(
                    f"cannot start {svc.name}: {svc.address}:{svc.port} is already in use by "
                    "another program (stop it, or choose another --network)"
                )
        first = svcs[0]
        logs = self.dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        comp = ComponentState(
            name=name,
            kind=first.kind if name != "emulators" else "emulators",
            pid=0,
            host=first.address,
            port=first.port,
            url=_url(first.address, first.port),
            argv=[],
            log=str(logs / f"{name}.log"),
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            health="/",
            request_log=str(self.request_log(name)),
            services=[s.name for s in svcs],
        )
        env: dict[str, str] = {}
        if name == "emulators":
            comp.ready_file = str(self.dir / "emulators.ready.json")
            Path(comp.ready_file).unlink(missing_ok=True)
            comp.argv = [sys.executable, "-m", GENERIC_MODULE, "--quiet"]
            for s in svcs:
                comp.argv += ["--site", s.source, s.variant, s.address, str(s.port)]
            comp.argv += ["--request-log", comp.request_log, "--ready-file", comp.ready_file]  # type: ignore[list-item]  # set above
        elif first.source == "ollama":
            comp.kind = "ollama-emulator"
            comp.ready_file = str(self.dir / f"{name}.ready.json")
            Path(comp.ready_file).unlink(missing_ok=True)
            comp.argv = [sys.executable, "-m", EMULATOR_MODULE, "--address", first.address]
            comp.argv += ["--request-log", comp.request_log, "--ready-file", comp.ready_file]  # type: ignore[list-item]  # set above
            if first.variant == "key":
                comp.argv += ["--auth", f"basic:{LAB_USER}:{LAB_PASSWORD}"]
            comp.argv += ["--quiet", "--port", str(first.port)]
        else:
            comp.argv, env = self._real_argv(comp, first)
        self.echo(
            f"{name}: starting on {comp.url}" + (f" (+{len(svcs) - 1})" if len(svcs) > 1 else "")
        )
        self._spawn(comp, env)
        state.components[name] = comp
        return comp

    def _real_argv(self, comp: ComponentState, svc) -> tuple[list[str], dict[str, str]]:  # type: ignore[no-untyped-def]
        """The real product on a private port of its address, behind the recording relay."""
        comp.health = REAL_HEALTH.get(svc.source, "/")
        comp.health_any = svc.source != "llama-server"
        if svc.source == "llama-server":
            comp.kind = "llama-server"
            comp.api_key = self.api_key if svc.variant == "key" else None
            return self._llama_argv(comp), {}
        private = free_port(svc.address)
        key = svc.variant == "key"
        py = [sys.executable, "-m"]
        bindir = Path(sys.executable).parent
        env: dict[str, str] = {"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
        data = self.dir / "data" / svc.name
        data.mkdir(parents=True, exist_ok=True)
        if svc.source == "llama-cpp-python":
            model = self.model or llama_server.ensure_gguf(install=False)
            server = [*py, "llama_cpp.server", "--model", str(model), "--host", svc.address]
            server += ["--port", str(private), "--n_ctx", "512", "--n_threads", "1"]
            server += ["--model_alias", Path(model).name]
            if key:
                server += ["--api_key", self.api_key]
        elif svc.source == "gradio":
            server = [*py, "aicensus.lab.real.gradio_app", "--host", svc.address]
            server += ["--port", str(private)]
            if key:
                server += ["--auth", f"{LAB_USER}:{LAB_PASSWORD}"]
            env.update({"GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(data)})
        elif svc.source == "chroma":
            server = [str(bindir / "chroma"), "run", "--host", svc.address]
            server += ["--port", str(private), "--path", str(data)]
        elif svc.source == "chroma-token":
            server = [*py, "uvicorn", "chromadb.app:app", "--host", svc.address]
            server += ["--port", str(private), "--log-level", "warning"]
            env.update(
                {
                    "IS_PERSISTENT": "TRUE",
                    "PERSIST_DIRECTORY": str(data),
                    "CHROMA_SERVER_AUTHN_PROVIDER": (
                        "chromadb.auth.token_authn.TokenAuthenticationServerProvider"
                    ),
                    "CHROMA_SERVER_AUTHN_CREDENTIALS": self.api_key,
                }
            )
        elif svc.source == "litellm":
            config = self._litellm_config(svc, data)
            server = [str(bindir / "litellm"), "--config", str(config), "--host", svc.address]
            server += ["--port", str(private), "--num_workers", "1"]
            env.update(
                {
                    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                    "LITELLM_LOG": "ERROR",
                    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
                    "DISABLE_ADMIN_UI": "True",
                }
            )
        elif svc.source in ("mcp", "mcp-sse"):
            transport = "sse" if svc.source == "mcp-sse" else "streamable-http"
            server = [*py, "aicensus.lab.real.mcp_server", "--host", svc.address]
            server += ["--port", str(private), "--public-port", str(svc.port)]
            server += ["--transport", transport]
            if key:
                server += ["--token", self.api_key]
        else:
            raise LabError(f"no launcher for {svc.source!r}")
        relay = [*py, RELAY_MODULE, "--host", svc.address, "--port", str(svc.port)]
        relay += ["--upstream-port", str(private), "--log", str(comp.request_log)]
        return [*relay, "--", *server], env

    def _litellm_config(self, svc, data: Path) -> Path:  # type: ignore[no-untyped-def]
        """A proxy config routing `smollm2` to the lab's open llama-server (OpenAI API)."""
        upstream = next(s for s in self.layout if s.name == "llama-server-open")
        lines = [
            "model_list:",
            "  - model_name: smollm2",
            "    litellm_params:",
            f"      model: openai/{llama_server.SMOLLM2_FILE}",
            f"      api_base: {upstream.url}/v1",
            "      api_key: none",
            "litellm_settings:",
            "  telemetry: false",
            "  drop_params: true",
        ]
        if svc.variant == "key":
            lines += ["general_settings:", f"  master_key: sk-{self.api_key}"]
        else:  # the open proxy: LiteLLM >= 1.10x refuses to start keyless unless told to
            lines += ["general_settings:", "  dangerously_permit_weak_or_unset_master_key: true"]
        path = data / "litellm.yaml"
        path.write_text("\n".join(lines) + "\n")
        return path
