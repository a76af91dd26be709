"""Due-diligence data in the catalog: variants, licences, jurisdictions and listings load and validate."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from aicensus.attribute import default_catalog, load_catalog
from aicensus.attribute.licences import find_licence, licence_class
from aicensus.attribute.schema import OllamaRule
from aicensus.errors import CatalogError

DAY = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


def test_every_library_name_with_local_weights_has_a_variant() -> None:
    catalog = default_catalog()
    missing = []
    for family in catalog.families.values():
        names = {(r.name if isinstance(r, OllamaRule) else r).lower() for r in family.ollama}
        covered = {v.ollama.lower() for v in family.variants if v.ollama}
        missing.extend(f"{family.id}:{n}" for n in names - covered)
    # exaone4 is in the catalog but was not in the 2026-07-15 library scrape
    assert missing == ["exaone:exaone4"]


def test_variants_carry_sources_dates_and_sizes() -> None:
    catalog = default_catalog()
    variants = [v for f in catalog.families.values() for v in f.variants]
    assert len(variants) >= 240
    for variant in variants:
        assert variant.source and DAY.match(variant.checked)
        assert variant.cloud_only or variant.sizes or "sizes" in variant.uncertain, variant
    qwen = next(v for v in catalog.families["qwen2.5"].variants if v.ollama == "qwen2.5")
    assert qwen.sizes == ["0.5b", "1.5b", "3b", "7b", "14b", "32b", "72b"]
    assert qwen.default == "7b" and qwen.capabilities == ["tools"]
    assert qwen.context_length == 32000
    assert qwen.per_size["72b"].licence == "Qwen License Agreement"
    bge = catalog.families["bge"].variants[0]
    assert bge.purpose == "embedding" and "embedding" in bge.capabilities
    coder = catalog.families["qwen2.5-coder"].variants[0]
    assert coder.purpose == "code" and "code" in coder.capabilities
    glm5 = next(v for v in catalog.families["glm-5"].variants if v.ollama == "glm-5")
    assert glm5.cloud_only and not glm5.sizes


def test_restriction_listings_cite_list_date_and_source() -> None:
    devs = default_catalog().developers
    zhipu = devs["zhipu"].listings[0]
    assert "Entity List" in zhipu.list and zhipu.date == "2025-01-16"
    assert zhipu.citation is not None and "90 FR 4617" in zhipu.citation
    baai = devs["baai"].listings[0]
    assert baai.citation is not None and "90 FR 14046" in baai.citation
    assert devs["iflytek"].listings[0].date == "2019-10-09"
    assert devs["sber"].listings[0].list.startswith("US Treasury OFAC")
    assert devs["tencent"].listings[0].list.startswith("US Department of Defense Section 1260H")
    # reported but not in force: recorded with its status, never as 'listed'
    assert devs["deepseek"].listings[0].status == "recommended"
    assert devs["alibaba"].listings[0].status == "withdrawn"
    assert not devs["meta"].listings and not devs["mistral"].listings
    for dev in devs.values():
        for item in [*dev.listings, *dev.jurisdictions]:
            assert item.source and DAY.match(item.checked), dev.id


def test_licence_registry_classes_and_restrictions() -> None:
    llama = find_licence("Llama 3.1 Community License")
    assert llama is not None and llama.evidence == "verified"
    kinds = {r.kind for r in llama.restrictions}
    assert {"user-threshold", "attribution", "naming", "field-of-use"} <= kinds
    assert any("700 million" in r.text for r in llama.restrictions)
    hunyuan = find_licence("Tencent Hunyuan Community License")
    assert hunyuan is not None
    territory = [r.text for r in hunyuan.restrictions if r.kind == "territory"]
    assert territory and "European Union" in territory[0] and "South Korea" in territory[0]
    vision = find_licence("Llama 3.2 Community License")
    assert vision is not None and any(r.kind == "territory" for r in vision.restrictions)
    assert licence_class("Apache-2.0") == "permissive"
    assert licence_class("Apache-2.0 (inherited from qwen2.5)") == "permissive"
    assert licence_class("CC-BY-NC-4.0") == "non-commercial"
    assert licence_class("Gemma Terms of Use") == "conditional"
    assert licence_class("varies (custom licences)") == "unknown"
    for licence in default_catalog().licences.values():
        assert licence.source and DAY.match(licence.checked)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("MIT", "permissive"),
        ("Apache License, Version 2.0", "permissive"),
        ("GPL-3.0", "copyleft"),  # GPL is copyleft, never permissive
        ("gpl-2.0-or-later", "copyleft"),
        ("GPLv3", "copyleft"),
        ("GNU General Public License v3.0", "copyleft"),
        ("AGPL-3.0", "copyleft"),
        ("LGPL-2.1", "copyleft"),
        ("CC-BY-SA-4.0", "copyleft"),
        ("cc-by-nc-sa-4.0", "non-commercial"),  # non-commercial beats share-alike
        ("research-only licence", "non-commercial"),
        ("llama3.1", "conditional"),  # Hugging Face / GGUF licence ids are the catalog ids
        ("gemma", "conditional"),
        ("Llama 3.1 Community License", "conditional"),
        ("proprietary", "proprietary"),
        ("openrail", "unknown"),
        ("other", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_one_licence_classification(text: str | None, kind: str) -> None:
    assert licence_class(text) == kind


def test_family_facts_have_sources() -> None:
    families = default_catalog().families
    released = families["llama3.1"].released
    assert released is not None and released.value == "2024-07-23"
    assert released.evidence == "verified" and "llama3_1/LICENSE" in (released.source or "")
    olmo = families["olmo"].open_training_data
    assert olmo is not None and olmo.value == "yes" and olmo.source
    advisories = families["deepseek-r1"].advisories
    assert advisories and advisories[0].kind == "government-evaluation" and advisories[0].source


@pytest.mark.parametrize(
    ("family", "mutate", "message"),
    [
        (
            "qwen2.5",
            lambda f: f["variants"][0].update(ollama="llama3"),
            r"family 'qwen2\.5': field 'variants\[0\]\.ollama': 'llama3' is not one of",
        ),
        (
            "qwen2.5",
            lambda f: f["variants"][0].update(default="9b"),
            r"field 'variants\[0\]\.default': default '9b' is not one of the sizes",
        ),
        (
            "qwen2.5",
            lambda f: f["variants"][0].update(sizes=["7 billion"]),
            r"family 'qwen2\.5': field 'variants\[0\]\.sizes\[0\]'",
        ),
        (
            "qwen2.5",
            lambda f: f["variants"][0].update(capabilities=["telepathy"]),
            r"field 'variants\[0\]\.capabilities\[0\]'",
        ),
        (
            "qwen2.5",
            lambda f: f["variants"][0].pop("source"),
            r"family 'qwen2\.5': field 'variants\[0\]'.*source",
        ),
        (
            "qwen2.5",
            lambda f: f.update(open_training_data={"value": "no", "evidence": "rumour"}),
            r"field 'open_training_data\.evidence'",
        ),
    ],
)
def test_malformed_diligence_data_is_a_catalog_error(
    edit_family: Callable[[str, str, Callable[[dict], None]], Path],
    family: str,
    mutate: Callable[[dict], None],
    message: str,
) -> None:
    root = edit_family("alibaba.yaml", family, mutate)
    with pytest.raises(CatalogError, match=message):
        load_catalog(root)


def test_bad_listing_and_duplicate_licence_match(catalog_copy: Path) -> None:
    devs = catalog_copy / "developers.yaml"
    doc = yaml.safe_load(devs.read_text())
    zhipu = next(d for d in doc["developers"] if d["id"] == "zhipu")
    zhipu["listings"][0]["date"] = "January 2025"
    devs.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    with pytest.raises(CatalogError, match=r"developer 'zhipu': field 'listings\[0\]\.date'"):
        load_catalog(catalog_copy)
    zhipu["listings"][0]["date"] = "2025-01-16"
    devs.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    lic = catalog_copy / "licences.yaml"
    ldoc = yaml.safe_load(lic.read_text())
    ldoc["licences"][1]["match"] = ["Apache-2.0"]
    lic.write_text(yaml.safe_dump(ldoc, sort_keys=False, allow_unicode=True))
    with pytest.raises(CatalogError, match=r"licences\.yaml: licence 'mit'.*already matches"):
        load_catalog(catalog_copy)


def test_catalog_without_licences_file_still_loads(catalog_copy: Path) -> None:
    (catalog_copy / "licences.yaml").unlink()
    assert load_catalog(catalog_copy).licences == {}
