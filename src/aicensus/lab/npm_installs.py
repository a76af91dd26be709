"""Own npm installs for real lab products published on npm (a launch's `npm:` list,
aicensus.fingerprint.schema.LabLaunch), beside the own venvs of lab/venvs.py.

    specs = ("promptfoo@0.121.20",)
    install_dir(specs)     # ${XDG_CACHE_HOME:-~/.cache}/aicensus/npm/promptfoo@0.121.20
    find_install(specs)    # that path once complete, else None
    create_install(specs)  # npm install --prefix DIR, the marker file last

One install per distinct set of pinned `name@version` specs, shared by every launch that lists
the same set (open and key variants), named after the spec (several specs: the first and a hash
of all; `$AICENSUS_LAB_NPM` replaces the cache root). An install is ready only when its marker
file `aicensus-npm.json` exists, written after npm succeeded: a half-made one (npm killed, a
download failed) is never used, and the next `create_install` starts it again from scratch.
The launch finds the packages under {node_modules} (`DIR/node_modules`) and runs them with the
`node` on PATH.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from aicensus.errors import LabError
from aicensus.lab import cached_install

ENV_ROOT = "AICENSUS_LAB_NPM"
MARKER = "aicensus-npm.json"
Echo = Callable[[str], None]


def cache_root() -> Path:
    return cached_install.cache_root(ENV_ROOT, "npm")


def install_key(specs: Iterable[str]) -> str:
    """`name@version` (a scope's slash made `+`); several specs: the first and a hash."""
    ordered = sorted(specs)
    first = ordered[0].replace("/", "+") if ordered else "empty"
    if len(ordered) == 1:
        return first
    return f"{first}-{hashlib.sha256(chr(10).join(ordered).encode()).hexdigest()[:12]}"


def install_dir(specs: Iterable[str]) -> Path:
    return cache_root() / install_key(specs)


def node_modules(install: Path) -> Path:
    return install / "node_modules"


def find_install(specs: Iterable[str]) -> Path | None:
    """The install of these specs if it was completed (marker written), else None."""
    ordered = sorted(specs)
    where = install_dir(ordered)
    marker = cached_install.read_marker(where, MARKER)
    if marker is None or marker.get("specs") != ordered:
        return None
    return where if node_modules(where).is_dir() else None


def tools_missing() -> list[str]:
    """node and npm must be on PATH (Node 20 on the lab's machines)."""
    return [tool for tool in ("node", "npm") if shutil.which(tool) is None]


def create_install(specs: Iterable[str], *, echo: Echo | None = None) -> Path:
    """Install (or finish installing) `specs`; returns the directory. A failure is a LabError
    of one line naming npm's last error line and the log (`<dir>.log`), never a traceback."""
    say = echo or (lambda _msg: None)
    ordered = sorted(specs)
    where = install_dir(ordered)
    with cached_install.locked(where):
        if find_install(ordered) is not None:
            return where
        if where.exists():  # a half-made one: npm died or was stopped; start again
            shutil.rmtree(where)
        if lacking := tools_missing():
            raise LabError(f"npm install {' '.join(ordered)}: {' and '.join(lacking)} not on PATH")
        where.mkdir(parents=True)
        log = where.with_name(where.name + ".log")
        started = time.monotonic()
        say(f"own npm install {where.name}: npm install {' '.join(ordered)}")
        cmd = ["npm", "install", "--prefix", str(where), "--no-audit", "--no-fund", "--omit=dev"]
        _run([*cmd, *ordered], log, "npm install " + " ".join(ordered))
        fields = {"specs": ordered, "node": _node_version()}
        seconds = cached_install.write_marker(where, MARKER, fields, started)
        say(f"own npm install {where.name}: ready in {seconds:.0f}s")
    return where


def _node_version() -> str:
    try:
        out = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _run(cmd: list[str], log: Path, what: str) -> None:
    cached_install.run_logged(cmd, log, what, _last_error)


def _last_error(lines: list[str]) -> str:
    """npm's own error lines (`npm error …`) name the cause first; else the log's last line."""
    errors = [ln for ln in lines if ln.startswith(("npm error", "npm ERR!"))]
    useful = [ln for ln in errors if "A complete log" not in ln and "log of this run" not in ln]
    if useful:
        return " / ".join(useful[:2])[:300]
    return (lines or ["no output"])[-1][:300]


def create_all(spec_sets: Iterable[Iterable[str]], *, echo: Echo | None = None) -> dict[str, str]:
    """Create every missing install, one at a time (npm is already parallel inside); returns
    {install name: one-line error} for those that failed (the rest are made)."""
    say = echo or (lambda _msg: None)
    failed: dict[str, str] = {}
    for specs in spec_sets:
        if find_install(specs) is not None:
            continue
        try:
            create_install(specs, echo=say)
        except LabError as exc:
            failed[install_key(specs)] = str(exc)
            say(f"own npm install {install_key(specs)}: FAILED: {exc}")
    return failed
