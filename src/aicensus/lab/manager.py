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
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from aicensus.errors import LabError
from aicensus.lab import llama_server
from aicensus.lab.emulators.common import read_request_log
from aicensus.lab.processes import (
    ComponentState,
    ComponentStatus,
    LabState,
    StartFailure,
    answers,
    busy,
    check_loopback,
    free_port,
    log_tail,
    process_alive,
    spawn,
    stop_process,
    url_of,
)

# Re-exported: what users of the lab import from here (the --all lab is aicensus.lab.full).
__all__ = [
    "ALIASES",
    "COMPONENTS",
    "DEFAULT_PORTS",
    "ComponentState",
    "ComponentStatus",
    "Lab",
    "LabState",
    "default_lab_dir",
    "free_port",
    "parse_only",
    "process_alive",
    "stop_process",
]

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
        self.host = check_loopback(host)
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
                        state.failed.pop(name, None)
                        try:
                            started.append(self._start(name, state))
                        except LabError as exc:
                            self._failed(name, exc, state)
                        self._save(state)
                for i, comp in enumerate(started):
                    try:
                        started[i] = self._ready_or_retry(comp, state)
                    except LabError as exc:
                        stop_process(comp)
                        state.components.pop(comp.name, None)
                        self._failed(comp.name, exc, state, comp.log)
                        self._save(state)
            except BaseException:
                self._abort(started, state)
                raise
            self._save(state)
        return self.status()

    def _may_fail(self, name: str) -> bool:
        """Whether `up` goes on without this component when it fails to start (the core lab:
        never; the --all lab: its real products, recorded in state.failed)."""
        return False

    def _failed(self, name: str, exc: LabError, state: LabState, log: str = "") -> None:
        if not self._may_fail(name):
            raise exc
        self.echo(f"{name}: FAILED to start, the rest go on: {exc}")
        reason = str(exc).splitlines()[0].split("; last lines of ")[0].rstrip(":")
        state.failed[name] = StartFailure(
            name, reason, log, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        )

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
            stop_process(comp)  # never two of it on one port: the first may linger
            retry = self._start(comp.name, state)
            self._save(state)
            try:
                self._wait_ready(retry)
            except BaseException:
                stop_process(retry)  # `up` aborts what it started first, not this second try
                raise
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
        st = ComponentStatus(name, False, url_of(host, port), port, api_key=key)
        st.auth = f"api key {key}" if key else "open"
        if comp is not None:
            st.running = process_alive(comp)
            st.pid, st.log, st.request_log = comp.pid, comp.log, comp.request_log
            st.note = "" if st.running else "recorded but not running"
        return st

    def _start(self, name: str, state: LabState) -> ComponentState:
        port = self.ports[name]
        if busy(self.host, port, grace=3.0):
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
            url=url_of(self.host, port),
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
        spawn(comp, self.dir, extra_env)

    def _wait_ready(self, comp: ComponentState) -> None:
        deadline = time.monotonic() + self.startup_timeout
        url = comp.url + comp.health
        while time.monotonic() < deadline:
            if answers(comp, url):
                self.echo(f"{comp.name}: ready at {comp.url} (pid {comp.pid})")
                return
            if not process_alive(comp):
                raise LabError(
                    f"{comp.name} exited during start-up; last lines of {comp.log}:\n"
                    + log_tail(comp.log)
                )
            time.sleep(0.1)
        raise LabError(
            f"{comp.name} did not answer {url} within {self.startup_timeout:.0f}s; "
            f"last lines of {comp.log}:\n" + log_tail(comp.log)
        )
