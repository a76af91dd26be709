"""One error tree (issue 13): every exception aicensus defines lives in aicensus/errors.py,
under AicensusError, and is drawn in that module's docstring."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

from aicensus import errors

SRC = Path(errors.__file__).resolve().parent
BUILTIN_EXCEPTIONS = {
    name
    for name in dir(builtins)
    if isinstance(getattr(builtins, name), type)
    and issubclass(getattr(builtins, name), BaseException)
}


def _defined_in_errors() -> dict[str, type]:
    return {
        name: obj
        for name, obj in vars(errors).items()
        if isinstance(obj, type)
        and issubclass(obj, BaseException)
        and obj.__module__ == errors.__name__
    }


def test_no_module_but_errors_defines_an_exception() -> None:
    """Static (ast), so modules whose imports are optional (the lab's products) count too."""
    exception_names = BUILTIN_EXCEPTIONS | set(_defined_in_errors())
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "errors.py" and path.parent == SRC:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {
                b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
            }
            if bases & exception_names:
                bad.append(f"{path.relative_to(SRC.parent)}:{node.lineno}: class {node.name}")
    assert not bad, "define these in aicensus/errors.py:\n" + "\n".join(bad)


def test_every_error_is_in_the_tree_and_its_drawing() -> None:
    classes = _defined_in_errors()
    assert len(classes) >= 19  # the tree as of issue 13
    doc = errors.__doc__ or ""
    for name, cls in classes.items():
        assert name in doc, f"{name} is missing from the tree in errors.py's docstring"
        if name != "Terminated":  # a KeyboardInterrupt on purpose: SIGTERM handled like Ctrl-C
            assert issubclass(cls, errors.AicensusError), name


def test_errors_callers_catch_as_valueerror_stay_valueerrors() -> None:
    for cls in (
        errors.RecordError,
        errors.HeaderError,
        errors.GGUFHeaderError,
        errors.EmulatorConfigError,
    ):
        assert issubclass(cls, ValueError) and issubclass(cls, errors.AicensusError), cls
