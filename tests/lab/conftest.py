"""Fixtures that run the lab's servers for tests (helpers in tests/support/lab.py).

* `emulator`: the Ollama emulator on 127.0.0.1 (module-wide).
* `ollama_lab`: a `Lab` with only the emulator, in its own state dir on a free port.
* `llama_lab`: a `Lab` with both real llama-servers (session-wide). Skipped when the
  binary is missing, unless $AICENSUS_REQUIRE_LLAMA_SERVER is set (scripts/test), then it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aicensus.lab.manager import Lab
from tests.support.lab import Emulator, require_llama_server, spawn_emulator


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A single-address emulator on 127.0.0.1: the fixed profile."""
    with spawn_emulator(tmp_path_factory.mktemp("emulator")) as emu:
        yield emu


@pytest.fixture
def ollama_lab(tmp_path: Path) -> Iterator[Lab]:
    with Lab.isolated(tmp_path / "lab", only="ollama") as lab:
        yield lab


@pytest.fixture(scope="session")
def llama_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_llama_server()
    lab = Lab.isolated(tmp_path_factory.mktemp("llama-lab"), only="llama-server", build=False)
    with lab:
        yield lab
