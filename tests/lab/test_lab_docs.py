"""docs/lab.md's "What runs where" table is the lab's layout, not a hand-kept copy: adding a
product to a signature's `lab:` section must show in the document (scripts/lab_table.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_docs_table_is_the_layout() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lab_table.py")],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    table = out.stdout.strip()
    assert table.count("\n") > 50, table  # every real product, Ollama, look-alikes, decoys
    assert "| .10 |" in table and "**real**" in table and "suspected-honeypot" in table
    doc = (ROOT / "docs" / "lab.md").read_text()
    assert table in doc, "docs/lab.md: regenerate the table with python scripts/lab_table.py"
