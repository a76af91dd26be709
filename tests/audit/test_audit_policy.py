"""`aicensus audit --policy`: the models the audit found (served, and files on disk) that a
policy denies, with their card summary and the top alternatives, in table and json."""

from __future__ import annotations

import io
import json
from pathlib import Path

from aicensus.assess.policy import load_policy
from aicensus.attribute import attribute_name
from aicensus.audit.records import AuditResult, LocalService, ModelFile
from aicensus.audit.render import to_document, write_table
from aicensus.records import Attribution, AuthState, ModelRecord, ScanStatus, ServiceObservation
from aicensus.report.denied import audit_policy_report
from tests.support.audit_cli import run_audit_cli

EXAMPLE = Path(__file__).parents[2] / "examples" / "policies" / "no-cn-models-on-production.yaml"


def _result(mode: str = "local") -> AuditResult:
    obs = ServiceObservation(
        ip="127.0.0.1", port=11434, scheme="http", status=ScanStatus.IDENTIFIED,
        product="ollama", version="0.12.6", auth=AuthState.OPEN,
        models=[
            ModelRecord(name="qwen2.5:7b", developer="Alibaba", country="CN",
                        licence="Apache-2.0", capabilities=["completion", "tools"]),
            ModelRecord(name="llama3.1:8b", developer="Meta", country="US", licence="llama3.1"),
        ],
    )  # fmt: skip
    service = LocalService(
        ip="127.0.0.1", port=11434, product="ollama", version="0.12.6", auth="open",
        binding="loopback", exposure="loopback", observation=obs,
    )  # fmt: skip
    files = [
        ModelFile(path="/models/qwen2.5-0.5b-instruct-q4_k_m.gguf",
                  name="qwen2.5-0.5b-instruct-q4_k_m.gguf", store="path", format="gguf",
                  size_bytes=1, attribution=attribute_name("qwen2.5-0.5b-instruct-q4_k_m.gguf")),
        ModelFile(path="/models/llama3.1:8b", name="llama3.1:8b", store="ollama", format="gguf",
                  size_bytes=1, attribution=Attribution(developer="Meta", country="US",
                                                        licence="llama3.1", family="llama3.1")),
    ]  # fmt: skip
    return AuditResult(host="test", started_at="2026-01-01T00:00:00Z", seconds=0.1, mode=mode,
                       services=[service], files=files)  # fmt: skip


def test_denied_services_models_and_files() -> None:
    report = audit_policy_report(_result(), load_policy(EXAMPLE), str(EXAMPLE))
    denied = {(d.kind, d.model): d for d in report.denied_models}
    # Local services and files are this machine's: judged whatever the policy's scope.
    assert set(denied) == {("service", "qwen2.5:7b"),
                           ("file", "qwen2.5-0.5b-instruct-q4_k_m.gguf")}  # fmt: skip
    for d in denied.values():
        assert d.rule == "countries.deny"
        assert (d.card.developer, d.card.country) == ("Alibaba", "CN")
        assert d.alternatives and all(a.country != "CN" for a in d.alternatives)
        assert len(d.alternatives) <= 3
    served = denied[("service", "qwen2.5:7b")]
    assert (served.ip, served.port, served.product) == ("127.0.0.1", 11434, "ollama")
    on_disk = denied[("file", "qwen2.5-0.5b-instruct-q4_k_m.gguf")]
    assert on_disk.path == "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf" and on_disk.ip is None
    assert {v["kind"] for v in report.violations} == {"service", "file"}
    assert not report.compliant


def test_network_targets_are_judged_inside_the_scope_only() -> None:
    report = audit_policy_report(_result(mode="targets"), load_policy(EXAMPLE))
    assert [(d.kind, d.model) for d in report.denied_models] == [
        ("file", "qwen2.5-0.5b-instruct-q4_k_m.gguf")
    ]


def test_json_and_table_renderers() -> None:
    result = _result()
    report = audit_policy_report(result, load_policy(EXAMPLE))
    doc = json.loads(json.dumps(to_document(result, report)))
    assert [d["model"] for d in doc["policy"]["denied_models"]] == [
        "qwen2.5:7b", "qwen2.5-0.5b-instruct-q4_k_m.gguf"
    ]  # fmt: skip
    assert "policy" not in to_document(result)
    out = io.StringIO()
    write_table(out, result, policy=report)
    text = out.getvalue()
    block = text.split("Models your policy denies", 1)[1]
    assert "127.0.0.1:11434  qwen2.5:7b" in block
    assert "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf" in block
    assert "Alibaba (CN)" in block and "llama3.1" not in block
    plain = io.StringIO()
    write_table(plain, result)
    assert "Models your policy denies" not in plain.getvalue()


def test_cli_audit_policy_on_model_files(model_dir: Path, bare_env: dict[str, str]) -> None:
    common = ["--no-services", "--no-stores", "--path", str(model_dir), "--policy", str(EXAMPLE)]
    proc = run_audit_cli(*common, "--format", "json", env=bare_env)
    policy = json.loads(proc.stdout)["policy"]
    assert policy["name"] == "no-cn-models-on-production"
    (qwen,) = policy["denied_models"]
    assert qwen["kind"] == "file" and qwen["path"].endswith("qwen2.5-0.5b-instruct-f32.gguf")
    assert qwen["card"]["developer"] == "Alibaba" and qwen["card"]["country"] == "CN"
    assert qwen["alternatives"] and all(a["country"] != "CN" for a in qwen["alternatives"])
    assert "1 models denied" in proc.stderr
    table = run_audit_cli(*common, env=bare_env).stdout
    block = table.split("Models your policy denies", 1)[1]
    assert "qwen2.5-0.5b-instruct-f32.gguf" in block and "alternatives (excluding CN)" in block
    assert "model.safetensors" not in block and "SmolLM2" not in block  # FR, US: allowed


def test_cli_audit_policy_errors(bare_env: dict[str, str], tmp_path: Path) -> None:
    bom = run_audit_cli("--no-services", "--no-stores", "--policy", str(EXAMPLE), "--format",
                        "cyclonedx", env=bare_env, check=False)  # fmt: skip
    assert bom.returncode == 2 and "--policy works with" in bom.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    proc = run_audit_cli("--no-services", "--no-stores", "--policy", str(bad), env=bare_env,
                         check=False)  # fmt: skip
    assert proc.returncode == 2 and "bad.yaml" in proc.stderr and "Traceback" not in proc.stderr
