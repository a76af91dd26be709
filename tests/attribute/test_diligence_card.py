"""The due-diligence card: developer, jurisdictions, licence terms, lineage, sources on every fact."""

from __future__ import annotations

import json

import pytest

from aicensus.attribute import card_summary, model_card
from aicensus.attribute.card_format import card_markdown, card_text
from aicensus.attribute.diligence import FactOut, FamilyRecord


def _facts(record: FamilyRecord) -> list[FactOut]:
    facts = [record.licence.name, record.open_weights, record.open_training_data, record.released]
    facts.extend(record.published)
    if record.developer is not None:
        dev = record.developer
        facts.extend([dev.legal_name, dev.country, dev.headquarters])
    return facts


def test_distill_card_shows_developer_and_base_records() -> None:
    card = model_card("deepseek-r1:70b")
    assert card.status == "attributed" and card.build == "deepseek-r1:70b"
    assert card.model is not None and card.base is not None
    model_dev = card.model.developer
    assert model_dev is not None and model_dev.name == "DeepSeek"
    assert model_dev.country.value == "CN" and model_dev.country.source
    assert "Hangzhou DeepSeek" in model_dev.legal_name.value
    base_dev = card.base.developer
    assert card.base.family == "llama3.3" and card.base.role == "base"
    assert base_dev is not None and base_dev.name == "Meta" and base_dev.country.value == "US"
    # the build's licence is the base's (tag-level), with the base licence's restrictions
    assert card.model.licence.name.value == "Llama 3.3 Community License"
    assert card.model.licence.family_licence == "MIT"
    assert any("700 million" in r.text for r in card.model.licence.restrictions)
    assert card.model.advisories and "CAISI" in card.model.advisories[0].title
    assert card.base.released.value == "2024-12-06"


@pytest.mark.parametrize(
    "name",
    [
        "deepseek-r1:70b",
        "qwen2.5:7b",
        "glm4:9b",
        "bge-m3",
        "llama3.2-vision:11b",
        "hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M",
        "tencent/Hunyuan-A13B-Instruct",
        "huihui_ai/qwen2.5-abliterate:7b",
        "medllama2",
    ],
)
def test_every_fact_has_a_source_and_date_or_says_unknown(name: str) -> None:
    card = model_card(name)
    assert card.model is not None
    for record in (card.model, card.base):
        if record is None:
            continue
        for fact in _facts(record):
            if fact.value == "unknown":
                assert fact.evidence == "unknown"
            else:
                assert fact.source, (name, fact)
                assert fact.checked, (name, fact)
                assert fact.evidence in {"verified", "secondary", "recorded", "unverified"}
        for adv in record.advisories:
            assert adv.source and adv.date
        if record.developer is not None:
            for item in record.developer.listings:
                assert item.source and item.checked and item.date


def test_entity_list_and_territory_facts_reach_the_card() -> None:
    glm = model_card("glm4:9b")
    assert glm.model is not None and glm.model.developer is not None
    listing = glm.model.developer.listings[0]
    assert listing.status == "listed" and listing.citation and "90 FR 4617" in listing.citation
    hunyuan = model_card("tencent/Hunyuan-A13B-Instruct")
    assert hunyuan.model is not None
    territory = [r for r in hunyuan.model.licence.restrictions if r.kind == "territory"]
    assert territory and "European Union" in territory[0].text
    vision = model_card("llama3.2-vision")
    assert vision.model is not None
    assert any(r.kind == "territory" for r in vision.model.licence.restrictions)


def test_size_specific_licence_reaches_the_card() -> None:
    big = model_card("qwen2.5:72b")
    assert big.model is not None and big.model.licence.name.value == "Qwen License Agreement"
    assert any(r.kind == "user-threshold" for r in big.model.licence.restrictions)
    small = model_card("qwen2.5:7b")
    assert small.model is not None and small.model.licence.licence_class == "permissive"


def test_unknown_and_ambiguous_names() -> None:
    unknown = model_card("some-private-model")
    assert unknown.status == "unknown" and unknown.model is None
    assert unknown.message and "no catalog family" in unknown.message
    ambiguous = model_card("mistral-llama-merge")
    assert ambiguous.status == "ambiguous" and ambiguous.model is None and ambiguous.candidates
    # family known, developer not: a card without a developer, saying so
    partial = model_card("medllama2")
    assert partial.model is not None and partial.model.developer is None
    assert partial.message and "does not know who developed" in partial.message


def test_card_summary_is_plain_json_and_renders() -> None:
    summary = card_summary("deepseek-r1:70b")
    text = json.dumps(summary)
    assert summary["developer"] == "DeepSeek"
    model = summary["model"]
    base = summary["base"]
    assert isinstance(model, dict) and isinstance(base, dict)
    assert base["developer"]["name"] == "Meta"
    assert "github:meta-llama/llama-models" in text
    card = model_card("deepseek-r1:70b")
    rendered = card_text(card)
    assert "BASE MODEL" in rendered and "Meta Platforms, Inc." in rendered
    markdown = card_markdown(card)
    assert markdown.startswith("# Due diligence: `deepseek-r1:70b`")
    assert "## Base model" in markdown and "verified" in markdown
    assert card_summary("some-private-model")["status"] == "unknown"
