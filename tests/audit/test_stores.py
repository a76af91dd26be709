"""Model stores: the Ollama store, the Hugging Face cache, LM Studio, --path, default locations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aicensus.audit import AuditError, run_audit
from aicensus.audit.stores import default_locations, discover
from tests.support import audit_builders as builders


def _files(result):
    return {m.name: m for m in result.files}


def test_ollama_store_is_read_like_ollama_lays_it_out(tmp_path: Path, smollm2: Path) -> None:
    ollama_home = tmp_path / "home"
    builders.write_ollama_store(ollama_home / ".ollama", smollm2)  # the blob links to SmolLM2
    result = run_audit(services=False, home=ollama_home, env={})
    (store,) = [s for s in result.stores if s.kind == "ollama"]
    assert store.path == str(ollama_home / ".ollama" / "models")
    assert store.models == 1 and store.size_bytes == smollm2.stat().st_size
    (model,) = result.files
    assert model.name == "smollm2:135m" and model.aliases == ["smollm2:latest"]
    assert model.store == "ollama" and model.format == "gguf"
    assert model.path.endswith("sha256-" + builders.sha256_of(smollm2))
    assert model.sha256 == builders.sha256_of(smollm2)
    assert (model.attribution.developer, model.attribution.country) == ("Hugging Face", "US")
    assert model.quantization == "Q4_1"
    assert "AIC-FILE-DIGEST-MISMATCH" not in {f.id for f in model.findings}


def test_ollama_models_env_and_other_registries(tmp_path: Path) -> None:
    gguf = builders.write_gguf(tmp_path / "q.gguf")
    models = builders.write_ollama_store(
        tmp_path / "elsewhere", gguf, model="qwen2.5", tags=("0.5b",), link=False
    )
    hf = models / "manifests" / "hf.co" / "bartowski" / "Qwen2.5-0.5B-Instruct-GGUF" / "Q4_K_M"
    hf.parent.mkdir(parents=True)
    hf.write_text((models / "manifests/registry.ollama.ai/library/qwen2.5/0.5b").read_text())
    (models / "manifests/registry.ollama.ai/library/broken").mkdir()
    (models / "manifests/registry.ollama.ai/library/broken/latest").write_text("not json")
    result = run_audit(services=False, home=tmp_path / "nohome", env={"OLLAMA_MODELS": str(models)})
    (store,) = result.stores
    assert store.source == "$OLLAMA_MODELS"
    (model,) = result.files
    assert sorted([model.name, *model.aliases]) == [
        "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M",
        "qwen2.5:0.5b",
    ]
    assert model.attribution.developer == "Alibaba"
    assert any("not an Ollama manifest" in n for n in result.notes)


def test_huggingface_cache_resolves_snapshots_to_blobs(tmp_path: Path) -> None:
    hub = tmp_path / "hf" / "hub"
    repo = hub / "models--mistralai--Mistral-7B-Instruct-v0.3"
    blob_dir = repo / "blobs"
    blob_dir.mkdir(parents=True)
    tmp = builders.write_safetensors(tmp_path / "w.safetensors")
    digest = builders.sha256_of(tmp)
    (blob_dir / digest).write_bytes(tmp.read_bytes())
    for rev in ("abc123", "def456"):
        snap = repo / "snapshots" / rev
        snap.mkdir(parents=True)
        (snap / "model.safetensors").symlink_to(blob_dir / digest)
        (snap / "config.json").write_text(json.dumps({"model_type": "mistral"}))
    result = run_audit(
        services=False, home=tmp_path / "nohome", env={"HF_HOME": str(tmp_path / "hf")}
    )
    (store,) = result.stores
    assert (store.kind, store.source, store.models) == ("huggingface", "$HF_HOME/hub", 1)
    (model,) = result.files
    # one file for both revisions: the same blob, the same name without the revision
    assert model.name == "mistralai/Mistral-7B-Instruct-v0.3/model.safetensors"
    assert model.aliases == []
    assert model.sha256 == digest
    assert (model.attribution.developer, model.attribution.country) == ("Mistral AI", "FR")


def test_lm_studio_publisher_repo_layout(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = home / ".lmstudio" / "models" / "lmstudio-community" / "Qwen2.5-0.5B-Instruct-GGUF"
    folder.mkdir(parents=True)
    builders.write_gguf(folder / "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf", organization=None)
    result = run_audit(services=False, home=home, env={})
    (model,) = result.files
    assert model.store == "lm-studio"
    assert (
        model.name
        == "lmstudio-community/Qwen2.5-0.5B-Instruct-GGUF/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf"
    )
    assert model.attribution.developer == "Alibaba"


def test_path_finds_nested_stores_and_dedupes(tmp_path: Path, smollm2: Path) -> None:
    root = tmp_path / "stuff"
    builders.write_ollama_store(root / "ollama-copy", smollm2)
    (root / "loose").mkdir(parents=True)
    (root / "loose" / "same.gguf").symlink_to(smollm2)
    (root / "loose" / "notes.txt").write_text("not a model")
    result = run_audit(services=False, stores=False, paths=[root])
    kinds = sorted(s.kind for s in result.stores)
    assert kinds == ["ollama", "path"]
    (model,) = result.files  # the symlink and the blob are one file
    assert "loose/same.gguf" in [model.name, *model.aliases]


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="no such file"):
        run_audit(services=False, stores=False, paths=[tmp_path / "nope"])


def test_default_locations_follow_the_environment(tmp_path: Path) -> None:
    env = {
        "OLLAMA_MODELS": "/srv/ollama",
        "HF_HOME": "/srv/hf",
        "HF_HUB_CACHE": "/srv/hub",
        "LLAMA_CACHE": "/srv/llama",
        "XDG_CACHE_HOME": "/xdg",
    }
    locs = {(loc.kind, str(loc.path)) for loc in default_locations(env, tmp_path)}
    assert ("ollama", "/srv/ollama") in locs
    assert ("ollama", str(tmp_path / ".ollama/models")) in locs
    assert ("ollama", "/usr/share/ollama/.ollama/models") in locs
    assert ("huggingface", "/srv/hf/hub") in locs and ("huggingface", "/srv/hub") in locs
    assert ("huggingface", "/xdg/huggingface/hub") in locs
    assert ("huggingface", str(tmp_path / ".cache/huggingface/hub")) in locs
    assert ("lm-studio", str(tmp_path / ".lmstudio/models")) in locs
    assert ("lm-studio", str(tmp_path / ".cache/lm-studio/models")) in locs
    assert ("gpt4all", str(tmp_path / ".local/share/nomic.ai/GPT4All")) in locs
    assert ("llama.cpp", "/srv/llama") in locs
    assert ("llama.cpp", str(tmp_path / ".cache/llama.cpp")) in locs


def test_walk_budget_stops_a_huge_tree(tmp_path: Path) -> None:
    for i in range(30):
        (tmp_path / f"d{i}").mkdir()
    found = discover([], [tmp_path], max_entries=10)
    assert any("stopped after 10 entries" in n for n in found.notes)
