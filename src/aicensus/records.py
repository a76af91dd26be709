"""Typed records that flow between the pipeline stages.

Stages never share objects other than these: targets → engine (Exchange), or ingest
(RecordedService) → fingerprint (ServiceMatch, Evidence) → enumerate (ModelRecord) →
attribute (Attribution) → assess → store → report (ServiceObservation).
"""

from __future__ import annotations

import enum
import json
import math

import msgspec

# The product list is data: one signature file per product (fingerprint.load.product_ids).


class AuthState(enum.StrEnum):
    OPEN = "open"
    AUTH_REQUIRED = "auth_required"
    PARTIAL = "partial"
    UNKNOWN = "unknown"


class ScanStatus(enum.StrEnum):
    """Closed vocabulary for what happened at one (ip, port)."""

    IDENTIFIED = "identified"  # an AI product was recognised
    UNIDENTIFIED = "unidentified"  # something answered HTTP, but no signature matched
    SUSPECTED_HONEYPOT = "suspected-honeypot"  # claims to be many products at once
    NOT_HTTP = "not-http"  # the port accepted a connection but did not speak HTTP
    CONNECTION_REFUSED = "connection-refused"
    CONNECTION_TIMEOUT = "connection-timeout"
    IO_TIMEOUT = "io-timeout"
    EXCLUDED = "excluded"
    ERROR = "error"


class Target(msgspec.Struct, frozen=True, order=True):
    ip: str
    port: int
    hostname: str | None = None


RequestKey = tuple[str, str, str]  # (method, path, JSON body or ""): what was asked


class ProbeRequest(msgspec.Struct, frozen=True):
    """One request the engine may send. Read-only rules are enforced by the engine."""

    method: str
    path: str
    json_body: dict[str, object] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    # The product the pipeline had already identified when it built this request; the
    # read-only guard allows a protocol's listing calls (MCP JSON-RPC) only to that product.
    for_product: str | None = None
    # Keep at most this many body bytes (a version near the start of a large document); not
    # part of the key: an answer cut shorter than a later request may keep is asked again.
    max_body: int | None = None
    # Seconds this request may take, read silences included, where the engine's limits are
    # shorter (fingerprint.schema.Probe.wait); not part of the key.
    wait: float | None = None

    def key(self) -> RequestKey:
        body = msgspec.json.encode(self.json_body).decode() if self.json_body is not None else ""
        return (self.method, self.path, body)


_UNPARSED = object()


def _decode_json(body: bytes) -> object | None:
    if not body or body.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        decoded: object = msgspec.json.decode(body)
        return decoded
    except msgspec.ValidationError:  # valid JSON with a number msgspec cannot hold (10**5000)
        return _decode_json_lenient(body)
    except (msgspec.DecodeError, RecursionError, ValueError):  # not JSON, or nested too deep
        return None


_MAX_INT_DIGITS = 40  # beyond any size or count a server can mean; longer ints decode as None


def _lenient_int(text: str) -> int | None:
    return int(text) if len(text) <= _MAX_INT_DIGITS else None


