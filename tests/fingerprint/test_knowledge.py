"""Product knowledge is data: the audit's remediation and process hints come from the signature
files, and a bad knowledge field is a one-line SignatureError naming the file and the field.
(A product added as one file: tests/lab/test_product_as_data.py.)"""

from __future__ import annotations

import pytest

from aicensus.audit import services as svc
from aicensus.audit.records import ProcessInfo
from aicensus.errors import SignatureError
from aicensus.fingerprint.load import builtin_signatures, parse_signature

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
