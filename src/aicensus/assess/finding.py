"""The Finding record: one security-relevant fact about a service (or one of its models) or a
model file. `aicensus scan`/`report`, `policy` and `aicensus audit` all produce and read this one
record; its JSON form is documented in docs/findings.md and docs/audit.md."""

from __future__ import annotations

import enum
from typing import Literal

import msgspec


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """info 0 … critical 4: compare severities with this."""
        return _RANK[self]


_RANK = {
    Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4
}  # fmt: skip

# OWASP Top 10 for LLM Applications, 2025 edition (genai.owasp.org/llm-top-10/).
OWASP_LLM_2025: dict[str, str] = {
    "LLM01": "Prompt Injection",
    "LLM02": "Sensitive Information Disclosure",
    "LLM03": "Supply Chain",
    "LLM04": "Data and Model Poisoning",
    "LLM05": "Improper Output Handling",
    "LLM06": "Excessive Agency",
    "LLM07": "System Prompt Leakage",
    "LLM08": "Vector and Embedding Weaknesses",
    "LLM09": "Misinformation",
    "LLM10": "Unbounded Consumption",
}
OWASP_LLM_URL = "https://genai.owasp.org/llm-top-10/"


FindingKind = Literal["service", "file"]


class Finding(msgspec.Struct, kw_only=True, frozen=True):
    """One finding. `id` is stable across runs (e.g. AIC-OLLAMA-UNAUTH-MGMT, AIC-CVE-2024-37032).

    Where: a `service` finding has `ip` and `port` (and the service's `product`, `version`); a
    `file` finding has the model file's `path`. `model` names the model either way.
    `evidence` holds the request-log lines, evidence markers or file facts that prove it,
    already free of secrets. Framework references are set when the finding is made (from the
    check's own OWASP/CWE ids and assess/frameworks/mapping.yaml) and travel with it: `owasp`
    holds ids such as "LLM06:2025", `cwe` "CWE-306", `atlas` MITRE ATLAS ids ("AML.T0040"),
    `nist` NIST AI RMF / CSF 2.0 ids ("GOVERN 6", "PR.AA").
    """

    id: str
    severity: Severity
    title: str
    detail: str
    remediation: str
    kind: FindingKind = "service"
    ip: str | None = None
    port: int | None = None
    path: str | None = None
    product: str | None = None
    version: str | None = None
    model: str | None = None
    evidence: list[str] = msgspec.field(default_factory=list)
    owasp: list[str] = msgspec.field(default_factory=list)
    cwe: list[str] = msgspec.field(default_factory=list)
    atlas: list[str] = msgspec.field(default_factory=list)
    nist: list[str] = msgspec.field(default_factory=list)
    cve: list[str] = msgspec.field(default_factory=list)
    references: list[str] = msgspec.field(default_factory=list)
    confidence: str = "confirmed"  # "confirmed" | "likely" | "unconfirmed"

    def __post_init__(self) -> None:
        # Where is part of the identity (key, fingerprints): never a finding without it.
        if self.kind == "file" and not self.path:
            raise ValueError(f"file finding {self.id} needs a path")
        if self.kind == "service" and (self.ip is None or self.port is None):
            raise ValueError(f"service finding {self.id} needs ip and port")

    @property
    def subject(self) -> str:
        """Where, as one string: `ip:port` (`[v6]:port`) for a service, the path for a file."""
        if self.kind == "file":
            return self.path or ""
        ip = self.ip or ""
        host = f"[{ip}]" if ":" in ip else ip
        return f"{host}:{self.port}"

    def key(self) -> tuple[str, str, int, str, str]:
        """Identity of the finding across scans (used for fingerprints and de-duplication)."""
        where = self.path if self.kind == "file" else self.ip
        return (self.id, where or "", self.port or 0, self.model or "", ",".join(self.cve))


def sort_key(f: Finding) -> tuple[int, str, str, str, int, str]:
    """Most severe first, then by id, kind, address (or path), port and model."""
    where = (f.path if f.kind == "file" else f.ip) or ""
    return (-f.severity.rank, f.id, f.kind, where, f.port or 0, f.model or "")
