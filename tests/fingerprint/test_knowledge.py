"""Product knowledge is data: a product added as one signature file reaches the product list,
the port preset, the audit's remediation and process hints — with no code change — and a bad
knowledge field is a one-line SignatureError naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from aicensus import api
from aicensus.audit import services as svc
from aicensus.audit.records import ProcessInfo
from aicensus.errors import SignatureError
from aicensus.fingerprint.load import ai_ports, builtin_signatures, parse_signature, product_ids

ACME = """\
id: acme-llm
name: Acme LLM Server
description: A made-up product, added as one file.
ports: [18123]
references: [https://example.invalid/acme]
probes:
  root: {path: /}
  info: {path: /acme/info}
matchers:
  - name: banner
    probe: info
    status: [200]
    json_equals: {server: acme-llm}
    weight: 0.8
    why: only Acme names itself in /acme/info
remediation: start acme-llm with --bind 127.0.0.1 and --token
processes: [acme-llm-serve]
"""


def write_product(directory: Path, text: str = ACME, name: str = "acme-llm") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for sig in builtin_signatures():  # a custom directory is the whole product set
        src = Path(__file__).resolve().parents[2] / "src/aicensus/signatures" / f"{sig.id}.yaml"
        (directory / src.name).write_text(src.read_text())
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


def test_a_product_added_as_one_file_reaches_list_ports_and_audit(tmp_path: Path) -> None:
    write_product(tmp_path / "sigs")
    sigs = api.signatures(tmp_path / "sigs")
    assert "acme-llm" in product_ids(sigs) and "acme-llm" not in product_ids()
    assert 18123 in ai_ports(sigs) and 18123 not in ai_ports()
    assert svc.fix_for("acme-llm", None, sigs) == "start acme-llm with --bind 127.0.0.1 and --token"
    process = ProcessInfo(pid=1, name="python", cmdline=["/opt/acme/bin/acme-llm-serve", "-p"])
    assert svc.process_hint(process, sigs) == "acme-llm"
    assert svc.fix_for(None, process, sigs).startswith("start acme-llm")
    assert svc.process_hint(process) is None  # the built-in set does not know it
    assert svc.fix_for(None, process) == svc.DEFAULT_FIX


def test_builtin_knowledge_comes_from_the_signature_files() -> None:
    by_id = {s.id: s for s in builtin_signatures()}
    assert svc.fix_for("ollama", None) == by_id["ollama"].remediation
    # the longest needle wins: llama_cpp.server is llama-cpp-python, not another llama
    py = ProcessInfo(pid=2, name="python3", cmdline=["python3", "-m", "llama_cpp.server"])
    assert svc.process_hint(py) == "llama-cpp-python"
    assert svc.process_hint(ProcessInfo(pid=3, name="llama-server")) == "llama.cpp"
    assert svc.process_hint(ProcessInfo(pid=4, name="nginx")) is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("remediation: ''\n", "remediation: empty"),
        ("processes: [ab]\n", "processes[0]"),
        ("processes: [Acme]\n", "processes[0]"),
        ("lab: {emulators: ['../etc']}\n", "lab.emulators[0]"),
        ("lab: {emulator: acme}\n", "unknown field"),
        (
            "lab: {real: [{name: acme-open, command: ['{python}', '{nope}']}]}\n",
            "unknown placeholder {nope}",
        ),
        ("lab: {real: [{name: acme-open, command: ['{url}']}]}\n", "{url} takes a"),
        ("lab: {real: [{name: acme-open, command: [x], files: {../x: y}}]}\n", "plain file"),
        ("lab: {real: [{name: acme-open, command: [x], health: status}]}\n", "health"),
        ("lab: {real: [{name: acme-open, command: [x], variant: admin}]}\n", "variant"),
    ],
)
def test_bad_knowledge_fields_fail_in_one_line(extra: str, message: str) -> None:
    with pytest.raises(SignatureError) as info:
        parse_signature(ACME + extra, "acme-llm.yaml")
    text = str(info.value)
    assert "\n" not in text and text.startswith("acme-llm.yaml: ") and message in text


def test_a_bad_slug_is_refused() -> None:
    with pytest.raises(SignatureError, match="is not a slug"):
        parse_signature(ACME.replace("id: acme-llm", "id: Acme LLM"), "Acme LLM.yaml")
