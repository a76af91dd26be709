"""Own venvs for real lab products whose pins clash with the shared `lab` extra (a launch's
`install:` list, aicensus.fingerprint.schema.LabLaunch).

    reqs = ("label-studio==1.23.2",)
    venv_dir(reqs)        # ${XDG_CACHE_HOME:-~/.cache}/aicensus/venvs/label-studio-<key>
    find_venv(reqs)       # that path once complete, else None
    create_venv(reqs)     # python -m venv + pip install, the marker file last
    create_venv(VenvSpec(("langflow==1.13.0",), resolver="uv"))   # uv venv + uv pip install

One venv per distinct requirement set, shared by every launch that lists the same set (open
and key variants), keyed by a hash of the sorted requirements, the Python version and how it
is resolved (`resolver: uv`, `exclude_newer`; `$AICENSUS_LAB_VENVS` replaces the cache root).
A venv is ready only when its marker file `aicensus-venv.json` exists, written after the
install succeeded: a half-installed one (pip killed, a download failed) is never used, and
the next `create_venv` starts it again from scratch.

uv (for products pip's resolver cannot finish, e.g. Langflow) is a PyPI package: pip installs
a pinned uv into a small tool venv of its own under the user cache (`$AICENSUS_LAB_TOOLS`
replaces `~/.cache/aicensus/tools`), marker last like the venvs. uv reads neither pip.conf
nor $PIP_*: the index settings pip sees here (`pip config list`: find-links, index URLs,
constraints, no-index) are handed to uv as its own options, so both resolvers see the same
packages (a machine's local wheels, e.g. a CPU torch, included).
"""

from __future__ import annotations

import ast
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from aicensus.errors import LabError
from aicensus.fingerprint.schema import LabLaunch
from aicensus.lab import cached_install

ENV_ROOT = "AICENSUS_LAB_VENVS"
TOOLS_ROOT = "AICENSUS_LAB_TOOLS"
MARKER = "aicensus-venv.json"
UV_VERSION = "0.13.9"  # the uv that makes `resolver: uv` venvs (pinned: resolutions repeat)
Echo = Callable[[str], None]


@dataclass(frozen=True)
class VenvSpec:
    """What makes one own venv: its pinned requirements (sorted) and how they are resolved."""

    requirements: tuple[str, ...]
    resolver: str = "pip"  # pip | uv
    exclude_newer: str | None = None  # uv's --exclude-newer (an ISO date)

    @classmethod
    def of(cls, launch: LabLaunch) -> VenvSpec:
        return cls(tuple(sorted(launch.install)), launch.resolver, launch.exclude_newer)


VenvLike = VenvSpec | Iterable[str]


def spec_of(what: VenvLike) -> VenvSpec:
    """A VenvSpec as is; a bare requirement list is a pip venv of those requirements."""
    if isinstance(what, VenvSpec):
        return VenvSpec(tuple(sorted(what.requirements)), what.resolver, what.exclude_newer)
    return VenvSpec(tuple(sorted(what)))


def python_tag() -> str:
    """The interpreter part of a venv's key: a venv's compiled wheels fit one Python."""
    return f"{sys.implementation.name}-{platform.python_version()}"


def cache_root() -> Path:
    return cached_install.cache_root(ENV_ROOT, "venvs")


def venv_key(what: VenvLike) -> str:
    spec = spec_of(what)
    reqs = list(spec.requirements)
    # A pip venv keeps the key it always had (no rebuild of the venvs already made); another
    # resolver or date is another resolution, so another venv.
    how = [] if spec.resolver == "pip" else [f"resolver={spec.resolver}"]
    how += [f"exclude-newer={spec.exclude_newer}"] if spec.exclude_newer else []
    material = "\n".join([python_tag(), *reqs, *how])
    digest = hashlib.sha256(material.encode()).hexdigest()[:16]
    name = re.split(r"[\[=<>!~ ;@]", reqs[0], maxsplit=1)[0].lower() if reqs else "empty"
    return f"{name}-{digest}"


def venv_dir(what: VenvLike) -> Path:
    return cache_root() / venv_key(what)


def bin_dir(venv: Path) -> Path:
    return venv / "bin"


def python_of(venv: Path) -> Path:
    return bin_dir(venv) / "python"


def _marker_fields(spec: VenvSpec) -> dict[str, object]:
    fields: dict[str, object] = {"requirements": list(spec.requirements), "python": python_tag()}
    if spec.resolver != "pip":
        fields |= {"resolver": spec.resolver, "exclude_newer": spec.exclude_newer}
    return fields


def find_venv(what: VenvLike) -> Path | None:
    """The venv of these requirements if it was completed (marker written), else None."""
    spec = spec_of(what)
    venv = venv_dir(spec)
    marker = cached_install.read_marker(venv, MARKER)
    if marker is None or marker.get("requirements") != list(spec.requirements):
        return None
    if marker.get("resolver", "pip") != spec.resolver:
        return None
    return venv if python_of(venv).exists() else None


def create_venv(
    what: VenvLike,
    *,
    echo: Echo | None = None,
    python: str | None = None,
    pip_args: Iterable[str] = (),
) -> Path:
    """Create (or finish) the venv of `what` (requirements, or a VenvSpec); returns it. A
    failure is a LabError of one line naming the installer's last error line and the log
    (`<venv>.log`), never a traceback."""
    say = echo or (lambda _msg: None)
    spec = spec_of(what)
    reqs = list(spec.requirements)
    venv = venv_dir(spec)
    with cached_install.locked(venv):
        if find_venv(spec) is not None:
            return venv
        if venv.exists():  # a half-made one: pip died or was stopped; start again
            shutil.rmtree(venv)
        log = venv.with_name(venv.name + ".log")
        started = time.monotonic()
        base = python or sys.executable
        if spec.resolver == "uv":
            uv = str(ensure_uv(echo=say))
            newer = ["--exclude-newer", spec.exclude_newer] if spec.exclude_newer else []
            say(f"own venv {venv.name}: uv pip install {' '.join([*newer, *reqs])}")
            _run([uv, "venv", "--no-config", "--python", base, str(venv)], log, f"uv venv {venv}")
            config = pip_config(base)
            cmd = [uv, "pip", "install", "--no-config", "--python", str(python_of(venv))]
            cmd += [*pip_index_as_uv(config), *newer, *pip_args, *reqs]
            _run(cmd, log, "uv pip install " + " ".join(reqs), env=_uv_env(config))
        else:
            say(f"own venv {venv.name}: pip install {' '.join(reqs)}")
            _pip_venv(venv, base, reqs, log, pip_args)
        seconds = cached_install.write_marker(venv, MARKER, _marker_fields(spec), started)
        say(f"own venv {venv.name}: ready in {seconds:.0f}s")
    return venv


# --------------------------------------------------------------------------- uv


def uv_dir() -> Path:
    """The tool venv uv is pip-installed into (one per uv version)."""
    return cached_install.cache_root(TOOLS_ROOT, "tools") / f"uv-{UV_VERSION}"


def find_uv() -> Path | None:
    """The cached uv binary once its tool venv was completed (marker written), else None."""
    where = uv_dir()
    marker = cached_install.read_marker(where, MARKER)
    binary = bin_dir(where) / "uv"
    if marker is None or marker.get("requirements") != [f"uv=={UV_VERSION}"]:
        return None
    return binary if binary.exists() else None


def ensure_uv(*, echo: Echo | None = None) -> Path:
    """uv, pip-installed (pinned) into its tool venv the first time; a failure is one line."""
    say = echo or (lambda _msg: None)
    where = uv_dir()
    with cached_install.locked(where):
        if (found := find_uv()) is not None:
            return found
        if where.exists():
            shutil.rmtree(where)
        log = where.with_name(where.name + ".log")
        started = time.monotonic()
        say(f"uv tool venv {where.name}: pip install uv=={UV_VERSION}")
        _pip_venv(where, sys.executable, [f"uv=={UV_VERSION}"], log)
        fields = {"requirements": [f"uv=={UV_VERSION}"]}
        cached_install.write_marker(where, MARKER, fields, started)
    return bin_dir(where) / "uv"


