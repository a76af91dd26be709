"""Acceptance, as a new user would run it: `aicensus audit` on a fresh machine, then with the lab
up and a model folder holding benign and malicious files. Loopback only: every probe goes to
127.0.0.1 (`--loopback-only`, and `--ports` naming the lab's own ports).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from aicensus.lab import llama_server
from aicensus.lab.manager import Lab, free_port
from tests.support.audit_cli import run_audit_cli

FILE_IDS = {
    "SmolLM2-135M-Instruct.Q4_1.gguf": ("Hugging Face", "US", "Apache-2.0"),
    "qwen2.5-0.5b-instruct-f32.gguf": ("Alibaba", "CN", "Apache-2.0"),
    "mistral-7b-instruct-v0.3/model.safetensors": ("Mistral AI", "FR", "Apache-2.0"),
}


def _lab_port(lab: Lab, name: str) -> int:
    return int(lab.url(name).rsplit(":", 1)[1])


# --------------------------------------------------------------------------- a fresh machine


def test_fresh_machine_reports_nothing_found(bare_env: dict[str, str]) -> None:
    port = free_port()
    proc = run_audit_cli("--ports", str(port), "--loopback-only", env=bare_env)
    out = proc.stdout
    assert "No AI services found on this machine" in out
    assert "No model stores found" in out
    assert "No model files found." in out
    assert "Nothing found: no AI services, no model stores, no model files." in out
    assert "0 AI services" in proc.stderr


def test_fresh_machine_json_and_cyclonedx(bare_env: dict[str, str], tmp_path: Path) -> None:
    port = str(free_port())
    doc = json.loads(run_audit_cli("--ports", port, "--loopback-only", "--format", "json",
                                   env=bare_env).stdout)  # fmt: skip
    assert doc["services"] == [] and doc["files"] == [] and doc["stores"] == []
    assert doc["summary"]["worst"] is None
    bom_path = tmp_path / "bom.json"
    run_audit_cli("--ports", port, "--loopback-only", "--format", "cyclonedx", "-o",
                  str(bom_path), env=bare_env)  # fmt: skip
    text = bom_path.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    assert json.loads(text)["specVersion"] == "1.6"


def test_bad_arguments_exit_2(bare_env: dict[str, str], tmp_path: Path) -> None:
    proc = run_audit_cli("--no-services", "--path", str(tmp_path / "missing"), env=bare_env,
                         check=False)  # fmt: skip
    assert proc.returncode == 2 and "no such file" in proc.stderr
    proc = run_audit_cli("--ports", "nope", env=bare_env, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- with the lab up


@pytest.fixture(scope="module")
def ollama_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with Lab.isolated(tmp_path_factory.mktemp("lab"), only="ollama") as lab:
        yield lab


@pytest.fixture(scope="module")
def audited(
    ollama_lab: Lab, model_dir: Path, ollama_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    """`aicensus audit --path DIR` with the lab up: JSON, and the BOM written beside it."""
    import os

    env = {**os.environ, "HOME": str(ollama_home)}
    for var in ("OLLAMA_MODELS", "HF_HOME", "HF_HUB_CACHE", "LLAMA_CACHE", "XDG_CACHE_HOME"):
        env.pop(var, None)
    port = str(_lab_port(ollama_lab, "ollama"))
    common = ["--path", str(model_dir), "--ports", port, "--loopback-only"]
    doc = json.loads(run_audit_cli(*common, "--format", "json", env=env).stdout)
    bom_path = tmp_path_factory.mktemp("bom") / "ai-bom.json"
    run_audit_cli(*common, "--format", "cyclonedx", "-o", str(bom_path), env=env)
    table = run_audit_cli(*common, env=env)
    failing = run_audit_cli(*common, "--fail-on", "critical", env=env, check=False)
    return {
        "doc": doc,
        "bom": bom_path.read_text(),
        "table": table.stdout,
        "fail_rc": failing.returncode,
        "port": int(port),
        "pid": ollama_lab.state().components["ollama"].pid,
    }


def test_lab_ollama_is_listed_with_loopback_exposure(audited: dict) -> None:
    (svc,) = audited["doc"]["services"]
    assert (svc["ip"], svc["port"], svc["product"]) == ("127.0.0.1", audited["port"], "ollama")
    assert svc["auth"] == "open"
    assert (svc["binding"], svc["exposure"]) == ("loopback", "loopback")
    assert svc["bound_to"] == ["127.0.0.1"]
    assert svc["fix"] is None  # nothing to fix: private
    assert svc["process"]["pid"] == audited["pid"]
    assert svc["observation"]["models"], "the emulator's models are enumerated"
    assert not any(f["id"].startswith("AIC-AUDIT-EXPOSED") for f in svc["findings"])
    # Exposure findings stay low; published advisories for the emulated version keep theirs.
    assert all(f["severity"] in ("low", "info") for f in svc["findings"] if not f["cve"])


def test_every_model_file_has_provenance(audited: dict) -> None:
    files = {f["name"]: f for f in audited["doc"]["files"]}
    for name, (developer, country, licence) in FILE_IDS.items():
        att = files[name]["attribution"]
        assert (att["developer"], att["country"], att["licence"]) == (
            developer,
            country,
            licence,
        ), name
    ollama = files["llama3.2:1b"]
    assert ollama["store"] == "ollama" and ollama["aliases"] == ["llama3.2:latest"]
    assert (ollama["attribution"]["developer"], ollama["attribution"]["country"]) == ("Meta", "US")
    assert ollama["attribution"]["licence"]


def test_malicious_pickle_and_template_are_critical(audited: dict) -> None:
    files = {f["name"]: f for f in audited["doc"]["files"]}
    pickle_ids = {f["id"]: f["severity"] for f in files["pytorch_model.pkl"]["findings"]}
    template_ids = {f["id"]: f["severity"] for f in files["helpful-assistant.gguf"]["findings"]}
    keras_ids = {f["id"]: f["severity"] for f in files["classifier.keras"]["findings"]}
    assert pickle_ids["AIC-FILE-PICKLE-CODE-EXEC"] == "critical"
    assert template_ids["AIC-TEMPLATE-CODE-EXEC"] == "critical"
    assert keras_ids["AIC-FILE-KERAS-LAMBDA"] == "critical"
    assert audited["doc"]["summary"]["worst"] == "critical"
    assert audited["fail_rc"] == 1


def test_table_shows_services_files_and_criticals(audited: dict) -> None:
    table = audited["table"]
    assert f"http://127.0.0.1:{audited['port']}" in table and "loopback" in table
    assert "Hugging Face (US)" in table and "Alibaba (CN)" in table
    assert "CRITICAL  AIC-FILE-PICKLE-CODE-EXEC" in table
    assert "CRITICAL  AIC-TEMPLATE-CODE-EXEC" in table
    assert "\x1b" not in table


def test_cyclonedx_bom_validates_and_holds_everything(audited: dict) -> None:
    text = audited["bom"]
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    (service,) = bom["services"]
    assert service["name"] == "ollama" and service["authenticated"] is False
    files = [c for c in bom["components"] if c["bom-ref"].startswith("file:")]
    assert len(files) == len(audited["doc"]["files"])
    smol = next(c for c in files if c["name"] == "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert smol["type"] == "machine-learning-model"
    assert smol["manufacturer"]["name"] == "Hugging Face"
    assert smol["hashes"][0]["alg"] == "SHA-256" and len(smol["hashes"][0]["content"]) == 64
    assert smol["licenses"][0]["license"]["id"] == "Apache-2.0"
    vulns = {v["id"] for v in bom["vulnerabilities"]}
    assert {"AIC-FILE-PICKLE-CODE-EXEC", "AIC-TEMPLATE-CODE-EXEC"} <= vulns


# --------------------------------------------------------------------------- the real llama-server


@pytest.fixture(scope="module")
def llama_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if llama_server.find_llama_server() is None:
        message = "llama-server not built (run `aicensus lab setup`)"
        if llama_server.llama_server_required():
            pytest.fail(message + f"; ${llama_server.ENV_REQUIRE} is set")
        pytest.skip(message)
    lab = Lab.isolated(tmp_path_factory.mktemp("llama"), only="llama-server-open", build=False)
    with lab:
        yield lab


@pytest.mark.llama_server
def test_real_llama_server_is_audited(llama_lab: Lab, bare_env: dict[str, str]) -> None:
    port = _lab_port(llama_lab, "llama-server-open")
    proc = run_audit_cli("--ports", str(port), "--loopback-only", "--no-stores", "--format",
                         "json", env=bare_env)  # fmt: skip
    (svc,) = json.loads(proc.stdout)["services"]
    assert svc["product"] == "llama.cpp" and svc["auth"] == "open"
    assert (svc["binding"], svc["exposure"]) == ("loopback", "loopback")
    assert svc["process"]["pid"] == llama_lab.state().components["llama-server-open"].pid
    (model,) = svc["observation"]["models"]
    assert "SmolLM2-135M" in model["name"] and model["developer"] == "Hugging Face"
