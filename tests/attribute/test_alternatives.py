"""Alternatives: comparable open models, ranked, never from an excluded country, never off-modality."""

from __future__ import annotations

import itertools

import pytest

from aicensus.attribute import attribute_name, default_catalog, find_alternatives, top_alternatives
from aicensus.attribute.alternatives import parse_max_params
from aicensus.attribute.profiles import parse_params, profile_for, size_token
from aicensus.attribute.schema import OllamaRule


def _library_names() -> list[str]:
    catalog = default_catalog()
    names = {
        (r.name if isinstance(r, OllamaRule) else r)
        for f in catalog.families.values()
        for r in f.ollama
    }
    return sorted(names)


def test_qwen25_7b_without_china() -> None:
    result = find_alternatives("qwen2.5:7b", exclude_countries=["CN"], limit=8)
    assert result is not None
    assert (result.family, result.size, result.purpose) == ("qwen2.5", "7b", "general")
    assert result.capabilities == ["tools"] and result.excluded_by_country > 0
    alts = result.alternatives
    assert len(alts) == 8
    for alt in alts:
        assert alt.country != "CN"
        assert alt.params_b is not None and 6.5 <= alt.params_b <= 9.5, alt
        assert "tools" in alt.capabilities and alt.purpose == "general"
        assert alt.reason and alt.sources
    names = {a.name for a in alts}
    assert names & {"llama3.1:8b", "granite4.1:8b", "granite3.3:8b", "ministral-3:8b", "mistral:7b"}
    closeness = [a.closeness for a in alts]
    assert closeness == sorted(closeness, reverse=True)


def test_embedding_and_code_queries_stay_in_their_modality() -> None:
    bge = find_alternatives("bge-m3", exclude_countries=["CN"])
    assert bge is not None and bge.alternatives
    assert all(a.purpose == "embedding" and "embedding" in a.capabilities for a in bge.alternatives)
    assert bge.alternatives[0].name == "snowflake-arctic-embed2:568m"
    coder = find_alternatives("qwen2.5-coder:32b", exclude_countries=["CN"])
    assert coder is not None and coder.alternatives
    assert all(a.purpose == "code" and "code" in a.capabilities for a in coder.alternatives)
    assert all(a.country != "CN" for a in coder.alternatives)


def test_base_model_country_excludes_fine_tunes() -> None:
    # cogito:14b is a Qwen2.5 fine-tune (CN weights), cogito:8b a Llama 3.1 one (US)
    assert attribute_name("cogito:14b").base.country == "CN"  # type: ignore[union-attr]
    result = find_alternatives("qwen2.5:14b", exclude_countries=["CN"], limit=50)
    assert result is not None
    names = {a.name for a in result.alternatives}
    assert not any(
        n.startswith(("cogito:14b", "openthinker", "sailor2", "deepseek-r1")) for n in names
    )
    llama = find_alternatives("llama3.1:8b", exclude_countries=["US"], limit=50)
    assert llama is not None
    assert all(a.base is None or "(US)" not in a.base for a in llama.alternatives)
    assert all(
        not a.name.startswith(("hermes3", "cogito:8b", "dolphin")) for a in llama.alternatives
    )


def test_filters_licence_class_and_max_params() -> None:
    result = find_alternatives("llama3.3:70b", licence_class="permissive", max_params=40, limit=20)
    assert result is not None and result.alternatives
    assert all(a.licence_class == "permissive" for a in result.alternatives)
    assert all(a.params_b is not None and a.params_b <= 40 for a in result.alternatives)
    assert parse_max_params("8b") == 8 and parse_max_params("500m") == 0.5
    assert parse_max_params(None) is None


def test_never_proposes_closed_cloud_uncensored_or_the_same_family() -> None:
    catalog = default_catalog()
    for name in ("qwen2.5:7b", "llama3.1:70b", "deepseek-r1:671b", "mistral:7b"):
        result = find_alternatives(name, limit=100)
        assert result is not None
        for alt in result.alternatives:
            family = catalog.families[alt.family]
            assert family.open_weights is True and not family.guardrails_removed
            assert alt.family != result.family
            assert not alt.name.endswith("cloud")


def test_unknown_name_and_top_alternatives() -> None:
    assert find_alternatives("some-private-model") is None
    assert top_alternatives("some-private-model", ["CN"]) == []
    top = top_alternatives("qwen2.5:7b", ["CN"], n=3)
    assert len(top) == 3 and all(a.country != "CN" for a in top)


def test_profiles_read_sizes_from_every_name_form() -> None:
    assert size_token("8b-instruct-q4_K_M") == "8b" and size_token("30b-a3b") == "30b"
    assert size_token("Qwen2.5-7B-Instruct") == "7b" and size_token("latest") is None
    assert parse_params("567m") == pytest.approx(0.567) and parse_params("8x7b") == 56
    for name, size in [
        ("qwen2.5", "7b"),
        ("qwen2.5:latest", "7b"),
        ("Qwen/Qwen2.5-14B-Instruct", "14b"),
        ("hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M", "7b"),
        ("huihui_ai/qwen2.5-abliterate:32b", "32b"),
        ("mixtral:8x7b", "8x7b"),
    ]:
        profile = profile_for(name)
        assert profile is not None and profile.size == size, name
    mixtral = profile_for("mixtral:8x7b")
    assert mixtral is not None and mixtral.params == 46.7


EXCLUSIONS = [(), ("CN",), ("US",), ("CN", "RU"), ("FR", "US"), ("CN", "US", "FR")]


@pytest.mark.parametrize("exclude", EXCLUSIONS, ids=lambda e: "-".join(e) or "none")
def test_property_no_excluded_country_no_unrelated_modality(exclude: tuple[str, ...]) -> None:
    """Across every Ollama library name: results respect exclusion (developer and base weights),
    keep the query's purpose, keep vision for general vision models and embeddings for embeddings."""
    checked = 0
    for name in itertools.chain(_library_names(), ["Qwen/Qwen2.5-7B-Instruct", "deepseek-r1:70b"]):
        profile = profile_for(name)
        result = find_alternatives(name, exclude_countries=exclude, limit=6)
        if profile is None:
            assert result is None
            continue
        assert result is not None
        for alt in result.alternatives:
            checked += 1
            att = attribute_name(alt.name) if ":" in alt.name else None
            assert alt.country not in exclude, (name, alt.name)
            assert not exclude or alt.country is not None, (name, alt.name)
            if att is not None:
                assert att.country == alt.country
                assert att.base is None or att.base.country not in exclude, (name, alt.name)
                assert not (exclude and att.base is not None and att.base.country is None)
            assert alt.purpose == profile.purpose, (name, alt.name)
            if profile.purpose == "embedding":
                assert "embedding" in alt.capabilities
            else:
                assert "embedding" not in alt.capabilities, (name, alt.name)
            if profile.purpose == "general" and "vision" in profile.capabilities:
                assert "vision" in alt.capabilities, (name, alt.name)
            if profile.purpose == "code":
                assert "code" in alt.capabilities
    assert checked > 500
