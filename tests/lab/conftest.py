"""Fixtures that run the lab's servers for tests (helpers in tests/support/lab.py).

* `emulator`: the Ollama emulator on 127.0.0.1 (module-wide).
* `ollama_lab`: a `Lab` with only the emulator, in its own state dir on a free port.
* `llama_lab`: a `Lab` with both real llama-servers (session-wide). Skipped when the
  binary is missing, unless $AICENSUS_REQUIRE_LLAMA_SERVER is set (scripts/test), then it fails.

Tests marked `heavy` (the heavy real products, tests/lab/test_lab_heavy.py) run only where
$AICENSUS_LAB_HEAVY=1 is set. Elsewhere they are deselected, not skipped: they count neither
as passed nor as skipped, and the summary says how many were not run and how to run them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aicensus.lab.manager import Lab
from tests.support.lab import (
    ENV_HEAVY,
    Emulator,
    lab_heavy_asked,
    require_llama_server,
    spawn_emulator,
)

NOT_RUN: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if lab_heavy_asked():
        return
    heavy = [item for item in items if item.get_closest_marker("heavy") is not None]
    if heavy:
        NOT_RUN.extend(item.nodeid for item in heavy)
        config.hook.pytest_deselected(items=heavy)
        items[:] = [item for item in items if item.get_closest_marker("heavy") is None]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if NOT_RUN:
        terminalreporter.write_line(
            f"NOT RUN: {len(NOT_RUN)} heavy lab test(s) (Langflow, Letta, Open WebUI, "
            "Xinference: GBs of venvs), "
            f"deselected: set {ENV_HEAVY}=1 after `aicensus lab setup --all --heavy` to run them"
        )


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
