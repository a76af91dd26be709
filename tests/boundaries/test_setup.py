"""The README's test command sets itself up (issue 13): scripts/test checks in its first
second what this Python lacks (scripts/missing_requirements.py) and installs it into ./.venv,
before the slow lab set-up."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "missing_requirements.py"


def _module():
    spec = importlib.util.spec_from_file_location("missing_requirements", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_check_names_only_real_requirements_and_is_quick() -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60, cwd="/"
    )
    assert time.monotonic() - started < 10  # one Python start-up and a metadata walk
    assert proc.returncode == 0, proc.stderr
    wanted = set(_module().requirements())
    for line in proc.stdout.splitlines():
        assert line in wanted or line.startswith("aicensus"), line


def test_markers_that_exclude_this_machine_are_not_required() -> None:
    mod = _module()
    assert mod.applies("uvloop>=0.19") is True
    assert mod.applies(f"x>=1; sys_platform == '{sys.platform}'") is True
    assert mod.applies("x>=1; sys_platform == 'no-such-platform'") is False


def test_the_test_extra_holds_the_tools_the_test_command_runs() -> None:
    names = {r.split(">")[0].split("=")[0].split("[")[0].strip() for r in _module().requirements()}
    assert {"pytest", "ruff", "mypy", "import-linter", "hypothesis"} <= names


def test_the_check_and_install_come_before_the_lab_set_up() -> None:
    script = (ROOT / "scripts" / "test").read_text()
    first = script.index("missing_requirements.py")
    assert first < script.index("pip install -q -e '.[test,lab]'") < script.index("lab setup --all")
