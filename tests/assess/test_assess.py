from __future__ import annotations

import msgspec
import pytest

from aicensus.assess import Finding, Severity, assess, builtin_checks
from aicensus.assess.advisories.bundle import current_bundle
from aicensus.assess.advisories.match import judge
from aicensus.assess.advisories.versions import parse as parse_version
from aicensus.assess.catalog import CheckError, parse_checks
from aicensus.assess.detectors import address_scope
from aicensus.records import AuthState, Evidence, ScanStatus, ServiceObservation
from tests.support.assess_cases import FAKE_KEY, hostile_models, keyed_llamacpp, open_ollama

OLLAMA_0130_CVES = {
    "CVE-2024-37032", "CVE-2024-39719", "CVE-2024-39720", "CVE-2024-39721", "CVE-2024-39722",
    "CVE-2024-45436", "CVE-2024-12886", "CVE-2025-0312", "CVE-2025-0313", "CVE-2025-0315",
    "CVE-2025-0317", "CVE-2025-51471", "CVE-2026-7482", "CVE-2026-7020",
}  # fmt: skip


def ids(findings: list[Finding]) -> list[tuple[str, str | None]]:
    return sorted((f.id, f.model) for f in findings)


def test_catalogue_loads_and_is_valid() -> None:
    checks = builtin_checks()
    assert len({c.id for c in checks}) == len(checks)
    assert all(o.startswith("LLM") for c in checks for o in c.owasp)
    assert current_bundle().advisories


def _advisory_ids(product: str, version: str) -> set[str]:
    verdict = judge(current_bundle(), product, version)
    return {f"AIC-{m.advisory.cve or m.advisory.id}" for m in verdict.matches}


def test_open_old_ollama_exact_findings() -> None:
    found = assess(open_ollama())
    vulns = _advisory_ids("ollama", "0.1.30")
    # The hand-checked advisories of the old table are all among them.
    assert {f"AIC-{c}" for c in OLLAMA_0130_CVES} <= vulns
    expected = [
        ("AIC-CLEARTEXT-PUBLIC", None),
        ("AIC-EXPOSURE-PUBLIC", None),
        ("AIC-MODEL-TOOL-CALLING", "llama3.2-vision:11b"),
        ("AIC-MODEL-TOOL-CALLING", "qwen2.5:7b"),
        ("AIC-MODEL-VISION", "llama3.2-vision:11b"),
        ("AIC-OLLAMA-UNAUTH-MGMT", None),
        ("AIC-UNAUTH-INFERENCE", None),
        *((v, None) for v in vulns),
        ("AIC-VULN-UNDETERMINED", None),  # a record without a usable range (CVE-2025-15063)
    ]
    assert ids(found) == sorted(expected)
    assert found[0].severity == Severity.CRITICAL  # most severe first
    mgmt = next(f for f in found if f.id == "AIC-OLLAMA-UNAUTH-MGMT")
    assert mgmt.severity == Severity.CRITICAL
    assert mgmt.owasp == ["LLM03:2025", "LLM04:2025", "LLM10:2025"]
    assert "CWE-306" in mgmt.cwe
    assert (mgmt.ip, mgmt.port, mgmt.product) == ("1.2.3.4", 11434, "ollama")
    assert "request: GET /api/tags → 200 (100 bytes, 1.5 ms)" in mgmt.evidence
    assert any("never sent" in e and "POST /api/pull" in e for e in mgmt.evidence)
    probllama = next(f for f in found if f.id == "AIC-CVE-2024-37032")
    assert probllama.cve == ["CVE-2024-37032", "GHSA-8hqg-whrw-pv92", "GO-2024-2901"]
    assert probllama.confidence == "confirmed"  # GO-2024-2901 (Go vulndb): < 0.1.34
    assert probllama.references[0].startswith("https://")
    assert "0.1.34" in probllama.remediation
    bleeding = next(f for f in found if f.id == "AIC-CVE-2026-7482")
    assert bleeding.confidence == "confirmed"


def test_keyed_llamacpp_gets_no_unauth_findings() -> None:
    found = assess(keyed_llamacpp())
    # b9000 is past every bundled range; llama.cpp records without a usable range remain.
    assert ids(found) == [("AIC-EXPOSURE-PRIVATE", None), ("AIC-VULN-UNDETERMINED", None)]
    older = msgspec.structs.replace(keyed_llamacpp(), version="b6000-abcdef12")
    assert {f.id for f in assess(older) if f.id.startswith("AIC-CVE")} == {
        "AIC-CVE-2026-27940",  # < b8146
        "AIC-CVE-2026-33298",  # < b7824 (the GitHub CNA's range)
        "AIC-CVE-2026-34159",  # < b8492
    }


def test_hostile_models_exact_findings() -> None:
    found = assess(hostile_models())
    assert ids(found) == sorted([
        ("AIC-EXPOSURE-PRIVATE", None),
        ("AIC-MODEL-GUARDRAILS-REMOVED", "llama3-abliterated:8b"),
        ("AIC-MODEL-SECRET-IN-PROMPT", "helper:latest"),
        ("AIC-MODEL-SYSTEM-PROMPT-EXPOSED", "helper:latest"),
        ("AIC-OLLAMA-UNAUTH-MGMT", None),
        ("AIC-TEMPLATE-CODE-EXEC", "evil:latest"),
        ("AIC-UNAUTH-INFERENCE", None),
        # Go vulndb lists these with no fixed release: every version is in range.
        *((v, None) for v in _advisory_ids("ollama", "0.33.0")),
        ("AIC-VULN-UNDETERMINED", None),
    ])  # fmt: skip
    tmpl = next(f for f in found if f.id == "AIC-TEMPLATE-CODE-EXEC")
    joined = "\n".join(tmpl.evidence)
    for gadget in ("__globals__", "__builtins__", "__import__", "popen", "__init__"):
        assert f"'{gadget}'" in joined
    assert "first 130 of 4096 characters" in joined
    secret = next(f for f in found if f.id == "AIC-MODEL-SECRET-IN-PROMPT")
    assert secret.severity == Severity.CRITICAL
    assert any(
        e.startswith("openai-api-key in system_prompt head at characters") for e in secret.evidence
    )
    assert FAKE_KEY not in msgspec.json.encode(found).decode()
    assert FAKE_KEY[:12] not in msgspec.json.encode(found).decode()


def test_non_identified_and_unknown_products_yield_nothing() -> None:
    obs = ServiceObservation(ip="1.2.3.4", port=80, scheme="http", status=ScanStatus.UNIDENTIFIED)
    assert assess(obs) == []


def test_partial_auth_still_reports_inference() -> None:
    obs = msgspec.structs.replace(keyed_llamacpp(), auth=AuthState.PARTIAL)
    found = assess(obs)
    inference = next(f for f in found if f.id == "AIC-UNAUTH-INFERENCE")
    assert "Some model or inference routes" in inference.detail


def test_honeypot_marker_is_informational() -> None:
    obs = msgspec.structs.replace(
        keyed_llamacpp(),
        evidence=[Evidence(kind="honeypot", probe="GET /props", marker="impossible build b1")],
    )
    hp = [f for f in assess(obs) if f.id == "AIC-HONEYPOT-SUSPECTED"]
    assert len(hp) == 1 and hp[0].severity == Severity.INFO
    assert hp[0].evidence == ["honeypot: GET /props — impossible build b1"]


def test_vllm_sleep_needs_read_only_proof() -> None:
    from aicensus.records import RequestLogEntry

    base = ServiceObservation(ip="10.1.1.1", port=8000, scheme="http",
                              status=ScanStatus.IDENTIFIED, product="vllm", version="0.15.0",
                              auth=AuthState.AUTH_REQUIRED)  # fmt: skip
    assert "AIC-VLLM-UNAUTH-SLEEP" not in {f.id for f in assess(base)}
    proven = msgspec.structs.replace(
        base,
        request_log=[
            RequestLogEntry(method="GET", path="/is_sleeping", status=200, bytes=20, ms=1.0)
        ],
    )
    sleep = next(f for f in assess(proven) if f.id == "AIC-VLLM-UNAUTH-SLEEP")
    assert sleep.confidence == "confirmed"
    assert any("read-only proof: request: GET /is_sleeping → 200" in e for e in sleep.evidence)


