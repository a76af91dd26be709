"""Ingest and a live scan turn exchanges into observations through one step (pipeline.conclude):
a live scan's exchanges, recorded and ingested, say the same; the honeypot rule holds for both."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import msgspec
import yaml

from aicensus import api
from aicensus.engine.config import EngineConfig
from aicensus.fingerprint.load import builtin_signatures
from aicensus.records import ScanStatus, ServiceObservation
from tests.support.loopback import ScriptedServer, serve

JSON = {"Content-Type": "application/json; charset=utf-8"}
SHOW = {
    "template": "{{ .Prompt }}",
    "system": "You are a helpful assistant.",
    "capabilities": ["completion", "tools"],
    "license": "Apache License\nVersion 2.0",
    "model_info": {
        "general.architecture": "qwen2",
        "general.parameter_count": 7615616512,
        "qwen2.context_length": 32768,
    },
}
TAGS = {
    "models": [
        {
            "name": "qwen2.5:7b",
            "model": "qwen2.5:7b",
            "digest": "845dbda0ea48ed749caafd9e6037047aa19acfcfd82e704d7ca97d631a0b697e",
            "size": 4683087332,
            "details": {
                "format": "gguf",
                "family": "qwen2",
                "families": ["qwen2"],
                "parameter_size": "7.6B",
                "quantization_level": "Q4_K_M",
            },
        }
    ]
}
OLLAMA = {
    "/": {"body": "Ollama is running"},
    "/api/version": {"body": json.dumps({"version": "0.6.2"}), "headers": JSON},
    "/api/tags": {"body": json.dumps(TAGS), "headers": JSON},
    "/api/ps": {"body": json.dumps({"models": []}), "headers": JSON},
    "/api/show": {"method": "POST", "body": json.dumps(SHOW), "headers": JSON},
}


def _answer(responses: dict[str, Any], method: str, path: str) -> tuple[int, dict, str]:
    """What ScriptedServer answers (its rule, restated for the recording)."""
    spec = responses.get(path)
    if spec is None:
        return 404, {}, "not found"
    if method not in (spec.get("method", "GET"), "HEAD"):
        return 405, {}, "method not allowed"
    body = "" if method == "HEAD" else str(spec.get("body", ""))
    return int(spec.get("status", 200)), dict(spec.get("headers") or {}), body


def _line(port: int, method: str, path: str, request_body: str | None, answer: tuple) -> str:
    status, headers, body = answer
    return json.dumps(
        {"ip": "127.0.0.1", "port": port, "scheme": "http", "method": method, "path": path,
         "status": status, "headers": headers, "body": body, "request_body": request_body,
         "observed_at": "2025-01-01T00:00:00Z"}
    )  # fmt: skip


def _said(obs: ServiceObservation) -> dict[str, object]:
    """What an observation says about the service (not how or when it was seen)."""
    keep = ("status", "product", "version", "confidence", "auth", "models", "evidence")
    return {k: v for k, v in msgspec.to_builtins(obs).items() if k in keep}


def test_a_scans_exchanges_ingested_say_what_the_scan_said(tmp_path: Path) -> None:
    server = ScriptedServer()
    server.responses = OLLAMA
    seen: list[ServiceObservation] = []
    with serve(server) as port:
        plan = api.plan_targets(["127.0.0.1"], ports=str(port))
        api.scan(plan, config=EngineConfig(concurrency=4), on_observation=seen.append)
    (live,) = seen
    lines = []
    for method, path, body in server.log:  # the recording another tool would have made
        sent = json.dumps(json.loads(body), separators=(",", ":")) if body else None
        lines.append(_line(port, method, path, sent, _answer(OLLAMA, method, path)))
    recording = tmp_path / "recorded.jsonl"
    recording.write_text("\n".join(lines) + "\n")
    ingested: list[ServiceObservation] = []
    api.ingest_responses(recording, on_observation=ingested.append)
    (offline,) = ingested
    assert live.product == "ollama" and live.version == "0.6.2"
    (model,) = live.models  # the /api/show details are in: the scan sent the follow-up
    assert model.architecture == "qwen2" and model.system_prompt is not None
    assert model.developer == "Alibaba"
    assert _said(offline) == _said(live)


def _positives() -> dict[str, dict[str, Any]]:
    """Every signature's positive answers by path: a service claiming to be everything."""
    merged: dict[str, dict[str, Any]] = {}
    root = importlib.resources.files("aicensus") / "signatures"
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            doc = yaml.safe_load(entry.read_text(encoding="utf-8"))
            for case in doc.get("cases", []):
                if case["expect"] == doc["id"]:
                    for path, spec in case["responses"].items():
                        merged.setdefault(path, spec)
    return merged


def test_recorded_honeypot_is_flagged_as_a_scan_flags_it(tmp_path: Path) -> None:
    answers = _positives()
    lines = []
    for sig in builtin_signatures():
        for probe in sig.probes.values():
            spec = answers.get(probe.path)
            if spec is not None:
                body = json.dumps(probe.json, separators=(",", ":")) if probe.json else None
                answer = (int(spec.get("status", 200)), dict(spec.get("headers") or {}),
                          str(spec.get("body", "")))  # fmt: skip
                lines.append(_line(8000, probe.method, probe.path, body, answer))
    recording = tmp_path / "honeypot.jsonl"
    recording.write_text("\n".join(lines) + "\n")
    seen: list[ServiceObservation] = []
    api.ingest_responses(recording, on_observation=seen.append)
    (obs,) = seen
    assert obs.status == ScanStatus.SUSPECTED_HONEYPOT and obs.product is None
    (ev,) = obs.evidence
    # the marker names the claims (cut to the evidence length cap when there are many)
    assert ev.kind == "honeypot" and ev.marker.startswith("claims to be ")
    assert int(ev.marker.split()[3]) >= 3 and "vllm" in ev.marker
