"""Varied, fully populated observations for store tests."""

from __future__ import annotations

from aicensus.records import (
    AuthState,
    BaseModelRef,
    Evidence,
    ModelRecord,
    RequestLogEntry,
    ScanStatus,
    ServiceObservation,
    TextDigest,
    TLSInfo,
)

_STATUSES = list(ScanStatus)
_AUTH = list(AuthState)


def _model(i: int, j: int) -> ModelRecord:
    if j == 2:
        return ModelRecord(name=f"bare-{i}")  # every optional field left at its default
    return ModelRecord(
        name=f"llama3.{j}:8b-{i}",
        digest=f"sha256:{i:064x}",
        size_bytes=4_920_000_000 + i,
        format="gguf",
        family="llama",
        families=["llama", "clip"] if j else [],
        parameter_size="8.0B",
        parameter_count=8_030_261_248,
        quantization="Q4_K_M",
        context_length=131_072,
        running=bool(j),
        vram_bytes=5_000_000_000 if j else None,
        capabilities=["completion", "tools"],
        chat_template=TextDigest(sha256="ab" * 32, length=1234, head="{{- bos_token }}\n'\"é"),
        system_prompt=TextDigest(sha256="cd" * 32, length=0, head="") if j else None,
        licence_name="LLAMA 3.1 COMMUNITY LICENSE",
        architecture="llama",
        remote=not j,
        developer="Meta",
        country="US",
        licence="llama3.1",
        base=BaseModelRef(developer="Meta", country="US", family="llama") if j else BaseModelRef(),
        guardrails_removed=bool(j),
        attribution_confidence=0.1 + j / 3,
    )


def _log(i: int, k: int) -> RequestLogEntry:
    return RequestLogEntry(
        method="GET" if k else "POST",
        path=f"/api/tags?x={i}&k={k}",
        status=None if k == 5 else 200 + k,
        bytes=k * 1000 + i,
        ms=round(1.5 * k + i / 7, 2),
        error="connection reset" if k == 5 else None,
    )


def observation(i: int, models: int = 3, log: int = 6) -> ServiceObservation:
    """The i-th test observation: even ones fully populated, odd ones mostly defaults."""
    if i % 2:
        return ServiceObservation(
            ip=f"2001:db8::{i:x}", port=8000 + i % 1000, scheme=None, status=_STATUSES[i % 8]
        )
    return ServiceObservation(
        ip=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
        port=11434,
        scheme="https" if i % 4 else "http",
        status=ScanStatus.IDENTIFIED,
        product="ollama",
        version="0.5.7",
        confidence=0.95,
        auth=_AUTH[i % 4],
        observed_at=f"2025-01-0{1 + i % 9}T12:{i % 60:02d}:00.123456+00:00",
        hostname=f"gpu{i}.example" if i % 3 else None,
        tls=TLSInfo(subject="CN=x", issuer="CN=x", sans=["a", "b"], expired=False)
        if i % 4
        else None,
        models=[_model(i, j) for j in range(models)],
        evidence=[Evidence(kind="match", probe="GET /api/version", marker="version", weight=0.6)],
        auth_evidence=[Evidence(kind="auth", probe="GET /api/tags", marker="200 without key")],
        request_log=[_log(i, k) for k in range(log)],
        error="partial read" if i % 10 == 0 else None,
        source="scan" if i % 6 else "shodan-json",
    )