def _with_log(obs: ServiceObservation, *entries: tuple[str, str, int]) -> ServiceObservation:
    from aicensus.records import RequestLogEntry

    log = [RequestLogEntry(method=m, path=p, status=s, bytes=0, ms=1.0) for m, p, s in entries]
    return msgspec.structs.replace(obs, request_log=[*obs.request_log, *log])


def test_ollama_management_proven_by_route_existence_405() -> None:
    """HEAD /api/pull → 405 (gin: POST-only route) is the proof line; the pull is never sent."""
    proven = _with_log(open_ollama(), ("HEAD", "/api/pull", 405))
    mgmt = next(f for f in assess(proven) if f.id == "AIC-OLLAMA-UNAUTH-MGMT")
    assert mgmt.confidence == "confirmed"
    assert (
        "route exists: request: HEAD /api/pull → 405 (0 bytes, 1.0 ms) (bodiless HEAD; 405 = "
        "registered for another method, handler not run)"
    ) in mgmt.evidence
    assert any("never sent" in e and "POST /api/pull" in e for e in mgmt.evidence)
    # Without the 405 (a release before gin 405s answers 404) it rests on the documented lack
    # of auth alone.
    for obs in (open_ollama(), _with_log(open_ollama(), ("HEAD", "/api/pull", 404))):
        mgmt = next(f for f in assess(obs) if f.id == "AIC-OLLAMA-UNAUTH-MGMT")
        assert mgmt.confidence == "likely"
        assert not any(e.startswith("route exists") for e in mgmt.evidence)


def test_only_a_head_405_counts_as_route_existence() -> None:
    for method, status in (("GET", 405), ("HEAD", 200), ("HEAD", 401), ("POST", 405)):
        obs = _with_log(open_ollama(), (method, "/api/pull", status))
        mgmt = next(f for f in assess(obs) if f.id == "AIC-OLLAMA-UNAUTH-MGMT")
        assert mgmt.confidence == "likely", (method, status)


def test_vllm_lora_needs_the_405_and_cites_it() -> None:
    base = ServiceObservation(ip="10.1.1.1", port=8000, scheme="http",
                              status=ScanStatus.IDENTIFIED, product="vllm", version="0.15.0",
                              auth=AuthState.OPEN)  # fmt: skip
    assert "AIC-VLLM-UNAUTH-LORA" not in {f.id for f in assess(base)}  # opt-in surface
    off = _with_log(base, ("HEAD", "/v1/load_lora_adapter", 404))  # not registered
    assert "AIC-VLLM-UNAUTH-LORA" not in {f.id for f in assess(off)}
    keyed = _with_log(base, ("HEAD", "/v1/load_lora_adapter", 401))  # --api-key guards /v1
    assert "AIC-VLLM-UNAUTH-LORA" not in {f.id for f in assess(keyed)}
    on = _with_log(base, ("HEAD", "/v1/load_lora_adapter", 405))
    lora = next(f for f in assess(on) if f.id == "AIC-VLLM-UNAUTH-LORA")
    assert lora.confidence == "confirmed"
    assert any(e.startswith("route exists: request: HEAD /v1/load_lora_adapter → 405")
               for e in lora.evidence)  # fmt: skip


def test_llamacpp_slots_proof_and_no_slots() -> None:
    open_llama = msgspec.structs.replace(keyed_llamacpp(), auth=AuthState.OPEN, request_log=[])
    enabled = _with_log(open_llama, ("HEAD", "/slots", 200), ("HEAD", "/lora-adapters", 200))
    found = {f.id: f for f in assess(enabled)}
    assert found["AIC-LLAMACPP-UNAUTH-SLOTS"].confidence == "confirmed"
    assert "read-only proof: request: HEAD /slots → 200 (0 bytes, 1.0 ms)" in (
        found["AIC-LLAMACPP-UNAUTH-SLOTS"].evidence
    )
    assert found["AIC-LLAMACPP-UNAUTH-LORA"].confidence == "confirmed"
    no_slots = _with_log(open_llama, ("HEAD", "/slots", 501))  # --no-slots
    assert "AIC-LLAMACPP-UNAUTH-SLOTS" not in {f.id for f in assess(no_slots)}
    unprobed = {f.id: f for f in assess(open_llama)}
    assert unprobed["AIC-LLAMACPP-UNAUTH-SLOTS"].confidence == "likely"


