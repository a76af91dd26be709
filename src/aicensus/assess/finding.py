"""The Finding record: one security-relevant fact about one service (or one of its models)."""

from __future__ import annotations

import enum

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


class Finding(msgspec.Struct, kw_only=True, frozen=True):
    """One finding. `id` is stable across runs (e.g. AIC-OLLAMA-UNAUTH-MGMT, AIC-CVE-2024-37032).

    `evidence` holds the request-log lines and evidence markers that prove it, already
    free of secrets; `owasp` holds ids such as "LLM06:2025".
    """

    id: str
    severity: Severity
    title: str
    detail: str
    remediation: str
    ip: str
    port: int
    product: str | None = None
    version: str | None = None
    model: str | None = None
    evidence: list[str] = msgspec.field(default_factory=list)
    owasp: list[str] = msgspec.field(default_factory=list)
    cwe: list[str] = msgspec.field(default_factory=list)
    cve: list[str] = msgspec.field(default_factory=list)
    references: list[str] = msgspec.field(default_factory=list)
    confidence: str = "confirmed"  # "confirmed" | "likely" | "unconfirmed"

    def key(self) -> tuple[str, str, int, str, str]:
        """Identity of the finding across scans (used for fingerprints and de-duplication)."""
        return (self.id, self.ip, self.port, self.model or "", ",".join(self.cve))


def sort_key(f: Finding) -> tuple[int, str, str, int, str]:
    """Most severe first, then by id, address, port and model."""
    return (-f.severity.rank, f.id, f.ip, f.port, f.model or "")
