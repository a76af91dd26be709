"""The engine refuses every request that could change or cost the target."""

from __future__ import annotations

import pytest

from aicensus.engine import readonly
from aicensus.errors import ReadOnlyViolation, SignatureError
from aicensus.fingerprint.load import parse_signature
from aicensus.records import ProbeRequest

ALLOWED = [
    ProbeRequest("GET", "/"),
    ProbeRequest("HEAD", "/api/version"),
    ProbeRequest("GET", "/v1/models"),
    ProbeRequest("POST", "/api/show", json_body={"model": "qwen2.5:7b"}),
    ProbeRequest("POST", "/api/show", json_body={"name": "llama3"}),
]

REFUSED = [
    ProbeRequest("POST", "/api/pull", json_body={"model": "x"}),
    ProbeRequest("POST", "/api/push", json_body={"model": "x"}),
    ProbeRequest("DELETE", "/api/delete", json_body={"model": "x"}),
    ProbeRequest("POST", "/api/create", json_body={"model": "x"}),
    ProbeRequest("POST", "/api/copy", json_body={"source": "a", "destination": "b"}),
    ProbeRequest("POST", "/api/generate", json_body={"model": "x", "prompt": "hi"}),
    ProbeRequest("POST", "/api/chat", json_body={"model": "x"}),
    ProbeRequest("POST", "/v1/chat/completions", json_body={"model": "x"}),
    ProbeRequest("POST", "/v1/load_lora_adapter", json_body={"lora_name": "x"}),
    ProbeRequest("POST", "/models/load", json_body={"model": "x"}),
    ProbeRequest("POST", "/slots/0?action=erase"),
    ProbeRequest("PUT", "/anything"),
    ProbeRequest("PATCH", "/anything"),
    ProbeRequest("OPTIONS", "/"),
    ProbeRequest("GET", "/api/pull"),  # a write route refused whatever the method
    ProbeRequest("GET", "/", json_body={"x": 1}),
    ProbeRequest("POST", "/api/show", json_body={"model": "x", "modelfile": "FROM y"}),
    ProbeRequest("POST", "/api/show", json_body={"model": 1}),
    ProbeRequest("POST", "/api/show"),
    ProbeRequest("GET", "relative"),
]


@pytest.mark.parametrize("probe", ALLOWED, ids=lambda p: f"{p.method} {p.path}")
def test_read_only_requests_pass(probe: ProbeRequest) -> None:
    readonly.check(probe)


@pytest.mark.parametrize("probe", REFUSED, ids=lambda p: f"{p.method} {p.path}")
def test_write_requests_are_refused(probe: ProbeRequest) -> None:
    with pytest.raises(ReadOnlyViolation):
        readonly.check(probe)


def test_a_signature_cannot_ask_for_a_write() -> None:
    text = """
id: ollama
name: x
description: x
ports: [1]
references: []
probes:
  pull: {path: /api/pull, method: POST, json: {model: x}}
matchers:
  - {name: a, probe: pull, weight: 0.5, why: "tries to pull a model"}
"""
    with pytest.raises(SignatureError, match=r"ollama\.yaml: probes\.pull: refused POST /api/pull"):
        parse_signature(text, "ollama.yaml")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("id: ollama\nname: x\n", "missing required field"),
        ("[1, 2", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_malformed_signature_names_the_problem(text: str, field: str) -> None:
    with pytest.raises(SignatureError, match=field):
        parse_signature(text, "ollama.yaml")


def test_unknown_field_is_rejected() -> None:
    text = """
id: ollama
name: x
description: x
ports: [1]
references: []
probes: {root: {path: /}}
matchers:
  - {name: a, probe: root, weight: 0.5, why: "a reason here", body_contans: ["x"]}
"""
    with pytest.raises(SignatureError, match=r"body_contans"):
        parse_signature(text, "ollama.yaml")
