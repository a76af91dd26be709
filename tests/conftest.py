"""Guards for the whole suite (project rules 1 and 3).

* Loopback only: an audit hook on `socket.connect` refuses (PermissionError, an OSError the
  code under test handles as a failed connection) any IPv4/IPv6 connection outside
  127.0.0.0/8 and ::1 made in this process, and the test during which it happened fails.
  Subprocesses (CLI runs, the lab's servers) are outside the hook: they get loopback targets.
* No silent skips: every skip's reason is printed in the summary (-rfEs in pyproject.toml),
  and where $AICENSUS_NO_SKIP is set (scripts/test sets it) a skipped test fails instead.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator

import pytest

NO_SKIP = "AICENSUS_NO_SKIP"
_lock = threading.Lock()
_refused: list[str] = []


def _is_loopback(host: object) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a name: tests connect to addresses


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event != "socket.connect":
        return
    sock, address = args[0], args[1]
    family = getattr(sock, "family", None)
    if family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
        return
    if not _is_loopback(address[0]):
        with _lock:
            _refused.append(f"{address[0]}:{address[1]}")
        raise PermissionError(f"tests may connect to loopback only, not {address[0]}")


sys.addaudithook(_audit)  # cannot be removed; it only looks at socket.connect


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    with _lock:
        before = len(_refused)
    yield
    with _lock:
        refused = _refused[before:]
    if refused:
        pytest.fail(f"connections outside loopback were attempted (refused): {refused}")


SIGINT_LEAKS: list[str] = []


@pytest.fixture(autouse=True)
def _sigint_handler_kept(request: pytest.FixtureRequest) -> Iterator[None]:
    """Ctrl-C's handler is process-wide: a test (or a library it imports) that leaves its own
    behind would turn the resume tests' simulated Ctrl-C into nothing. Put it back, and name
    the test in the summary so the leak gets fixed where it starts."""
    before = signal.getsignal(signal.SIGINT)
    yield
    after = signal.getsignal(signal.SIGINT)
    if after is not before and before is not None:
        signal.signal(signal.SIGINT, before)
        SIGINT_LEAKS.append(f"{request.node.nodeid} left SIGINT = {after!r}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for leak in SIGINT_LEAKS:
        terminalreporter.write_line(f"SIGINT handler restored after: {leak}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    if os.environ.get(NO_SKIP, "").strip().lower() in ("", "0", "false", "no"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped, but ${NO_SKIP} is set (scripts/test): {reason}"


@pytest.hookimpl(tryfirst=True)
def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A module that skips itself while collecting fails too where $AICENSUS_NO_SKIP is set."""
    if not report.skipped or os.environ.get(NO_SKIP, "").strip().lower() in (
        "",
        "0",
        "false",
        "no",
    ):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped, but ${NO_SKIP} is set (scripts/test): {reason}"
