"""The CLI is a thin layer: it imports only the public library, the error tree, the records
and its own modules, and no module of the CLI or of the library speaks SQL."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import aicensus

SRC = Path(aicensus.__file__).parent
ALLOWED = (
    "aicensus.api",
    "aicensus.errors",
    "aicensus.records",
    "aicensus.cli",
    "aicensus.version",
)


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "aicensus":  # `from aicensus import api` names a module
                names += [f"aicensus.{a.name}" for a in node.names]
            else:
                names.append(node.module)
    return names


def test_cli_imports_only_the_library() -> None:
    modules = sorted((SRC / "cli").glob("*.py"))
    assert len(modules) >= 10
    crossing = {
        f"{path.name}: {name}"
        for path in modules
        for name in _imports(path)
        if name.startswith("aicensus")
        and name != "aicensus.__version__"
        and not name.startswith(ALLOWED)
    }
    assert not crossing, sorted(crossing)


def test_the_checker_sees_a_crossing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from aicensus.store import longitudinal\nfrom aicensus import report\n")
    assert [n for n in _imports(bad) if not n.startswith(ALLOWED)] == [
        "aicensus.store",
        "aicensus.report",
    ]


SQL = re.compile(r"\b(SELECT|INSERT INTO|CREATE TABLE|DELETE FROM)\b")


def test_no_sql_in_cli_or_api() -> None:
    for folder in ("cli", "api"):
        for path in sorted((SRC / folder).glob("*.py")):
            text = path.read_text(encoding="utf-8")
            assert "duckdb" not in {n.split(".")[0] for n in _imports(path)}, path
            assert "._con" not in text and not SQL.search(text), path
