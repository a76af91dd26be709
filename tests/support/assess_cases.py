"""Observations built in code for the assess, policy and report tests."""

from __future__ import annotations

from aicensus.records import (
    AuthState,
    Evidence,
    ModelRecord,
    RequestLogEntry,
    ScanStatus,
    ServiceObservation,
    TextDigest,
)

FAKE_KEY = "sk-proj-TESTKEYabcdefghijklmnopqrstuvwxyz0123456789"
MALICIOUS_HEAD = (
    "{% for m in messages %}{{ m.content }}{% endfor %}"
    "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('id').read() }}"
)
SCRIPT_NAME = "<script>alert(1)</script>"


def _log(method: str, path: str, status: int | None = 200, size: int = 100) -> RequestLogEntry:
    return RequestLogEntry(method=method, path=path, status=status, bytes=size, ms=1.5)


def open_ollama(ip: str = "1.2.3.4") -> ServiceObservation:
    """Open Ollama 0.1.30 on a public address: two tool-capable models, one also vision."""
    return ServiceObservation(
        ip=ip,
        port=11434,
        scheme="http",
        status=ScanStatus.IDENTIFIED,
        product="ollama",
        version="0.1.30",
        confidence=1.0,
        auth=AuthState.OPEN,
        observed_at="2026-01-02T03:04:05+00:00",
        models=[
            ModelRecord(name="qwen2.5:7b", capabilities=["completion", "tools"],
                        developer="Alibaba", country="CN", licence="apache-2.0"),
            ModelRecord(name="llama3.2-vision:11b", capabilities=["completion", "tools", "vision"],
                        developer="Meta", country="US", licence="llama3.2"),
        ],
        evidence=[
            Evidence(kind="match", probe="GET /", marker="banner: Ollama is running", weight=0.6),
            Evidence(kind="version", probe="GET /api/version", marker="version 0.1.30"),
        ],
        auth_evidence=[Evidence(kind="auth", probe="GET /api/tags", marker="status 200 → open")],
        request_log=[_log("GET", "/"), _log("GET", "/api/version"), _log("GET", "/api/tags"),
                     _log("POST", "/api/show")],
    )  # fmt: skip


def keyed_llamacpp(ip: str = "10.0.0.7") -> ServiceObservation:
    """llama-server with --api-key on a private address: /props 401, /v1/models public."""
    return ServiceObservation(
        ip=ip,
        port=8080,
        scheme="http",
        status=ScanStatus.IDENTIFIED,
        product="llama.cpp",
        version="b9000-abcdef12",  # newer than every bundled llama.cpp advisory
        confidence=0.9,
        auth=AuthState.AUTH_REQUIRED,
        models=[ModelRecord(name="Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
                            capabilities=["completion", "tools"])],
        auth_evidence=[Evidence(kind="auth", probe="GET /props",
                                marker="status 401 → protected")],
        request_log=[_log("GET", "/health"), _log("GET", "/props", 401), _log("GET", "/v1/models"),
                     _log("GET", "/slots", 401)],
    )  # fmt: skip


def hostile_models(ip: str = "192.168.1.20") -> ServiceObservation:
    """Open Ollama (private address, current version) serving hostile model metadata."""
    return ServiceObservation(
        ip=ip,
        port=11434,
        scheme="http",
        status=ScanStatus.IDENTIFIED,
        product="ollama",
        version="0.33.0",
        auth=AuthState.OPEN,
        models=[
            ModelRecord(name="evil:latest", chat_template=TextDigest(
                sha256="a" * 64, length=4096, head=MALICIOUS_HEAD[:200])),
            ModelRecord(name="helper:latest", system_prompt=TextDigest(
                sha256="b" * 64, length=180,
                head=f"You are a support bot. Use key {FAKE_KEY} for the billing API.")),
            ModelRecord(name="llama3-abliterated:8b", guardrails_removed=True,
                        developer="Meta", country="US"),
            ModelRecord(name=SCRIPT_NAME, developer="=HYPERLINK(\"http://x\")", country="CN"),
        ],
        auth_evidence=[Evidence(kind="auth", probe="GET /api/tags", marker="status 200 → open")],
        request_log=[_log("GET", "/api/tags"), _log("POST", "/api/show")],
    )  # fmt: skip


def make_store(path: str) -> str:
    """A store with one scan of the three test services (and a non-HTTP port)."""
    from aicensus.store import Store

    with Store.open(path) as store:
        scan = store.begin_scan("scan", {"targets": ["test"]})
        store.add_observations(scan, [
            open_ollama(), keyed_llamacpp(), hostile_models(),
            ServiceObservation(ip="10.0.0.9", port=22, scheme=None, status=ScanStatus.NOT_HTTP),
        ])  # fmt: skip
        store.finish_scan(scan)
    return path
