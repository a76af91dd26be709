"""Attribution behaviour, case by case: routes, lineage, guardrails, unknowns."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicensus.attribute import attribute_gguf, attribute_model, attribute_name
from aicensus.records import Attribution, ModelRecord


def _who(att: Attribution) -> tuple[str | None, str | None]:
    return att.developer, att.country


def _base(att: Attribution) -> tuple[str | None, str | None] | None:
    return (att.base.developer, att.base.country) if att.base else None


def test_issue_acceptance_names() -> None:
    qwen = attribute_name("qwen2.5:7b")
    assert _who(qwen) == ("Alibaba", "CN") and qwen.status == "attributed" and qwen.base is None
    distill = attribute_name("deepseek-r1:70b")
    assert _who(distill) == ("DeepSeek", "CN") and _base(distill) == ("Meta", "US")
    reupload = attribute_name("hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M")
    assert _who(reupload) == ("Alibaba", "CN")
    abliterated = attribute_name("huihui_ai/qwen2.5-abliterate:7b")
    assert _who(abliterated) == ("Alibaba", "CN") and abliterated.guardrails_removed
    assert _who(attribute_name("mistral:7b")) == ("Mistral AI", "FR")
    unknown = attribute_name("some-private-model")
    assert unknown.status == "unknown" and _who(unknown) == (None, None) and unknown.confidence == 0


@pytest.mark.parametrize(
    ("name", "arch", "base"),
    [
        ("deepseek-r1:1.5b", None, ("Alibaba", "CN")),
        ("deepseek-r1:7b", None, ("Alibaba", "CN")),
        ("deepseek-r1:14b", None, ("Alibaba", "CN")),
        ("deepseek-r1:32b", None, ("Alibaba", "CN")),
        ("deepseek-r1:70b", None, ("Meta", "US")),
        ("deepseek-r1:671b", None, None),
        ("deepseek-r1:8b", "qwen3", ("Alibaba", "CN")),
        ("deepseek-r1:8b", "llama", ("Meta", "US")),
        ("deepseek-r1:8b-llama-distill-q4_K_M", None, ("Meta", "US")),
        ("deepseek-r1:8b-0528-qwen3-q4_K_M", None, ("Alibaba", "CN")),
        ("deepseek-r1:latest", "qwen2", ("Alibaba", "CN")),
    ],
)
def test_deepseek_r1_tag_lineage(name: str, arch: str | None, base: tuple[str, str] | None) -> None:
    att = attribute_model(ModelRecord(name=name, family=arch))
    assert _who(att) == ("DeepSeek", "CN")
    assert _base(att) == base


def test_deepseek_r1_8b_without_architecture_names_both_builds() -> None:
    att = attribute_name("deepseek-r1:8b")
    assert _base(att) == ("Alibaba", "CN")  # the current build
    assert att.confidence < 0.95
    assert any("Llama-3.1-8B" in line for line in att.evidence)


def test_digest_identifies_the_build() -> None:
    digest = "sha256:6995872bfe4c521a67b32da386cd21d5c6e819b6e0d62f79f64ec83be99f5763"
    att = attribute_model(ModelRecord(name="deepseek-r1:latest", digest=digest))
    assert att.base is not None and att.base.family == "qwen3"
    assert any("digest" in line for line in att.evidence)


def test_cloud_tags_are_flagged() -> None:
    att = attribute_name("gpt-oss:120b-cloud")
    assert _who(att) == ("OpenAI", "US")
    assert any(line.startswith("cloud:") for line in att.evidence)
    remote = attribute_model(ModelRecord(name="qwen3-coder:480b", remote=True))
    assert any(line.startswith("remote:") for line in remote.evidence)


@pytest.mark.parametrize(
    ("name", "who"),
    [
        ("bartowski/google_gemma-3-12b-it-GGUF", ("Google", "US")),
        ("TheBloke/Mistral-7B-Instruct-v0.2-GGUF", ("Mistral AI", "FR")),
        ("unsloth/Llama-3.2-3B-Instruct-GGUF", ("Meta", "US")),
        ("lmstudio-community/Qwen2.5-Coder-7B-Instruct-GGUF", ("Alibaba", "CN")),
        ("mradermacher/Qwen2.5-7B-Instruct-abliterated-v2-GGUF", ("Alibaba", "CN")),
        ("QuantFactory/Meta-Llama-3-8B-Instruct-GGUF", ("Meta", "US")),
    ],
)
def test_quantizer_reuploads_resolve_to_the_original_developer(
    name: str, who: tuple[str, str]
) -> None:
    att = attribute_name(name)
    assert _who(att) == who
    assert any("re-uploads" in line for line in att.evidence)


def test_reupload_of_a_fine_tune_keeps_the_fine_tuner() -> None:
    att = attribute_name("TheBloke/Mistral-7B-OpenOrca-GGUF")
    assert _who(att) == ("Open-Orca", "US") and _base(att) == ("Mistral AI", "FR")


def test_community_derivative_reuses_library_tag_lineage() -> None:
    att = attribute_model(ModelRecord(name="huihui_ai/deepseek-r1-abliterated:70b", family="llama"))
    assert (
        _who(att) == ("DeepSeek", "CN") and _base(att) == ("Meta", "US") and att.guardrails_removed
    )


def test_fine_tuner_org_with_base_in_name() -> None:
    att = attribute_name("NousResearch/Hermes-3-Llama-3.1-8B")
    assert _who(att) == ("Nous Research", "US") and _base(att) == ("Meta", "US")


def test_mirror_under_another_org_goes_to_the_original() -> None:
    assert _who(attribute_name("NousResearch/Meta-Llama-3.1-8B-Instruct")) == ("Meta", "US")


@pytest.mark.parametrize("arch", ["llama", "bert", "qwen2", "deepseek2"])
def test_shared_architecture_alone_is_ambiguous(arch: str) -> None:
    att = attribute_model(ModelRecord(name="my-assistant:latest", family=arch))
    assert att.status == "ambiguous"
    assert att.developer is None and att.country is None
    assert len(att.candidates) >= 2


def test_exclusive_architecture_is_a_weak_attribution() -> None:
    att = attribute_model(ModelRecord(name="my-assistant:latest", family="gemma3n"))
    assert _who(att) == ("Google", "US") and att.confidence <= 0.5


def test_unrelated_families_in_one_name_are_ambiguous() -> None:
    att = attribute_name("mistral-llama-merge")
    assert att.status == "ambiguous"
    assert set(att.candidates) == {"Mistral AI (FR)", "Meta (US)"}


def test_architecture_conflict_lowers_confidence() -> None:
    att = attribute_model(ModelRecord(name="qwen2.5:7b", family="gemma3"))
    assert _who(att) == ("Alibaba", "CN") and att.confidence <= 0.5
    assert any("not one qwen2.5" in line for line in att.evidence)


def test_unknown_developer_stays_unknown() -> None:
    att = attribute_name("medllama2:7b")
    assert att.status == "unknown" and att.developer is None and att.family == "medllama2"
    assert _base(att) == ("Meta", "US")


@pytest.mark.parametrize(
    "name",
    [
        "dolphin3:8b",
        "llama2-uncensored:7b",
        "hf.co/mlabonne/gemma-3-27b-it-abliterated-GGUF:Q4_K_M",
        "x/model-heretic",
    ],
)
def test_guardrail_removed(name: str) -> None:
    assert attribute_name(name).guardrails_removed


@pytest.mark.parametrize(
    "name", ["llama-guard3:8b", "r1-1776:671b", "hermes3:8b", "shieldgemma:9b"]
)
def test_not_guardrail_removed(name: str) -> None:
    assert not attribute_name(name).guardrails_removed


def test_weak_marker_is_evidence_only() -> None:
    att = attribute_name("TheDrummer/Cydonia-24B-v2")
    assert not att.guardrails_removed
    assert any("role-play" in line for line in att.evidence)


def test_inherited_licence_follows_the_base() -> None:
    assert attribute_name("dolphin-mistral:7b").licence == "Apache-2.0 (inherited from mistral)"


def test_results_are_copies() -> None:
    first = attribute_name("qwen2.5:7b")
    first.evidence.append("mutated")
    assert "mutated" not in attribute_name("qwen2.5:7b").evidence


def test_gguf_metadata_with_base_model() -> None:
    metadata = {
        "general.architecture": "qwen2",
        "general.name": "DeepSeek R1 Distill Qwen 7B",
        "general.basename": "DeepSeek-R1-Distill-Qwen",
        "general.size_label": "7B",
        "general.organization": "Deepseek Ai",
        "general.license": "mit",
        "general.base_model.count": 1,
        "general.base_model.0.name": "Qwen2.5 Math 7B",
        "general.base_model.0.organization": "Qwen",
        "general.base_model.0.repo_url": "https://huggingface.co/Qwen/Qwen2.5-Math-7B",
    }
    att = attribute_gguf(metadata)
    assert _who(att) == ("DeepSeek", "CN") and _base(att) == ("Alibaba", "CN")


def test_gguf_reuploader_organization_is_looked_past() -> None:
    metadata = {
        "general.architecture": "gemma3",
        "general.organization": "Unsloth",
        "general.basename": "gemma-3",
        "general.size_label": "4B",
        "general.finetune": "it",
    }
    assert _who(attribute_gguf(metadata)) == ("Google", "US")


def test_gguf_fine_tune_without_known_name_uses_declared_base() -> None:
    metadata = {
        "general.architecture": "llama",
        "general.name": "Ayla Light v2",
        "general.base_model.count": 1,
        "general.base_model.0.name": "Mistral Nemo Instruct 2407",
        "general.base_model.0.organization": "Mistralai",
        "general.base_model.0.repo_url": "https://huggingface.co/mistralai/Mistral-Nemo-Instruct-2407",
    }
    att = attribute_gguf(metadata)
    assert _who(att) == ("Mistral AI", "FR") and att.confidence <= 0.7


def test_gguf_file_name_and_architecture_only() -> None:
    assert _who(
        attribute_gguf({"general.architecture": "llama"}, "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf")
    ) == (
        "Meta",
        "US",
    )
    assert attribute_gguf({"general.architecture": "llama"}).status == "ambiguous"
    assert attribute_gguf({}).status == "unknown"


def test_gguf_declared_licence_kept_when_unknown() -> None:
    att = attribute_gguf({"general.name": "secret-model", "general.license": "apache-2.0"})
    assert att.status == "unknown" and att.licence == "apache-2.0"


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=80),
    st.sampled_from([None, "llama", "qwen2", "bert", "gemma3n", "clip", "nonsense"]),
)
def test_any_name_gives_a_consistent_answer(name: str, arch: str | None) -> None:
    att = attribute_model(ModelRecord(name=name, family=arch))
    assert att.status in {"attributed", "ambiguous", "unknown"}
    assert (att.status == "attributed") == (att.developer is not None)
    assert (att.status == "ambiguous") == bool(att.candidates)
    assert 0.0 <= att.confidence <= 1.0
    assert att.evidence


def test_custom_name_of_a_known_family_gets_the_family_origin_as_base() -> None:
    att = attribute_model(ModelRecord(name="my-assistant:latest", family="qwen3"))
    assert att.matched_by == "family" and att.family == "qwen3"
    assert att.status == "ambiguous" and att.developer is None  # fine-tunes share the family
    assert att.base is None  # a guess, not a base for policies to act on
    assert "original developer is Alibaba (CN)" in att.evidence[0]
    assert 0 < att.confidence < attribute_name("qwen3:8b").confidence
    assert any("original developer" in e for e in att.evidence)


def test_a_name_match_is_matched_by_name_and_generic_llama_has_no_origin() -> None:
    assert attribute_name("qwen3:8b").matched_by == "name"
    llama = attribute_model(ModelRecord(name="my-assistant:latest", family="llama"))
    assert llama.family is None and llama.status == "ambiguous"  # no catalog family "llama"
