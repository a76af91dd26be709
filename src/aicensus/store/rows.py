"""Records ↔ table rows. The only module that knows how records map onto columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from aicensus.records import (
    AuthState,
    BaseModelRef,
    Evidence,
    McpInventory,
    ModelRecord,
    RequestLogEntry,
    ScanStatus,
    ServiceObservation,
    TextDigest,
    TLSInfo,
)

Column = tuple[str, str]  # (column name, DuckDB type the bulk insert casts its list to)
Row = tuple[Any, ...]

OBS_COLUMNS: tuple[Column, ...] = (
    ("obs_id", "BIGINT"), ("scan_id", "BIGINT"), ("ip", "VARCHAR"), ("port", "INTEGER"),
    ("scheme", "VARCHAR"), ("status", "VARCHAR"), ("product", "VARCHAR"),
    ("version", "VARCHAR"), ("confidence", "DOUBLE"), ("auth", "VARCHAR"),
    ("observed_at", "TIMESTAMP"), ("observed_at_text", "VARCHAR"), ("hostname", "VARCHAR"),
    ("tls", "JSON"), ("evidence", "JSON"), ("auth_evidence", "JSON"), ("error", "VARCHAR"),
    ("source", "VARCHAR"),
)  # fmt: skip

MODEL_COLUMNS: tuple[Column, ...] = (
    ("obs_id", "BIGINT"), ("seq", "INTEGER"), ("name", "VARCHAR"), ("digest", "VARCHAR"),
    ("size_bytes", "BIGINT"), ("format", "VARCHAR"), ("family", "VARCHAR"),
    ("families", "VARCHAR[]"), ("parameter_size", "VARCHAR"), ("parameter_count", "BIGINT"),
    ("quantization", "VARCHAR"), ("context_length", "BIGINT"), ("running", "BOOLEAN"),
    ("vram_bytes", "BIGINT"), ("capabilities", "VARCHAR[]"),
    ("chat_template_sha256", "VARCHAR"), ("chat_template_length", "BIGINT"),
    ("chat_template_head", "VARCHAR"), ("system_prompt_sha256", "VARCHAR"),
    ("system_prompt_length", "BIGINT"), ("system_prompt_head", "VARCHAR"),
    ("licence_name", "VARCHAR"), ("architecture", "VARCHAR"), ("remote", "BOOLEAN"),
    ("developer", "VARCHAR"), ("country", "VARCHAR"), ("licence", "VARCHAR"),
    ("base_present", "BOOLEAN"), ("base_developer", "VARCHAR"), ("base_country", "VARCHAR"),
    ("base_family", "VARCHAR"), ("guardrails_removed", "BOOLEAN"),
    ("attribution_confidence", "DOUBLE"), ("matched_by", "VARCHAR"),
)  # fmt: skip

LOG_COLUMNS: tuple[Column, ...] = (
    ("obs_id", "BIGINT"), ("seq", "INTEGER"), ("method", "VARCHAR"), ("path", "VARCHAR"),
    ("status", "INTEGER"), ("bytes", "BIGINT"), ("ms", "DOUBLE"), ("error", "VARCHAR"),
)  # fmt: skip

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_ENCODER = msgspec.json.Encoder(enc_hook=str)
MCP_COLUMNS: tuple[Column, ...] = (("obs_id", "BIGINT"), ("inventory", "JSON"))

_EVIDENCE = msgspec.json.Decoder(list[Evidence])
_MCP = msgspec.json.Decoder(McpInventory)
_TLS = msgspec.json.Decoder(TLSInfo)


# ---------------------------------------------------------------- writing


def parse_timestamp(text: str) -> datetime | None:
    """An ISO-8601 string as a naive UTC datetime (naive input is taken as UTC); None if not."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _int64(value: int | None) -> int | None:
    """Server-reported sizes outside BIGINT's range are stored as NULL, not a failed batch."""
    if value is None or _INT64_MIN <= value <= _INT64_MAX:
        return value
    return None


