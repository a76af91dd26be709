"""Own venvs for real lab products whose pins clash with the shared `lab` extra (a launch's
`install:` list, aicensus.fingerprint.schema.LabLaunch).

    reqs = ("label-studio==1.23.2",)
    venv_dir(reqs)        # ${XDG_CACHE_HOME:-~/.cache}/aicensus/venvs/label-studio-<key>
    find_venv(reqs)       # that path once complete, else None
    create_venv(reqs)     # python -m venv + pip install, the marker file last

One venv per distinct requirement set, shared by every launch that lists the same set (open
and key variants), keyed by a hash of the sorted requirements and the Python version
(`$AICENSUS_LAB_VENVS` replaces the cache root). A venv is ready only when its marker file
`aicensus-venv.json` exists, written after pip succeeded: a half-installed one (pip killed,
a download failed) is never used, and the next `create_venv` starts it again from scratch.
"""

from __future__ import annotations

import hashlib
import platform
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from aicensus.errors import LabError
from aicensus.lab import cached_install

ENV_ROOT = "AICENSUS_LAB_VENVS"
MARKER = "aicensus-venv.json"
Echo = Callable[[str], None]


def python_tag() -> str:
    """The interpreter part of a venv's key: a venv's compiled wheels fit one Python."""
    return f"{sys.implementation.name}-{platform.python_version()}"


def cache_root() -> Path:
    return cached_install.cache_root(ENV_ROOT, "venvs")


def venv_key(requirements: Iterable[str]) -> str:
    reqs = sorted(requirements)
    digest = hashlib.sha256("\n".join([python_tag(), *reqs]).encode()).hexdigest()[:16]
    name = re.split(r"[\[=<>!~ ;@]", reqs[0], maxsplit=1)[0].lower() if reqs else "empty"
    return f"{name}-{digest}"


def venv_dir(requirements: Iterable[str]) -> Path:
    return cache_root() / venv_key(requirements)


def bin_dir(venv: Path) -> Path:
    return venv / "bin"


def python_of(venv: Path) -> Path:
    return bin_dir(venv) / "python"


def find_venv(requirements: Iterable[str]) -> Path | None:
    """The venv of these requirements if it was completed (marker written), else None."""
    reqs = sorted(requirements)
    venv = venv_dir(reqs)
    marker = cached_install.read_marker(venv, MARKER)
    if marker is None or marker.get("requirements") != reqs:
        return None
    return venv if python_of(venv).exists() else None


def create_venv(
    requirements: Iterable[str],
    *,
    echo: Echo | None = None,
    python: str | None = None,
    pip_args: Iterable[str] = (),
) -> Path:
    """Create (or finish) the venv of `requirements`; returns it. A failure is a LabError of
    one line naming pip's last error line and the log (`<venv>.log`), never a traceback."""
    say = echo or (lambda _msg: None)
    reqs = sorted(requirements)
    venv = venv_dir(reqs)
    with cached_install.locked(venv):
        if find_venv(reqs) is not None:
            return venv
        if venv.exists():  # a half-made one: pip died or was stopped; start again
            shutil.rmtree(venv)
        log = venv.with_name(venv.name + ".log")
        started = time.monotonic()
        say(f"own venv {venv.name}: pip install {' '.join(reqs)}")
        base = python or sys.executable
        _run([base, "-m", "venv", str(venv)], log, f"{base} -m venv {venv}")
        pip = [str(python_of(venv)), "-m", "pip", "install", "--disable-pip-version-check"]
        _run([*pip, *pip_args, *reqs], log, "pip install " + " ".join(reqs))
        fields = {"requirements": reqs, "python": python_tag()}
        seconds = cached_install.write_marker(venv, MARKER, fields, started)
        say(f"own venv {venv.name}: ready in {seconds:.0f}s")
    return venv


def _run(cmd: list[str], log: Path, what: str) -> None:
    cached_install.run_logged(cmd, log, what, _last_error)


def _last_error(lines: list[str]) -> str:
    """pip's own summary line (ERROR: …), else the log's last line."""
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    return (errors or lines or ["no output"])[-1][:300]


def create_all(
    requirement_sets: Iterable[Iterable[str]], *, echo: Echo | None = None, jobs: int = 3
) -> dict[str, str]:
    """Create every missing venv, `jobs` at a time (pip mostly waits on downloads and
    unpacking); returns {venv name: one-line error} for those that failed (the rest are made)."""
    from concurrent.futures import ThreadPoolExecutor

    say = echo or (lambda _msg: None)
    todo = [sorted(reqs) for reqs in requirement_sets if find_venv(reqs) is None]
    failed: dict[str, str] = {}

    def one(reqs: list[str]) -> None:
        try:
            create_venv(reqs, echo=say)
        except LabError as exc:
            failed[venv_key(reqs)] = str(exc)
            say(f"own venv {venv_key(reqs)}: FAILED: {exc}")

    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(todo) or 1))) as pool:
        list(pool.map(one, todo))
    return failed
