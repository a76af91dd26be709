"""What the lab's cached installs share (own venvs, lab/venvs.py; own npm installs,
lab/npm_installs.py): a cache root under the user cache directory, one installer per
directory, a marker file written last (a half-made install is never used), and a failed
command reported on one line with its log."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aicensus.errors import LabError


def cache_root(env_override: str, leaf: str) -> Path:
    """`$env_override` if set, else `${XDG_CACHE_HOME:-~/.cache}/aicensus/<leaf>`."""
    override = os.environ.get(env_override)
    if override:
        return Path(override).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aicensus" / leaf


@contextlib.contextmanager
def locked(where: Path) -> Iterator[None]:
    """One installer per directory: two `lab setup` runs must not install into the same one."""
    where.parent.mkdir(parents=True, exist_ok=True)
    with open(where.with_name(where.name + ".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_marker(where: Path, name: str) -> dict[str, Any] | None:
    try:
        marker = json.loads((where / name).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def write_marker(where: Path, name: str, fields: dict[str, Any], started: float) -> float:
    """Write the marker (atomically, last: only now is the install ready); returns seconds."""
    seconds = time.monotonic() - started
    marker = {
        **fields,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
    }
    tmp = where / (name + ".tmp")
    tmp.write_text(json.dumps(marker, indent=2) + "\n")
    tmp.replace(where / name)
    return seconds


def run_logged(
    cmd: list[str],
    log: Path,
    what: str,
    last_error: Callable[[list[str]], str],
    env: dict[str, str] | None = None,
) -> None:
    """Run `cmd` with its output appended to `log`; a failure is one LabError line naming
    the tool's own error (`last_error` picks it from the log's lines) and the log."""
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env)
        except OSError as exc:
            raise LabError(f"{what}: could not run ({exc})") from None
    if proc.returncode != 0:
        try:
            text = log.read_text(errors="replace")
        except OSError:
            cause = "no log"
        else:
            cause = last_error([ln.strip() for ln in text.splitlines() if ln.strip()])
        raise LabError(f"{what} failed (exit {proc.returncode}): {cause}; log: {log}")
