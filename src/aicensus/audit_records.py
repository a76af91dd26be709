"""The typed records of `aicensus audit`: services, model stores and model files.

They live here, below the stages, so that report/ can read an audit's result without
importing audit/ (a feature above it); `aicensus.audit.records` re-exports them.

Their findings are `aicensus.assess.Finding`s (kind "service" or "file"), the record every
producer and consumer of findings shares.

Everything here is data (msgspec Structs); `msgspec.to_builtins(result)` is the JSON output
documented in docs/audit.md. Strings that came from a server or from a file are stored as they
were read (bounded); renderers pass them through `terminal_safe` before they reach a terminal.
"""

from __future__ import annotations

import msgspec

from aicensus.assess.finding import Finding, Severity, sort_key
from aicensus.records import Attribution, ServiceObservation, TextDigest


class ProcessInfo(msgspec.Struct, kw_only=True):
    """The process that owns a listening socket (what psutil could read of it)."""

    pid: int
    name: str | None = None
    exe: str | None = None
    cmdline: list[str] = msgspec.field(default_factory=list)  # secrets redacted, bounded
    user: str | None = None


class LocalService(msgspec.Struct, kw_only=True):
    """An AI service found on this machine (or on a target given on the command line).

    `binding`: `loopback` (every socket is bound to a loopback address), `all-interfaces`
    (0.0.0.0 or ::), `specific` (bound to named non-loopback addresses), `unknown` (not in the
    socket table: a remote target, or the table could not be read).
    `exposure`: the widest network that can reach it: `loopback`, `lan`, `public`, `unknown`.
    """

    ip: str
    port: int
    product: str | None
    version: str | None
    auth: str
    binding: str
    exposure: str
    bound_to: list[str] = msgspec.field(default_factory=list)
    bound_count: int = 0  # all bind addresses, when bound_to was shortened
    reachable_on: list[str] = msgspec.field(default_factory=list)
    process: ProcessInfo | None = None
    fix: str | None = None
    observation: ServiceObservation
    findings: list[Finding] = msgspec.field(default_factory=list)

    @property
    def url(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.observation.scheme or 'http'}://{host}:{self.port}"


class ModelStore(msgspec.Struct, kw_only=True):
    """A place where model files live: an Ollama store, the Hugging Face cache, a --path …"""

    kind: str  # ollama | huggingface | lm-studio | gpt4all | llama.cpp | path
    path: str
    source: str  # why it was looked at: "default", "$OLLAMA_MODELS", "--path", …
    models: int = 0  # model files found in it
    size_bytes: int = 0
    error: str | None = None


class GGUFInfo(msgspec.Struct, kw_only=True):
    """The header of a GGUF file (read memory-mapped, the tensor data never touched)."""

    version: int | None = None
    architecture: str | None = None
    name: str | None = None
    basename: str | None = None
    organization: str | None = None
    finetune: str | None = None
    size_label: str | None = None
    licence: str | None = None
    base_models: list[str] = msgspec.field(default_factory=list)
    repo_url: str | None = None
    file_type: str | None = None
    context_length: int | None = None
    tensor_count: int | None = None
    chat_templates: dict[str, TextDigest] = msgspec.field(default_factory=dict)


class PickleScan(msgspec.Struct, kw_only=True):
    """What the pickle analyser (picklescan, opcode-level, never unpickling) reported."""

    analyser: str
    dangerous: list[str] = msgspec.field(default_factory=list)  # "module.name"
    suspicious: list[str] = msgspec.field(default_factory=list)
    innocuous: list[str] = msgspec.field(default_factory=list)
    complete: bool = True
    error: str | None = None


class ModelFile(msgspec.Struct, kw_only=True):
    """One model file, its provenance and its findings."""

    path: str
    name: str  # display name: Ollama tag, Hugging Face repo/file, or the file name
    store: str  # the store kind it was found in
    store_path: str = ""  # the store (or --path) it was found in
    format: str  # gguf | safetensors | pytorch | pickle | keras | keras-h5 | onnx
    size_bytes: int
    aliases: list[str] = msgspec.field(default_factory=list)  # other names of the same file
    sha256: str | None = None
    sha256_source: str | None = None  # "computed" | "file name" (Ollama/HF blob name)
    architecture: str | None = None
    quantization: str | None = None
    parameter_count: int | None = None
    parameter_size: str | None = None
    context_length: int | None = None
    licence_declared: str | None = None
    gguf: GGUFInfo | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)  # other header facts
    pickle: PickleScan | None = None
    attribution: Attribution = msgspec.field(default_factory=Attribution)
    findings: list[Finding] = msgspec.field(default_factory=list)
    error: str | None = None
    # What was not read and why: a reader limit (docs/audit.md#limits) the file exceeded.
    notes: list[str] = msgspec.field(default_factory=list)


class AuditResult(msgspec.Struct, kw_only=True):
    """Everything one `aicensus audit` found."""

    host: str
    started_at: str
    seconds: float
    mode: str  # "local": this machine's services; "targets": the given network targets
    targets: list[str] = msgspec.field(default_factory=list)
    services_checked: bool = True  # False with services=False (--no-services)
    probed: int = 0  # (address, port) pairs probed
    sockets_read: bool = False  # the listening-socket table could be read
    listening: int = 0  # listening TCP sockets considered
    services: list[LocalService] = msgspec.field(default_factory=list)
    stores: list[ModelStore] = msgspec.field(default_factory=list)
    searched: list[str] = msgspec.field(default_factory=list)  # store locations looked at
    files: list[ModelFile] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        found = [f for s in self.services for f in s.findings]
        found += [f for m in self.files for f in m.findings]
        return sorted(found, key=sort_key)

    def worst(self) -> Severity | None:
        ranks = [f.severity for f in self.findings]
        return max(ranks, key=lambda s: s.rank) if ranks else None


__all__ = [
    "AuditResult",
    "GGUFInfo",
    "LocalService",
    "ModelFile",
    "ModelStore",
    "PickleScan",
    "ProcessInfo",
]