def scrub(value: Any) -> Any:
    """value with lone surrogates (not storable as UTF-8) replaced by U+FFFD, recursively."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, dict):
        return {scrub(key): scrub(item) for key, item in value.items()}
    return value


def to_json(value: object) -> str:
    """JSON text for a JSON column; non-JSON leaves (paths, networks) become strings."""
    try:
        return _ENCODER.encode(value).decode()
    except UnicodeEncodeError:
        return _ENCODER.encode(scrub(msgspec.to_builtins(value, enc_hook=str))).decode()


def _digest_cells(digest: TextDigest | None) -> Row:
    if digest is None:
        return (None, None, None)
    return (digest.sha256, digest.length, digest.head)


def _base_cells(base: BaseModelRef | None) -> Row:
    if base is None:
        return (False, None, None, None)
    return (True, base.developer, base.country, base.family)


def observation_row(obs_id: int, scan_id: int, obs: ServiceObservation) -> Row:
    tls = None if obs.tls is None else to_json(obs.tls)
    return (
        obs_id, scan_id, obs.ip, obs.port, obs.scheme, str(obs.status), obs.product,
        obs.version, obs.confidence, str(obs.auth), parse_timestamp(obs.observed_at),
        obs.observed_at, obs.hostname, tls, to_json(obs.evidence), to_json(obs.auth_evidence),
        obs.error, obs.source,
    )  # fmt: skip


def model_row(obs_id: int, seq: int, m: ModelRecord) -> Row:
    return (
        obs_id, seq, m.name, m.digest, _int64(m.size_bytes), m.format, m.family,
        list(m.families), m.parameter_size, _int64(m.parameter_count), m.quantization,
        _int64(m.context_length), m.running, _int64(m.vram_bytes), list(m.capabilities),
        *_digest_cells(m.chat_template), *_digest_cells(m.system_prompt), m.licence_name,
        m.architecture, m.remote, m.developer, m.country, m.licence, *_base_cells(m.base),
        m.guardrails_removed, m.attribution_confidence, m.matched_by,
    )  # fmt: skip


def log_row(obs_id: int, seq: int, entry: RequestLogEntry) -> Row:
    return (
        obs_id, seq, entry.method, entry.path, entry.status, entry.bytes, entry.ms,
        entry.error,
    )  # fmt: skip


# ---------------------------------------------------------------- reading


def _digest(cells: dict[str, Any], prefix: str) -> TextDigest | None:
    sha256 = cells[f"{prefix}_sha256"]
    if sha256 is None:
        return None
    return TextDigest(sha256=sha256, length=cells[f"{prefix}_length"], head=cells[f"{prefix}_head"])


def _base(cells: dict[str, Any]) -> BaseModelRef | None:
    if not cells["base_present"]:
        return None
    return BaseModelRef(
        developer=cells["base_developer"],
        country=cells["base_country"],
        family=cells["base_family"],
    )


_MODEL_PLAIN = tuple(
    name
    for name, _ in MODEL_COLUMNS
    if name not in {"obs_id", "seq", "base_present"}
    and not name.startswith(("chat_template_", "system_prompt_", "base_"))
)


def model_from_cells(cells: dict[str, Any]) -> ModelRecord:
    return ModelRecord(
        **{name: cells[name] for name in _MODEL_PLAIN},
        chat_template=_digest(cells, "chat_template"),
        system_prompt=_digest(cells, "system_prompt"),
        base=_base(cells),
    )


def log_from_cells(cells: dict[str, Any]) -> RequestLogEntry:
    return RequestLogEntry(
        method=cells["method"],
        path=cells["path"],
        status=cells["status"],
        bytes=cells["bytes"],
        ms=cells["ms"],
        error=cells["error"],
    )


def observation_from_cells(
    cells: dict[str, Any],
    models: list[dict[str, Any]] | None,
    log: list[dict[str, Any]] | None,
) -> ServiceObservation:
    tls = cells["tls"]
    return ServiceObservation(
        ip=cells["ip"],
        port=cells["port"],
        scheme=cells["scheme"],
        status=ScanStatus(cells["status"]),
        product=cells["product"],
        version=cells["version"],
        confidence=cells["confidence"],
        auth=AuthState(cells["auth"]),
        observed_at=cells["observed_at_text"],
        hostname=cells["hostname"],
        tls=None if tls is None else _TLS.decode(tls),
        models=[model_from_cells(m) for m in models or ()],
        evidence=_EVIDENCE.decode(cells["evidence"]),
        auth_evidence=_EVIDENCE.decode(cells["auth_evidence"]),
        request_log=[log_from_cells(e) for e in log or ()],
        error=cells["error"],
        source=cells["source"],
    )


def mcp_from_cell(cell: str | None) -> McpInventory | None:
    return None if cell is None else _MCP.decode(cell)
