"""The product dialects added for issue 4: pure parsers over recorded exchanges."""

from __future__ import annotations

import json

from aicensus.enumerate import get_dialect
from aicensus.records import Exchange


def ex(body: object, status: int = 200, path: str = "/") -> Exchange:
    raw = body if isinstance(body, str) else json.dumps(body)
    return Exchange(method="GET", path=path, status=status, body=raw.encode())


def test_tgi_reads_info_and_falls_back_to_models() -> None:
    info = {
        "model_id": "bigscience/bloom-560m",
        "model_sha": "e985a63c",
        "max_total_tokens": 2048,
        "model_pipeline_tag": "text-generation",
        "router": "text-generation-router",
    }
    [model] = get_dialect("tgi").parse({"info": ex(info)})
    assert (model.name, model.digest, model.context_length) == (
        "bigscience/bloom-560m",
        "e985a63c",
        2048,
    )
    assert model.capabilities == ["text-generation"] and model.running
    fallback = get_dialect("tgi").parse(
        {"info": ex({}, status=500), "models": ex({"object": "list", "data": [{"id": "m"}]})}
    )
    assert [m.name for m in fallback] == ["m"]


def test_sglang_prefers_models_then_model_path() -> None:
    cards = {"object": "list", "data": [{"id": "Qwen/Qwen2.5-7B", "max_model_len": 32768}]}
    [model] = get_dialect("sglang").parse({"models": ex(cards)})
    assert (model.name, model.context_length) == ("Qwen/Qwen2.5-7B", 32768)
    info = {"model_path": "/models/llama-3-8b/", "is_generation": True}
    [model] = get_dialect("sglang").parse({"models": ex("", status=401), "model_info": ex(info)})
    assert model.name == "llama-3-8b" and model.capabilities == ["completion"]
    assert get_dialect("sglang").parse({"model_info": ex({"error": "Unauthorized"}, 401)}) == []


def test_lmstudio_v1_then_v0_then_openai() -> None:
    v1 = {
        "models": [
            {
                "type": "llm",
                "publisher": "lmstudio-community",
                "key": "gemma-3-270m-it-qat",
                "architecture": "gemma3",
                "quantization": {"name": "Q4_0", "bits_per_weight": 4},
                "size_bytes": 241410208,
                "params_string": "270M",
                "format": "gguf",
                "loaded_instances": [{"id": "gemma", "config": {"context_length": 4096}}],
                "max_context_length": 32768,
                "capabilities": {"vision": False, "trained_for_tool_use": True},
            }
        ]
    }
    [m] = get_dialect("lmstudio").parse({"v1_models": ex(v1)})
    assert (m.name, m.quantization, m.parameter_count, m.format) == (
        "gemma-3-270m-it-qat",
        "Q4_0",
        270_000_000,
        "gguf",
    )
    assert m.running and m.capabilities == ["llm", "trained_for_tool_use"]
    v0 = {
        "object": "list",
        "data": [
            {
                "id": "qwen2-vl-7b",
                "type": "vlm",
                "arch": "qwen2_vl",
                "compatibility_type": "mlx",
                "quantization": "4bit",
                "state": "not-loaded",
                "max_context_length": 32768,
            }
        ],
    }
    [m] = get_dialect("lmstudio").parse({"v1_models": ex("", 404), "v0_models": ex(v0)})
    assert (m.name, m.format, m.quantization, m.running) == ("qwen2-vl-7b", "mlx", "4bit", False)
    plain = {"object": "list", "data": [{"id": "x"}]}
    assert [m.name for m in get_dialect("lmstudio").parse({"models": ex(plain)})] == ["x"]


def test_koboldcpp_strips_prefix_and_skips_protected_name() -> None:
    models = {
        "object": "list",
        "data": [{"id": "koboldcpp/Llama-3-8B-Q4_K_M", "owned_by": "koboldcpp"}],
    }
    [m] = get_dialect("koboldcpp").parse({"models": ex(models), "true_ctx": ex({"value": 8192})})
    assert (m.name, m.context_length, m.quantization) == ("Llama-3-8B-Q4_K_M", 8192, "Q4_K_M")
    hidden = {"model": ex({"result": "koboldcpp/protected-model"})}
    assert get_dialect("koboldcpp").parse(hidden) == []


def test_triton_index_merges_versions() -> None:
    index = [
        {"name": "bert", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"},
        {"name": "bert", "version": "2", "state": "READY"},
        {"name": "resnet", "state": "READY"},
        {"version": "3"},
        "junk",
    ]
    models = get_dialect("triton").parse({"index": ex(index)})
    assert [(m.name, m.running) for m in models] == [("bert", True), ("resnet", True)]
    assert get_dialect("triton").parse({"index": ex({"error": "restricted"}, 403)}) == []


def test_openwebui_merges_proxied_tags_and_models_without_followups() -> None:
    tags = {
        "models": [
            {
                "name": "llama3.2:latest",
                "digest": "a80c",
                "size": 2019393189,
                "details": {"format": "gguf", "parameter_size": "3.2B"},
            }
        ]
    }
    listing = {
        "data": [
            {"id": "llama3.2:latest", "owned_by": "ollama"},
            {"id": "gpt-4o", "owned_by": "openai"},
        ]
    }
    dialect = get_dialect("openwebui")
    models = dialect.parse({"tags": ex(tags), "models": ex(listing)})
    assert [(m.name, m.remote) for m in models] == [("llama3.2:latest", False), ("gpt-4o", True)]
    assert models[0].digest == "a80c" and models[0].parameter_count == 3_200_000_000
    assert dialect.followups(models) == []  # no /api/show at Open WebUI's root


def test_sdwebui_and_comfyui_list_checkpoints() -> None:
    sd = [
        {
            "title": "v1-5 [6ce0161689]",
            "model_name": "v1-5",
            "hash": "6ce0161689",
            "sha256": "6ce01616",
            "filename": "C:\\models\\v1-5.safetensors",
        }
    ]
    [m] = get_dialect("sdwebui").parse({"sd_models": ex(sd)})
    assert (m.name, m.digest, m.format) == ("v1-5", "6ce01616", "safetensors")
    files = ["sd_xl_base_1.0.safetensors", "old.ckpt", "", 7, "sd_xl_base_1.0.safetensors"]
    models = get_dialect("comfyui").parse({"checkpoints": ex(files)})
    assert [(m.name, m.format) for m in models] == [
        ("sd_xl_base_1.0.safetensors", "safetensors"),
        ("old.ckpt", "ckpt"),
    ]


def test_dialects_survive_hostile_shapes() -> None:
    for name, probe in [
        ("tgi", "info"),
        ("sglang", "model_info"),
        ("lmstudio", "v1_models"),
        ("koboldcpp", "model"),
        ("triton", "index"),
        ("openwebui", "models"),
        ("sdwebui", "sd_models"),
        ("comfyui", "checkpoints"),
    ]:
        for body in ("not json", "null", "[1, 2]", '{"models": 5, "data": "x"}', '"str"'):
            assert get_dialect(name).parse({probe: ex(body)}) == [], (name, body)