def _lenient_float(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _decode_json_lenient(body: bytes) -> object | None:
    """The same document with out-of-range numbers as None, so the rest still counts."""
    try:
        decoded: object = json.loads(
            body,
            parse_int=_lenient_int,
            parse_float=_lenient_float,
            parse_constant=lambda _name: None,
        )
    except (ValueError, RecursionError):
        return None
    return decoded


class Exchange(msgspec.Struct, kw_only=True):
    """A request and what came back (or the error that stopped it)."""

    method: str
    path: str
    status: int | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    body: bytes = b""
    truncated: bool = False
    elapsed_ms: float = 0.0
    error: str | None = None
    request_body: str | None = None
    _json: object = _UNPARSED
    _text: tuple[bytes, str] | None = None  # (the body decoded, its text)

    def text(self) -> str:
        """The body decoded (invalid bytes replaced). Decoded once per body: the
        fingerprint, the dialects and the honeypot checks all read it; a body that grows (an
        event stream) or is replaced is decoded again."""
        cached = self._text
        if cached is None or cached[0] is not self.body:
            cached = self._text = (self.body, self.body.decode("utf-8", errors="replace"))
        return cached[1]

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lname:
                return value
        return None

    def json(self) -> object | None:
        """The body as JSON, or None if it is not valid JSON (never raises). Parsed once."""
        if self._json is _UNPARSED:
            self._json = _decode_json(self.body)
        return self._json

    def log_entry(self) -> RequestLogEntry:
        return RequestLogEntry(
            method=self.method,
            path=self.path,
            status=self.status,
            bytes=len(self.body),
            ms=round(self.elapsed_ms, 2),
            error=self.error,
        )


class RequestLogEntry(msgspec.Struct, kw_only=True):
    method: str
    path: str
    status: int | None
    bytes: int
    ms: float
    error: str | None = None


class Evidence(msgspec.Struct, kw_only=True):
    """Why a conclusion was drawn: which probe, which marker."""

    kind: str  # "match", "auth", "version", "models", ...
    probe: str  # "GET /api/version"
    marker: str  # human-readable description of what was seen
    weight: float = 0.0


class TLSInfo(msgspec.Struct, kw_only=True):
    subject: str | None = None
    issuer: str | None = None
    sans: list[str] = msgspec.field(default_factory=list)
    not_before: str | None = None
    not_after: str | None = None
    expired: bool | None = None
    self_signed: bool | None = None


class TextDigest(msgspec.Struct, kw_only=True):
    """A long server-provided text kept as a hash, its length and a short prefix."""

    sha256: str
    length: int
    head: str


class Attribution(msgspec.Struct, kw_only=True):
    developer: str | None = None
    country: str | None = None
    licence: str | None = None
    family: str | None = None
    base: BaseModelRef | None = None
    guardrails_removed: bool = False
    confidence: float = 0.0
    status: str = "unknown"  # "attributed" | "ambiguous" | "unknown"
    candidates: list[str] = msgspec.field(default_factory=list)
    evidence: list[str] = msgspec.field(default_factory=list)
    # What the attribution rests on: "name" (the model's name matched a catalog entry),
    # "pattern" (a naming pattern), "family" (only the model family the server reported,
    # Ollama's details.family / the GGUF architecture: a weaker signal) or "architecture".
    matched_by: str = "name"


class BaseModelRef(msgspec.Struct, kw_only=True):
    developer: str | None = None
    country: str | None = None
    family: str | None = None


class ModelRecord(msgspec.Struct, kw_only=True):
    name: str
    digest: str | None = None
    size_bytes: int | None = None
    format: str | None = None
    family: str | None = None
    families: list[str] = msgspec.field(default_factory=list)
    parameter_size: str | None = None
    parameter_count: int | None = None
    quantization: str | None = None
    context_length: int | None = None
    running: bool = False
    vram_bytes: int | None = None
    capabilities: list[str] = msgspec.field(default_factory=list)
    chat_template: TextDigest | None = None
    system_prompt: TextDigest | None = None
    licence_name: str | None = None
    architecture: str | None = None
    remote: bool = False
    # Filled by the attribute stage.
    developer: str | None = None
    country: str | None = None
    licence: str | None = None
    base: BaseModelRef | None = None
    guardrails_removed: bool = False
    attribution_confidence: float = 0.0
    # What the attribution rests on (Attribution.matched_by: "name", "family", ...); None when
    # nothing was attributed, or for models stored before schema 6, which did not keep it.
    matched_by: str | None = None


class McpTool(msgspec.Struct, kw_only=True):
    name: str
    description: str | None = None  # first 200 characters
    parameters: list[str] = msgspec.field(default_factory=list)  # inputSchema property names
    risks: list[str] = msgspec.field(default_factory=list)  # "exec", "file-write", "fetch", ...
    why: list[str] = msgspec.field(default_factory=list)  # the rule behind each risk
    # The server's own ToolAnnotations set true (readOnlyHint → "read-only", destructiveHint,
    # idempotentHint, openWorldHint): self-declared, so recorded, never trusted for `risks`.
    hints: list[str] = msgspec.field(default_factory=list)


class McpResource(msgspec.Struct, kw_only=True):
    uri: str
    name: str | None = None
    mime_type: str | None = None


class McpPrompt(msgspec.Struct, kw_only=True):
    name: str
    description: str | None = None
    arguments: list[str] = msgspec.field(default_factory=list)


class McpInventory(msgspec.Struct, kw_only=True):
    """What an MCP server said about itself through its listing calls only."""

    endpoint: str  # the path that answered `initialize`, e.g. /mcp, /, /sse
    transport: str  # "streamable-http" | "sse"
    server_name: str | None = None
    server_version: str | None = None
    protocol_version: str | None = None
    tools: list[McpTool] = msgspec.field(default_factory=list)
    resources: list[McpResource] = msgspec.field(default_factory=list)
    prompts: list[McpPrompt] = msgspec.field(default_factory=list)
    auth_required: bool = False
    resource_metadata: str | None = None  # the WWW-Authenticate resource_metadata URL
    authorization_servers: list[str] = msgspec.field(default_factory=list)
    scopes: list[str] = msgspec.field(default_factory=list)
    errors: list[str] = msgspec.field(default_factory=list)  # listing calls the server refused

    def flagged(self) -> list[McpTool]:
        return [t for t in self.tools if t.risks]


class ServiceObservation(msgspec.Struct, kw_only=True):
    """One service seen at one moment: the unit of the output contract."""

    ip: str
    port: int
    scheme: str | None
    status: ScanStatus
    product: str | None = None
    version: str | None = None
    confidence: float = 0.0
    auth: AuthState = AuthState.UNKNOWN
    observed_at: str = ""
    hostname: str | None = None
    tls: TLSInfo | None = None
    models: list[ModelRecord] = msgspec.field(default_factory=list)
    mcp: McpInventory | None = None  # an MCP server's tools, resources and prompts
    evidence: list[Evidence] = msgspec.field(default_factory=list)
    auth_evidence: list[Evidence] = msgspec.field(default_factory=list)
    request_log: list[RequestLogEntry] = msgspec.field(default_factory=list)
    error: str | None = None
    source: str = "scan"  # "scan" or the ingest format it came from


class ProductClaim(msgspec.Struct, kw_only=True):
    """A recording tool's own statement of what a service is (e.g. Censys's `ollama` object).

    Applied after the service's recorded exchanges are fingerprinted, unless they identify
    another product: then only the label is kept, as evidence that they disagree.
    """

    product: str
    confidence: float
    probe: str  # where the claim comes from, e.g. "censys:ollama"
    label: str  # e.g. "labelled Ollama by censys"
    evidence: list[Evidence]  # why the source says so
    version: str | None = None
    models: list[ModelRecord] | None = None  # None: the source said nothing about models
    auth: AuthState = AuthState.UNKNOWN
    auth_evidence: list[Evidence] = msgspec.field(default_factory=list)


class RecordedService(msgspec.Struct, kw_only=True):
    """What another tool recorded at one (ip, port) at one time: what ingest readers return.

    The exchanges become an observation through the same step a live scan's responses go
    through (`pipeline.observe_recorded` → `pipeline.conclude`). A service without any keeps
    `status` and `error` (port open, connection-timeout, not HTTP …).
    """

    target: Target
    source: str  # the ingest format
    observed_at: str | None = None  # None: the time of reading
    scheme: str | None = None  # of the exchanges (or the claim); None when nothing answered
    exchanges: list[Exchange] = msgspec.field(default_factory=list)
    claim: ProductClaim | None = None
    evidence: list[Evidence] = msgspec.field(default_factory=list)  # the source's own labels
    status: ScanStatus = ScanStatus.UNIDENTIFIED  # when no exchange was recorded
    error: str | None = None


class BadRecord(msgspec.Struct):
    """A record that was skipped: its line (or the line its element starts on) and why."""

    line: int
    reason: str
