"""A progress bar on a terminal, silence when piped."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from tests.support.loopback import free_port


def _scan_args() -> list[str]:
    port = free_port()
    return [
        sys.executable,
        "-m",
        "aicensus",
        "scan",
        "127.0.0.1-127.0.0.20",
        "--ports",
        str(port),
        "--no-db",
        "--format",
        "jsonl",
    ]


def test_progress_bar_on_a_terminal() -> None:
    leader, follower = pty.openpty()
    proc = subprocess.run(_scan_args(), stdout=subprocess.PIPE, stderr=follower, timeout=120)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    err = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "20/20 (100%)" in err


def test_silent_when_piped() -> None:
    proc = subprocess.run(_scan_args(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "%)" not in proc.stderr
    assert proc.stdout == ""  # nothing identified: jsonl prints nothing
    assert proc.stderr.count("\n") == 1  # only the summary line
