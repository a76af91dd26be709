"""The dashboard tests' store (tests/support/serve_store.py), built once per module."""

from __future__ import annotations

import pytest

from tests.support.serve_store import build_store


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_store(tmp_path_factory.mktemp("serve") / "store.duckdb")
