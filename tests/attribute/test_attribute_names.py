"""Taking model names apart: pure string handling."""

from __future__ import annotations

import pytest

from aicensus.attribute import is_cloud_name
from aicensus.attribute.names import gguf_stem, name_tokens, normalise_org, parse_name, tokens


@pytest.mark.parametrize(
    ("name", "kind", "owner", "model", "tag"),
    [
        ("qwen2.5:7b", "library", None, "qwen2.5", "7b"),
        ("qwen2.5", "library", None, "qwen2.5", None),
        ("registry.ollama.ai/library/qwen2.5:14b", "library", None, "qwen2.5", "14b"),
        ("huihui_ai/qwen2.5-abliterate:7b", "repo", "huihui_ai", "qwen2.5-abliterate", "7b"),
        (
            "hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M",
            "hf",
            "bartowski",
            "Qwen2.5-7B-Instruct-GGUF",
            "Q4_K_M",
        ),
        ("https://huggingface.co/Qwen/Qwen2.5-7B", "hf", "Qwen", "Qwen2.5-7B", None),
        ("Qwen/Qwen2.5-7B-Instruct", "repo", "Qwen", "Qwen2.5-7B-Instruct", None),
        (
            "models/qwen2.5-7b-instruct-q4_k_m.gguf",
            "file",
            None,
            "qwen2.5-7b-instruct-q4_k_m",
            None,
        ),
    ],
)
def test_parse_name(name: str, kind: str, owner: str | None, model: str, tag: str | None) -> None:
    ref = parse_name(name)
    assert (ref.kind, ref.owner, ref.model, ref.tag) == (kind, owner, model, tag)


@pytest.mark.parametrize(
    ("name", "cloud"),
    [
        ("glm-5:cloud", True),
        ("gpt-oss:120b-cloud", True),
        ("kimi-k2:1t-cloud", True),
        ("qwen3-coder:480b-cloud", True),
        ("qwen3-coder:30b", False),
        ("cloud-model:latest", False),
        ("model-cloud.gguf", False),
    ],
)
def test_cloud_names(name: str, cloud: bool) -> None:
    assert is_cloud_name(name) is cloud


def test_tokens_and_sizes() -> None:
    assert tokens("Qwen2.5-7B-Instruct") == ("qwen", "2.5", "7", "b", "instruct")
    assert name_tokens("Wizard-Vicuna-13B-Uncensored") == ("wizard", "vicuna", "uncensored")
    assert name_tokens("command-r7b") == ("command", "r", "7", "b")
    assert name_tokens("all-minilm:22m") == ("all", "minilm")


def test_gguf_stem_and_org() -> None:
    assert (
        gguf_stem("a/b/google_gemma-3-4b-it-Q4_K_M-00001-of-00002.gguf")
        == "google_gemma-3-4b-it-Q4_K_M"
    )
    assert normalise_org("Meta Llama") == "meta-llama"
    assert normalise_org("Deepseek Ai") == "deepseek-ai"
