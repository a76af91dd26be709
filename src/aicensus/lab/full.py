"""The whole lab, `aicensus lab up --all`: every product the signatures give a `lab` recipe
(real where installed, emulated otherwise), look-alikes and decoys, each on its own loopback
address (`aicensus.lab.layout`).

    with FullLab(tmp_path / "all", network="127.0.9.0/24", only="vllm,decoys") as lab:
        lab.ground_truth()                 # what a scan of it must find
        lab.service_requests("vllm-key")   # what that service received

A product added as one signature file (`signatures=DIR`, its emulator tables in
`DIR/emulators/`) is laid out and started like the built-in ones.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from aicensus.errors import LabError
from aicensus.fingerprint.load import builtin_signatures, load_directory
from aicensus.fingerprint.schema import Signature
from aicensus.lab import layout, llama_server, npm_installs, recipes, venvs
from aicensus.lab.emulators.common import read_request_log
from aicensus.lab.manager import EMULATOR_MODULE, RELAY_MODULE, Lab, default_lab_dir
from aicensus.lab.processes import (
    ComponentState,
    ComponentStatus,
    LabState,
    busy,
    free_port,
    process_alive,
    stop_process,
    url_of,
)

LAB_USER = recipes.LAB_USER
LAB_PASSWORD = recipes.LAB_PASSWORD
GENERIC_MODULE = "aicensus.lab.emulators.generic"
# Every real product: no network calls home from inside the lab.
REAL_ENV = {"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


def default_full_lab_dir() -> Path:
    return default_lab_dir() / "all"


class FullLab(Lab):
    """`aicensus lab up --all`: every product (real where installed, emulated otherwise)
    in open and auth variants, look-alikes and decoys, each on its own loopback address of
    `network` (see `aicensus.lab.layout`). Its state lives in `<lab dir>/all/`.

    Real products that are not installed are left out and named in `self.missing`
    (`aicensus lab setup --all` installs them), unless `require_real` is set, where a
    missing one is an error. `signatures`: a signature directory to lay the lab out from
    (default: the built-in signatures); its `emulators/` folder may hold route tables.
    Heavy products (`heavy: true`, GBs of dependencies) start only with `heavy`; otherwise
    they are named in `self.left_out`, not in `missing` (their emulators, if any, still run).
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
        signatures: str | os.PathLike[str] | None = None,
        heavy: bool = False,
    ) -> None:
        self.dir = Path(lab_dir) if lab_dir is not None else default_full_lab_dir()
        self.network = network or self._recorded_network() or layout.DEFAULT_NETWORK
        self.sigs: Sequence[Signature] = builtin_signatures()
        self.tables: tuple[str, ...] = ()
        if signatures is not None:
            self.sigs = load_directory(Path(signatures))
            tables = Path(signatures) / "emulators"
            self.tables = (str(tables.resolve()),) if tables.is_dir() else ()
        self.layout = layout.full_layout(self.network, self.sigs, self.tables)
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
        # Heavy products (`heavy: true`) keep their addresses but start only with `heavy`:
        # left out, they are neither missing nor failed (and not in the ground truth).
        self.heavy = heavy
        self.left_out: dict[str, str] = {}
        for svc in self.selected:
            why = layout.left_out(svc.launch, heavy) if svc.launch is not None else None
            if why is not None:
                self.left_out[svc.name] = why
            elif svc.launch is not None:
                lacks = layout.missing_for(svc.launch)
                if lacks:
                    self.missing[svc.name] = lacks
        self.services = [
            s for s in self.selected if s.name not in self.missing and s.name not in self.left_out
        ]
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
        if self.left_out:
            self.echo(f"heavy products left out (add --heavy): {', '.join(self.left_out)}")
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
            state.failed.clear()
            self._save(state)
        return stopped

    def status(self) -> list[ComponentStatus]:
        state = self._load()
        names = list(dict.fromkeys([*self.only, *state.components, *state.failed]))
        return [self._status_of(name, state) for name in names]

    @property
    def failed(self) -> dict[str, str]:
        """The real products the last `up` could not start: name → one line (reason, log)."""
        return {name: f.line() for name, f in self._load().failed.items()}

    def ground_truth(self, *, running_only: bool = True) -> list[dict[str, object]]:
        """What a scan of this lab must find: one entry per service (see layout.Service).
        A service whose start failed stays in, not running, with `failed` saying why (a
        scan's figures must count it, not lose it)."""
        state = self._load()
        out: list[dict[str, object]] = []
        for svc in self.layout:
            comp = state.components.get(svc.process)
            running = comp is not None and svc.name in comp.services and process_alive(comp)
            failure = state.failed.get(svc.process)
            if running_only and not running and failure is None:
                continue
            failed = failure.line() if failure is not None and not running else None
            out.append({**svc.as_truth(), "running": running, "failed": failed})
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
        url = url_of(first.address, first.port) if first else (comp.url if comp else "")
        st = ComponentStatus(name, False, url, first.port if first else 0)
        if first is not None and first.process != "emulators":
            st.auth = first.expected_auth or "-"
            if first.variant == "key" and first.launch is not None:
                st.api_key = self._secret(first)
        else:
            st.auth = f"{len(svcs)} services"
        if comp is not None:
            st.running = process_alive(comp)
            st.pid, st.log, st.request_log = comp.pid, comp.log, comp.request_log
            st.note = "" if st.running else "recorded but not running"
        elif name in state.failed:
            st.log = state.failed[name].log
            st.note = "failed to start: " + state.failed[name].line()
        return st

    def _may_fail(self, name: str) -> bool:
        """A real product that fails to start (a Ray head missing `ray start`'s fixed 30 s on a
        loaded machine) is recorded as failed and the rest start; the lab's own emulators
        failing is a bug: `up` stops."""
        return any(s.kind == "real" for s in self.layout if s.process == name)

    def _secret(self, svc: layout.Service) -> str | None:
        if svc.launch is None:
            return self.api_key
        return recipes.credential(svc.launch, self._values(svc, private_port=0))

    def _start(self, name: str, state: LabState) -> ComponentState:
        svcs = [s for s in self.services if s.process == name]
        for svc in svcs:
            if busy(svc.address, svc.port, grace=3.0):
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
            url=url_of(first.address, first.port),
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
            for folder in self.tables:
                comp.argv += ["--tables", folder]
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

    def _real_argv(
        self, comp: ComponentState, svc: layout.Service
    ) -> tuple[list[str], dict[str, str]]:
        """The real product on a private port of its address, behind the recording relay,
        from its signature's launch recipe."""
        launch = svc.launch
        if launch is None:
            raise LabError(f"{svc.name}: no launch recipe")
        comp.health = launch.health
        comp.health_any = launch.ready == "any"
        private = free_port(svc.address)
        values = self._values(svc, private)
        server, env = recipes.render_launch(launch, values, self._data_dir(svc))
        comp.api_key = recipes.credential(launch, values)
        relay = [sys.executable, "-m", RELAY_MODULE, "--host", svc.address, "--port", str(svc.port)]
        relay += ["--upstream-port", str(private), "--log", str(comp.request_log)]
        return [*relay, "--", *server], {**REAL_ENV, **env}

    def _data_dir(self, svc: layout.Service) -> Path:
        data = self.dir / "data" / svc.name
        data.mkdir(parents=True, exist_ok=True)
        return data

    def _values(self, svc: layout.Service, private_port: int) -> recipes.Values:
        """What the recipe's placeholders stand for; model and binary only when used."""
        fixed = recipes.base_values(
            address=svc.address,
            port=private_port,
            public_port=svc.port,
            data=self.dir / "data" / svc.name,
            api_key=self.api_key,
        )
        fixed["model_file"] = llama_server.SMOLLM2_FILE
        if svc.launch is not None and svc.launch.install:  # runs from its own venv
            venv = venvs.venv_dir(venvs.VenvSpec.of(svc.launch))
            fixed["python"] = str(venvs.python_of(venv))
            fixed["bin"] = str(venvs.bin_dir(venv))
        if svc.launch is not None and svc.launch.npm:  # its own npm install
            where = npm_installs.install_dir(svc.launch.npm)
            fixed["node_modules"] = str(npm_installs.node_modules(where))

        def model() -> str:
            return str(self.model or llama_server.ensure_gguf(install=False, echo=self.echo))

        def binary() -> str:
            found = self.binary or llama_server.ensure_llama_server(build=False, echo=self.echo)
            return str(found)

        return recipes.Values(
            fixed,
            urls={s.name: s.url for s in self.layout},
            lazy={
                "model": model,
                "model_name": lambda: Path(model()).name,
                "llama_server": binary,
                "llama_cpp_lib": lambda: str(llama_server.ensure_llama_libs(build=False)),
            },
        )
