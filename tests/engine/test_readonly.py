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
    # Route-existence probes: a bodiless HEAD to a POST-only write route answers 405.
    ProbeRequest("HEAD", "/api/pull"),
    ProbeRequest("HEAD", "/v1/load_lora_adapter"),
    # llama.cpp's GET-registered read routes (HEAD runs the read handler, sends no body back).
    ProbeRequest("HEAD", "/slots"),
    ProbeRequest("HEAD", "/lora-adapters"),
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
    ProbeRequest("POST", "/api/pull"),  # not even with no body
    ProbeRequest("DELETE", "/api/pull"),
    ProbeRequest("OPTIONS", "/api/pull"),
    ProbeRequest("head", "/api/pull", json_body={"model": "x"}),  # a body on the HEAD
    ProbeRequest("HEAD", "/api/pull?model=x"),  # only the exact allow-listed path
    ProbeRequest("HEAD", "/api/pull/"),
    ProbeRequest("HEAD", "/x/api/pull"),
    ProbeRequest("HEAD", "/API/PULL"),
    ProbeRequest("GET", "/v1/load_lora_adapter"),
    ProbeRequest("HEAD", "/api/push"),  # write routes not on the allowlist stay refused
    ProbeRequest("HEAD", "/api/delete"),
    ProbeRequest("HEAD", "/api/create"),
    ProbeRequest("HEAD", "/v1/unload_lora_adapter"),
    ProbeRequest("HEAD", "/sleep"),
    ProbeRequest("HEAD", "/models/load"),
    ProbeRequest("HEAD", "/v1/chat/completions"),
    ProbeRequest("GET", "/", json_body={"x": 1}),
    ProbeRequest("POST", "/api/show", json_body={"model": "x", "modelfile": "FROM y"}),
    ProbeRequest("POST", "/api/show", json_body={"model": 1}),
    ProbeRequest("POST", "/api/show"),
    ProbeRequest("GET", "relative"),
]


@pytest.mark.parametrize("probe", ALLOWED, ids=lambda p: f"{p.method} {p.path}")
def test_read_only_requests_pass(probe: ProbeRequest) -> None:
    owners = readonly.POST_OWNERS.get(probe.path, frozenset({None}))
    readonly.check(probe, product=min(owners))


@pytest.mark.parametrize("probe", REFUSED, ids=lambda p: f"{p.method} {p.path}")
def test_write_requests_are_refused(probe: ProbeRequest) -> None:
    with pytest.raises(ReadOnlyViolation):
        readonly.check(probe)


def test_route_existence_allowlist_is_head_only_and_documented() -> None:
    assert readonly.ROUTE_EXISTENCE_PROBES
    for (method, path), why in readonly.ROUTE_EXISTENCE_PROBES.items():
        assert method == "HEAD" and path.startswith("/") and "?" not in path
        assert readonly._is_write_path(path), f"{path} needs no exemption"
        assert "405" in why and len(why) > 80, f"{path}: say which upstream fact makes it safe"
        readonly.check(ProbeRequest("HEAD", path))
        for other in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            with pytest.raises(ReadOnlyViolation):
                readonly.check(ProbeRequest(other, path))


def test_shipped_signatures_send_the_route_existence_probes() -> None:
    from aicensus.fingerprint.load import builtin_signatures

    sent = {
        (sig.id, p.method, p.path)
        for sig in builtin_signatures()
        for p in sig.probes.values()
        if readonly.is_route_existence_probe(p.method, p.path)
    }
    assert sent == {("ollama", "HEAD", "/api/pull"), ("vllm", "HEAD", "/v1/load_lora_adapter")}


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


RECEIVED = [  # (method, path as a server logs it, body, product) → violation?
    ("GET", "/api/tags", "", "ollama", False),
    ("GET", "/api/pull", "", "ollama", True),  # a GET to a write route counts
    ("GET", "/API/Generate/", "", None, True),
    ("HEAD", "/api/pull", "", "ollama", False),  # the allow-listed route-existence probe
    ("HEAD", "/api/push", "", "ollama", True),
    ("POST", "/api/show", '{"model":"x"}', "ollama", False),
    ("POST", "/api/show", '{"model":"x"}', "vllm", True),  # not the product that defines it
    ("POST", "/api/show", '{"model":"x","modelfile":"FROM y"}', "ollama", True),
    ("POST", "/v2/repository/index", "{}", "triton", False),
    ("POST", "/v2/repository/index", "{}", "(decoy)", True),
    ("POST", "/v2/vectordb/collections/list", "{}", None, True),  # never sent by the scanner
    ("DELETE", "/x", "", None, True),
]


@pytest.mark.parametrize(("method", "path", "body", "product", "bad"), RECEIVED)
def test_received_requests_are_judged_like_the_engine(
    method: str, path: str, body: str, product: str | None, bad: bool
) -> None:
    assert (readonly.received_violation(method, path, body, product=product) is not None) == bad
