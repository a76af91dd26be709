"""Recorded data with less than a live scan: a lone Ollama model list (tests/ingest/partial)."""

from __future__ import annotations

import json
from pathlib import Path

from aicensus.ingest.files import ingest_file

TAGS_ENTRY = {
    "name": "qwen3:8b", "model": "qwen3:8b", "modified_at": "2025-05-01T10:00:00Z",
    "size": 5225387923, "digest": "500a1f067a9f782620b40bee6f7b0c89e17ae61f686b92c24933e4ca4b2b8b41",
    "details": {"parent_model": "", "format": "gguf", "family": "qwen3", "families": ["qwen3"],
                "parameter_size": "8.2B", "quantization_level": "Q4_K_M"},
}  # fmt: skip
KOBOLD = {"name": "koboldcpp", "details": {"family": "koboldcpp"}}  # its emulation: no digest
PS_ENTRY = {**TAGS_ENTRY, "expires_at": "2025-05-01T10:05:00Z", "size_vram": 6011609088}


def _line(port: int, path: str, body: object, **extra: object) -> str:
    return json.dumps({"ip": "192.0.2.60", "port": port, "scheme": "http", "path": path,
                       "status": 200, "body": json.dumps(body, separators=(",", ":")),
                       "observed_at": "2025-05-01T10:00:00Z", **extra})  # fmt: skip


def _observe(tmp_path: Path, *lines: str) -> list[object]:
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(lines) + "\n")
    seen: list[object] = []
    ingest_file(path, "responses", on_observation=seen.append)
    return seen


def test_empty_model_list_on_11434_is_an_ollama_without_models(tmp_path: Path) -> None:
    [obs] = _observe(tmp_path, _line(11434, "/api/tags", {"models": []}))
    assert obs.product == "ollama" and obs.models == []  # type: ignore[attr-defined]
    assert obs.confidence == 0.5  # type: ignore[attr-defined]
    assert any("only /api/tags recorded" in e.marker for e in obs.evidence)  # type: ignore[attr-defined]


def test_api_ps_alone_gives_the_running_models(tmp_path: Path) -> None:
    [obs] = _observe(tmp_path, _line(11434, "/api/ps", {"models": [PS_ENTRY]}))
    assert obs.product == "ollama"  # type: ignore[attr-defined]
    [model] = obs.models  # type: ignore[attr-defined]
    assert (model.name, model.running, model.vram_bytes) == ("qwen3:8b", True, 6011609088)


def test_the_rule_makes_no_false_positives(tmp_path: Path) -> None:
    look_alikes = [
        _line(8080, "/api/tags", {"models": []}),  # not Ollama's port
        _line(11434, "/api/tags", {"models": [], "object": "list", "data": []}),  # llama.cpp
        _line(11434, "/api/tags", {"models": [KOBOLD]}),
        _line(11434, "/api/other", {"models": []}),
        _line(11434, "/api/tags", {"models": []}, status=401),
    ]
    for line in look_alikes:
        [obs] = _observe(tmp_path, line)
        assert obs.product is None, line  # type: ignore[attr-defined]


def test_a_full_recording_is_still_identified_by_the_signature(tmp_path: Path) -> None:
    root = json.dumps({"ip": "192.0.2.60", "port": 11434, "path": "/", "status": 200,
                       "body": "Ollama is running", "observed_at": "2025-05-01T10:00:00Z"})  # fmt: skip
    [obs] = _observe(tmp_path, root, _line(11434, "/api/tags", {"models": [TAGS_ENTRY]}))
    assert obs.product == "ollama" and obs.confidence > 0.5  # type: ignore[attr-defined]
    assert [m.name for m in obs.models] == ["qwen3:8b"]  # type: ignore[attr-defined]


def test_llama_cpp_docs_placeholder_is_not_a_version(tmp_path: Path) -> None:
    server = {"Server": "llama.cpp"}
    health = _line(8080, "/health", {"status": "ok"}, headers=server)

    def props(build: str) -> str:
        body = {"build_info": build, "default_generation_settings": {"n_ctx": 4096},
                "model_path": "m.gguf", "total_slots": 1}  # fmt: skip
        return _line(8080, "/props", body, headers=server)

    [placeholder] = _observe(tmp_path, health, props("b(build number)-(build commit hash)"))
    assert placeholder.product == "llama.cpp" and placeholder.version is None  # type: ignore[attr-defined]
    [real] = _observe(tmp_path, health, props("b6000-abcdef12"))
    assert real.version == "b6000-abcdef12"  # type: ignore[attr-defined]
