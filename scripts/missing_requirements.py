"""Prints what scripts/test needs and this Python lacks, one item a line; nothing when this
checkout is installed (editable) with every requirement of the package and its `test` and
`lab` extras. Version pins are left to pip. Runs in well under a second; standard library
only (and `packaging` when present), so it works in a bare virtual environment."""

import importlib.metadata as md
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def requirements() -> list[str]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = [*project["dependencies"], *extras["test"], *extras["lab"]]
    # An extra may name another of this project's extras (`aicensus[pull]`): count its packages.
    own = re.compile(rf"{re.escape(project['name'])}\[([^\]]+)\]")
    out: list[str] = []
    for req in wanted:
        m = own.fullmatch(req.strip())
        if m is None:
            out.append(req)
        else:
            out += [r for name in m.group(1).split(",") for r in extras[name.strip()]]
    return out


def applies(req: str) -> bool:
    """False for a requirement whose environment marker excludes this machine."""
    if ";" not in req:
        return True
    try:
        from packaging.requirements import Requirement
    except ImportError:
        return True  # cannot tell: count it, the install brings packaging
    marker = Requirement(req).marker
    return marker is None or marker.evaluate()


def missing() -> list[str]:
    # Runs under whatever python3 the machine has, to say so when it is too old.
    if sys.version_info < (3, 11):  # noqa: UP036
        return ["Python >= 3.11 (this is %d.%d)" % sys.version_info[:2]]  # noqa: UP031
    gaps = []
    for req in requirements():
        name = re.match(r"[A-Za-z0-9._-]+", req)
        if not applies(req) or name is None:
            continue
        try:
            md.distribution(name.group(0))
        except md.PackageNotFoundError:
            gaps.append(req)
    try:
        import aicensus
    except ImportError:
        gaps.append("aicensus (this checkout, editable)")
    else:
        found = pathlib.Path(aicensus.__file__).resolve()
        if not found.is_relative_to(ROOT / "src"):
            gaps.append(f"aicensus from this checkout, editable (found {found})")
    return gaps


if __name__ == "__main__":
    for gap in missing():
        print(gap)
