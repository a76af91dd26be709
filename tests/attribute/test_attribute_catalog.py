"""The packaged catalog loads, covers what the issue asks for, and rejects malformed entries."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from aicensus.attribute import default_catalog, list_families, load_catalog
from aicensus.attribute.schema import OllamaRule
from aicensus.errors import CatalogError

# The shared provenance reference, reduced to family ids and Ollama prefixes (ships with the repo).
REFERENCE = Path(__file__).parents[1] / "data" / "provenance-reference-families.yaml"
# Reference families that the catalog splits into one family per developer.
SPLIT = {
    "cn-misc-arch": {"xverse", "orion", "codeshell", "skywork", "opencoder"},
    "korea-misc": {"kanana", "hyperclova-x-seed", "ax", "midm", "motif", "trillion"},
    "code-merges": {"phind-codellama", "codeup", "codebooga"},
}


def test_catalog_loads_with_at_least_150_families() -> None:
    catalog = default_catalog()
    assert len(catalog.families) >= 150
    assert catalog.meta.schema_version == 1
    assert re.fullmatch(r"\d{4}\.\d{2}\.\d{2}", catalog.meta.catalog_version)


def test_every_family_has_sources_and_a_known_developer() -> None:
    catalog = default_catalog()
    for family in catalog.families.values():
        assert family.sources, family.id
        assert family.developer is None or family.developer in catalog.developers, family.id
        assert family.licence.strip(), family.id


def test_developer_countries_are_iso_alpha2() -> None:
    for dev in default_catalog().developers.values():
        assert dev.country is None or re.fullmatch(r"[A-Z]{2}", dev.country), dev.id


def test_unverified_facts_are_flagged() -> None:
    catalog = default_catalog()
    assert "country" in catalog.developers["poolside"].uncertain
    assert "developer" in catalog.families["medllama2"].uncertain
    flagged = [f for f in catalog.families.values() if "licence" in f.uncertain]
    assert len(flagged) > 50  # most licences were not re-read at the source


def test_covers_every_reference_family_and_ollama_name() -> None:
    reference = yaml.safe_load(REFERENCE.read_text())["families"]
    catalog = default_catalog()
    for ref in reference:
        assert ref["id"] in catalog.families or SPLIT[ref["id"]] <= set(catalog.families), ref["id"]
    names = {
        (rule.name if isinstance(rule, OllamaRule) else rule)
        for family in catalog.families.values()
        for rule in family.ollama
    }
    for ref in reference:
        for prefix in ref["ollama_prefixes"]:
            assert prefix.split(":")[0] in names, prefix


def test_list_families_filters() -> None:
    french = list_families(country="fr")
    assert french and all(row.country == "FR" for row in french)
    meta = list_families(developer="meta")
    assert {row.developer for row in meta} == {"Meta"}
    gemma = list_families(licence="gemma terms")
    assert {row.id for row in gemma} >= {"gemma2", "gemma3"}


@pytest.mark.parametrize(
    ("filename", "family", "mutate", "expected"),
    [
        (
            "alibaba.yaml",
            "qwen2.5",
            lambda f: f.update(licence=7),
            r"family 'qwen2\.5': field 'licence'",
        ),
        (
            "alibaba.yaml",
            "qwen2.5",
            lambda f: f.update(colour="red"),
            r"family 'qwen2\.5'.*unknown field `colour`",
        ),
        (
            "alibaba.yaml",
            "qwen2.5",
            lambda f: f.update(developer="nobody"),
            r"field 'developer': unknown developer",
        ),
        (
            "alibaba.yaml",
            "qwq",
            lambda f: f.update(base="qwen9"),
            r"family 'qwq': field 'base': unknown base family",
        ),
        (
            "alibaba.yaml",
            "qwen3",
            lambda f: f.update(architectures=["qwen99"]),
            r"field 'architectures\[0\]'",
        ),
        (
            "alibaba.yaml",
            "qwen3",
            lambda f: f.update(aliases=["llama3"]),
            r"alias 'llama3' is already used",
        ),
        (
            "alibaba.yaml",
            "qwen3",
            lambda f: f.update(first_release="May 2025"),
            r"field 'first_release'",
        ),
        ("alibaba.yaml", "qwen3", lambda f: f.update(modality=["smell"]), r"field 'modality\[0\]'"),
        ("alibaba.yaml", "qwen3", lambda f: f.pop("sources"), r"family 'qwen3'.*`sources`"),
        (
            "alibaba.yaml",
            "qwen3",
            lambda f: f.update(ollama=["llama3"]),
            r"'llama3' \(all tags\) is already claimed",
        ),
        ("alibaba.yaml", "qwen3", lambda f: f.update(hf=["no-slash"]), r"field 'hf\[0\]'"),
    ],
)
def test_malformed_entry_names_file_entry_and_field(
    edit_family: Callable[..., Path], filename: str, family: str, mutate: Callable, expected: str
) -> None:
    root = edit_family(filename, family, mutate)
    with pytest.raises(CatalogError, match=expected) as info:
        load_catalog(root)
    assert f"families/{filename}" in str(info.value)


def test_bad_yaml_and_bad_country(catalog_copy: Path) -> None:
    (catalog_copy / "families" / "meta.yaml").write_text("families: [ {id: x\n")
    with pytest.raises(CatalogError, match=r"families/meta\.yaml: not valid YAML"):
        load_catalog(catalog_copy)


def test_bad_developer_country(catalog_copy: Path) -> None:
    path = catalog_copy / "developers.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["developers"][0]["country"] = "China"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(
        CatalogError, match=r"developers\.yaml: developer 'alibaba': field 'country'"
    ):
        load_catalog(catalog_copy)


def test_duplicate_family_across_files(catalog_copy: Path) -> None:
    meta = catalog_copy / "families" / "meta.yaml"
    doc = yaml.safe_load(meta.read_text())
    extra = catalog_copy / "families" / "zz-extra.yaml"
    extra.write_text(yaml.safe_dump({"families": [doc["families"][0]]}, sort_keys=False))
    with pytest.raises(
        CatalogError, match=r"zz-extra\.yaml: family 'llama2': field 'id': already defined"
    ):
        load_catalog(catalog_copy)
