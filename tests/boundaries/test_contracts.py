"""The boundary checks of the test command fail when a boundary is crossed (issue 13).

scripts/test runs `lint-imports` (the import contracts in pyproject.toml) and `mypy` (strict
for records, engine, store and api). Here both run on a copy of src/ with the project's own
configuration: the clean copy keeps every contract, and a deliberate crossing breaks the
contract that names it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONTRACTS = {c["id"]: c["name"] for c in CONFIG["tool"]["importlinter"]["contracts"]}
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def _copy(tmp: Path) -> Path:
    """src/ and pyproject.toml in `tmp`, caches and build leftovers left out."""
    shutil.copytree(
        ROOT / "src",
        tmp / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".mypy_cache"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp / "pyproject.toml")
    return tmp


def _inject(tree: Path, package: str, line: str) -> None:
    """Append `line` to the package's __init__ (or the module), which any refactor keeps."""
    base = tree / "src" / "aicensus" / package
    target = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    assert target.exists(), target
    target.write_text(target.read_text() + f"\n{line}\n")


def _run(tree: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    # The copy, not the checkout; wide lines so rich does not wrap the contract names.
    # NO_COLOR: some import-linter/rich versions colour their output even when captured.
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "COLUMNS": "400", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, *argv], cwd=tree, env=env, capture_output=True, text=True, timeout=240
    )


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return _run(tree, "-c", LINT, "--no-cache")  # reads tree/pyproject.toml


def _broken(output: str) -> set[str]:
    """Ids of the contracts lint-imports reports BROKEN."""
    output = re.sub(r"\x1b\[[0-9;]*m", "", output)
    return {
        cid
        for cid, name in CONTRACTS.items()
        if any(ln.startswith(f"{name} BROKEN") for ln in output.splitlines())
    }


def test_the_contracts_are_the_ones_the_issue_asks_for() -> None:
    assert set(CONTRACTS) == {"stages", "front-door", "store-owns-duckdb", "cli-through-api"}
    assert "aicensus.cli" in CONFIG["project"]["scripts"]["aicensus"]
    assert {"import-linter", "mypy"} <= {
        req.split(">")[0].split("=")[0].strip()
        for req in CONFIG["project"]["optional-dependencies"]["test"]
    }


def test_a_clean_copy_keeps_every_contract(tmp_path: Path) -> None:
    proc = _lint(_copy(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in proc.stdout


@pytest.mark.parametrize(
    ("package", "line", "contract"),
    [
        ("report", "import duckdb", "store-owns-duckdb"),
        ("cli", "import aicensus.attribute", "cli-through-api"),
        ("cli", "import aicensus.store", "cli-through-api"),
        ("engine", "import aicensus.report", "stages"),
        ("targets", "import aicensus.fingerprint", "stages"),
        ("audit", "import aicensus.cli", "front-door"),
    ],
)
def test_a_crossing_breaks_its_contract(
    tmp_path: Path, package: str, line: str, contract: str
) -> None:
    tree = _copy(tmp_path)
    _inject(tree, package, line)
    proc = _lint(tree)
    assert proc.returncode != 0, proc.stdout
    assert contract in _broken(proc.stdout), proc.stdout


def test_the_type_checker_fails_on_a_type_error_and_on_an_untyped_strict_module(
    tmp_path: Path,
) -> None:
    """One mypy run over the copy: a wrong type in a non-strict package, and a function
    without annotations in a strict one (records), are both reported."""
    tree = _copy(tmp_path)
    _inject(tree, "report", 'WRONG: int = "not an int"')
    _inject(tree, "records", "def untyped(value):\n    return value")
    proc = _run(
        tree, "-m", "mypy", "--config-file", str(tree / "pyproject.toml"),
        "--cache-dir", str(tmp_path / "mypy-cache"),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "report/__init__.py" in out and "[assignment]" in out, out
    assert "records.py" in out and "[no-untyped-def]" in out, out
    assert "Found 2 errors in 2 files" in out, out


def test_the_test_command_runs_both_checks_before_pytest() -> None:
    """scripts/test stops (set -e) at a broken contract or a type error, before any test."""
    script = (ROOT / "scripts" / "test").read_text()
    assert "set -euo pipefail" in script
    steps = [
        script.index("lint_imports_command"),
        script.index("-m mypy"),
        script.index("-m pytest"),
    ]
    assert steps == sorted(steps)
    assert "set +e" not in script[: steps[1]]