def test_exists_probes_must_be_head() -> None:
    text = (
        "checks: [{id: AIC-X, detector: unauth_management, severity: low, title: t, "
        "description: d, remediation: r, params: {routes: [POST /x], exists_probes: [GET /x]}}]"
    )
    with pytest.raises(CheckError, match="must be a HEAD"):
        parse_checks("site.yaml", text)


def test_vllm_version_ranges() -> None:
    obs = ServiceObservation(ip="10.1.1.1", port=8000, scheme="http", product="vllm",
                             status=ScanStatus.IDENTIFIED, version="0.11.0")  # fmt: skip
    cves = {c for f in assess(obs) for c in f.cve}
    assert {"CVE-2025-62164", "CVE-2026-22778", "CVE-2026-22807"} <= cves
    assert {f.id for f in assess(obs) if f.id.startswith("AIC-CVE")} == _advisory_ids("vllm", "0.11.0")


@pytest.mark.parametrize(
    ("scheme", "text", "expected"),
    [("pep440", "0.1.30", "0.1.30"), ("pep440", "v0.12.6-rc1", "0.12.6rc1"),
     ("pep440", "0.0.0", None), ("pep440", "garbage!", None),
     ("llamacpp-build", "b6000-abcdef12", "6000"), ("llamacpp-build", "b3561", "3561"),
     ("llamacpp-build", "6000 (abcdef12)", "6000"), ("llamacpp-build", "abcdef", None)],
)  # fmt: skip
def test_parse_version(scheme: str, text: str, expected: str | None) -> None:
    got = parse_version(scheme, text)
    assert (str(got) if got else None) == expected


def test_llamacpp_build_ordering() -> None:
    assert parse_version("llamacpp-build", "b999-aa") < parse_version("llamacpp-build", "b3561")
    old = msgspec.structs.replace(keyed_llamacpp(), version="b3000-deadbeef")
    assert {"CVE-2024-42477", "CVE-2024-42478", "CVE-2024-42479"} <= {
        c for f in assess(old) for c in f.cve
    }


@pytest.mark.parametrize(
    ("ip", "scope"),
    [("8.8.8.8", "public"), ("10.0.0.1", "private"), ("100.64.0.1", "private"),
     ("127.0.0.1", "loopback"), ("::1", "loopback"), ("fd00::1", "private"),
     ("2606:4700::1111", "public"), ("::ffff:10.0.0.1", "private"), ("not-an-ip", "unknown")],
)  # fmt: skip
def test_address_scope(ip: str, scope: str) -> None:
    assert address_scope(ip) == scope


@pytest.mark.parametrize(
    ("text", "message"),
    [("checks: [{id: bad, detector: exposure, severity: low, title: t, description: d, "
      "remediation: r, params: {scope: public}}]", "checks[0].id"),
     ("checks: [{id: AIC-X, detector: nope, severity: low, title: t, description: d, "
      "remediation: r}]", "checks[0].detector"),
     ("checks: [{id: AIC-X, detector: exposure, severity: urgent, title: t, description: d, "
      "remediation: r}]", "severity"),
     ("checks: [{id: AIC-X, detector: exposure, severity: low, title: t, description: d, "
      "remediation: r, owasp: [LLM11], params: {scope: public}}]", "owasp[0]"),
     ("checks: [{id: AIC-X, detector: exposure, severity: low, title: t, description: d, "
      "remediation: r, params: {scope: moon}}]", "params"),
     ("checks: [{id: AIC-X, detector: exposure, severity: low, title: t, description: d, "
      "remediation: r, params: {scope: public, extra: 1}}]", "extra"),
     ("checks: [{", "not valid YAML")],
)  # fmt: skip
def test_invalid_check_files_name_file_and_field(text: str, message: str) -> None:
    with pytest.raises(CheckError) as info:
        parse_checks("site.yaml", text)
    assert str(info.value).startswith("site.yaml")
    assert message in str(info.value)
