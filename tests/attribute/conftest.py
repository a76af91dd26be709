from __future__ import annotations

import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest
import yaml

LABELS = Path(__file__).with_name("labelled_names.yaml")


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    """A writable copy of the packaged catalog directory."""
    source = resources.files("aicensus.attribute") / "catalog"
    target = tmp_path / "catalog"
    with resources.as_file(source) as path:
        shutil.copytree(path, target)
    return target


@pytest.fixture
def edit_family(catalog_copy: Path) -> Callable[[str, str, Callable[[dict], None]], Path]:
    """Edit one family entry in the copy: edit_family('alibaba.yaml', 'qwen2.5', mutate)."""

    def edit(filename: str, family_id: str, mutate: Callable[[dict], None]) -> Path:
        path = catalog_copy / "families" / filename
        doc = yaml.safe_load(path.read_text())
        entry = next(f for f in doc["families"] if f["id"] == family_id)
        mutate(entry)
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        return catalog_copy

    return edit


@pytest.fixture(scope="session")
def labels() -> list[dict]:
    """The labelled name set (labelled_names.yaml)."""
    return yaml.safe_load(LABELS.read_text())["names"]