def setup_uv(*, echo: Echo | None = None) -> dict[str, str]:
    """For `lab setup --all`: uv made ready even where no default launch resolves with it (the
    heavy ones do, and the lab's tests of the uv path run it); {name: one-line error}."""
    try:
        ensure_uv(echo=echo)
    except LabError as exc:
        return {uv_dir().name: str(exc)}
    return {}


# pip's settings that choose which packages are seen, as uv's options (uv reads no pip.conf).
_UV_OPTION = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
}


def pip_config(python: str | None = None) -> dict[str, str]:
    """pip's configuration as pip sees it here (files, then $PIP_*: the later one wins, as in
    pip): option name → value. Empty if pip cannot say."""
    cmd = [python or sys.executable, "-m", "pip", "config", "list"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[str, str] = {}
    for line in out.stdout.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        try:
            text = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            text = value.strip("'\"")
        found[key.rsplit(".", 1)[-1]] = str(text)
    return found


def pip_index_as_uv(config: dict[str, str]) -> list[str]:
    """uv's options for the package sources and constraints of pip's `config` (pip_config)."""
    args: list[str] = []
    for key, option in _UV_OPTION.items():
        for value in config.get(key, "").split():
            args += [option, value]
    if config.get("no-index", "").lower() in ("1", "true", "yes", "on"):
        args.append("--no-index")
    if "--extra-index-url" in args:  # pip takes the best version across all its indexes;
        args += ["--index-strategy", "unsafe-best-match"]  # uv's default: the first index's
    return args


def _uv_env(config: dict[str, str]) -> dict[str, str]:
    """pip's CA bundle for uv too (uv reads $SSL_CERT_FILE, not pip's `cert`)."""
    env = dict(os.environ)
    cert = config.get("cert")
    if cert and "SSL_CERT_FILE" not in env:
        env["SSL_CERT_FILE"] = cert
    return env


# --------------------------------------------------------------------------- helpers


def _pip_venv(
    venv: Path, base: str, reqs: list[str], log: Path, pip_args: Iterable[str] = ()
) -> None:
    """`base -m venv VENV`, then that venv's pip installs `reqs` (both logged)."""
    _run([base, "-m", "venv", str(venv)], log, f"{base} -m venv {venv}")
    pip = [str(python_of(venv)), "-m", "pip", "install", "--disable-pip-version-check"]
    _run([*pip, *pip_args, *reqs], log, "pip install " + " ".join(reqs))


def _run(cmd: list[str], log: Path, what: str, env: dict[str, str] | None = None) -> None:
    cached_install.run_logged(cmd, log, what, _last_error, env=env)


def _last_error(lines: list[str]) -> str:
    """pip's own summary line (ERROR: …) or uv's (error: …, or × and its reason), else the
    log's last line."""
    errors = [ln for ln in lines if ln.startswith(("ERROR:", "error:"))]
    if not errors:
        for i, ln in enumerate(lines):
            if ln.startswith("×"):
                errors.append(" ".join(lines[i : i + 2]))
    return (errors or lines or ["no output"])[-1][:300]


def create_all(
    specs: Iterable[VenvLike], *, echo: Echo | None = None, jobs: int = 3
) -> dict[str, str]:
    """Create every missing venv, `jobs` at a time (pip mostly waits on downloads and
    unpacking); returns {venv name: one-line error} for those that failed (the rest are made)."""
    from concurrent.futures import ThreadPoolExecutor

    say = echo or (lambda _msg: None)
    todo = [spec for spec in map(spec_of, specs) if find_venv(spec) is None]
    failed: dict[str, str] = {}

    def one(spec: VenvSpec) -> None:
        try:
            create_venv(spec, echo=say)
        except LabError as exc:
            failed[venv_key(spec)] = str(exc)
            say(f"own venv {venv_key(spec)}: FAILED: {exc}")

    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(todo) or 1))) as pool:
        list(pool.map(one, todo))
    return failed
