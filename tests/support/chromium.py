"""Headless Chromium for the browser tests (Debian's `chromium`, driven by Playwright): where it
is and the flags that keep it offline and quiet (every browser test uses these).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("AICENSUS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def need_chromium() -> None:
    """Fail (never skip) with a clear message when Chromium is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need it. Install it with "
            "`apt-get install -y chromium chromium-driver` (scripts/test does this when run as "
            "root), or point AICENSUS_CHROMIUM at a Chromium binary.",
            pytrace=False,
        )
