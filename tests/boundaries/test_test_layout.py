"""The tests' own layout (issue 13): test modules share code only through tests/support (plain
helpers) and conftest.py fixtures, never by importing one another; nothing depends on an
absolute path of one machine."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
SUPPORT = TESTS / "support"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, nested ones included; relative imports
    are given as '.' plus their module."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                out.append((node.lineno, "." * node.level + (node.module or "")))
            else:
                out.append((node.lineno, node.module or ""))
    return out


def _local_names() -> set[str]:
    """Bare module names that resolve to a file in tests/ through pytest's sys.path insertion
    (`import targets_fakes`): forbidden, as they hide a test-to-test import."""
    return {p.stem for p in TESTS.rglob("*.py") if p.stem != "__init__"} - {"tests"}


def test_test_modules_import_shared_code_only_from_tests_support() -> None:
    local = _local_names()
    bad = []
    for path in sorted(TESTS.rglob("*.py")):
        rel = path.relative_to(TESTS.parent)
        for line, module in _imports(path):
            top = module.split(".")[0]
            if module.startswith("."):
                bad.append(f"{rel}:{line}: relative import {module!r}")
            elif top == "tests" and not (
                module == "tests.support" or module.startswith("tests.support.")
            ):
                bad.append(f"{rel}:{line}: imports {module} (use tests.support or a fixture)")
            elif top in local and top != "tests":
                bad.append(f"{rel}:{line}: imports the test-tree module {module!r} by bare name")
    assert not bad, "\n".join(bad)


def test_support_holds_helpers_not_tests() -> None:
    assert SUPPORT.is_dir()
    names = [p.name for p in SUPPORT.rglob("*.py")]
    tests_here = [n for n in names if re.match(r"(test_.*|.*_test|conftest)\.py$", n)]
    assert not tests_here, tests_here


def test_every_test_directory_is_a_package() -> None:
    """Without __init__.py pytest puts the directory itself on sys.path, which is how a test
    module could import a sibling by bare name; with it, names are unique (tests.x.y)."""
    missing = [
        str(d.relative_to(TESTS.parent))
        for d in [TESTS, *(p for p in TESTS.rglob("*") if p.is_dir())]
        if any(d.glob("*.py")) and not (d / "__init__.py").exists()
    ]
    assert not missing, missing


def test_no_test_depends_on_an_absolute_path_of_one_machine() -> None:
    """A literal absolute path to a user's or this workspace's files (/work, /home, /root,
    /Users) would make a test pass or skip on one machine only."""
    pattern = re.compile(r"""["'](/work/|/home/|/root/|/Users/)""")
    bad = [
        f"{path.relative_to(TESTS.parent)}:{n}: {line.strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line) and path != Path(__file__).resolve()
    ]
    assert not bad, "\n".join(bad)
