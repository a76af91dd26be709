from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.assess_cases import make_store


@pytest.fixture
def db(tmp_path: Path) -> str:
    return make_store(str(tmp_path / "scan.duckdb"))
