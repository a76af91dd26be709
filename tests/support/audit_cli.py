"""Run `aicensus audit` in its own process, as a user would (the audit CLI tests)."""

from __future__ import annotations

import subprocess
import sys


def _audit_argv() -> list[str]:
    """`aicensus audit` once the command is registered in cli/app.py; until then the same
    click command run directly."""
    from aicensus.cli import app

    app._register()
    if "audit" in app.cli.commands:
        return [sys.executable, "-m", "aicensus", "audit"]
    return [
        sys.executable,
        "-c",
        "from aicensus.cli.audit import audit_command; audit_command(prog_name='aicensus audit')",
    ]


def run_audit_cli(
    *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*_audit_argv(), *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc
