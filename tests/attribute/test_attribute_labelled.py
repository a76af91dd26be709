"""Accuracy on the labelled name set (labels written from source facts, see labelled_names.yaml).

Targets from the issue: >= 98% correct on names the catalog covers, and no confident-but-wrong answer.
"""

from __future__ import annotations

from collections import Counter

from aicensus.attribute import attribute_model
from aicensus.records import Attribution, ModelRecord


def _attribute(label: dict) -> Attribution:
    return attribute_model(ModelRecord(name=label["name"], family=label.get("arch")))


def _right(label: dict, att: Attribution) -> bool:
    expected = (label.get("developer"), label.get("country"))
    return att.status == "attributed" and (att.developer, att.country) == expected


def test_labelled_set_is_large_and_real(labels: list[dict]) -> None:
    assert len(labels) >= 200
    sources = Counter(label["source"] for label in labels)
    assert sources["corpus"] >= 50 and sources["ollama"] >= 50 and sources["hf"] >= 50
    for label in labels:
        assert label.get("covered", True) is False or label.get("developer"), label["name"]


def test_accuracy_on_covered_names(labels: list[dict]) -> None:
    covered = [label for label in labels if label.get("covered", True)]
    misses = [label["name"] for label in covered if not _right(label, _attribute(label))]
    accuracy = 1 - len(misses) / len(covered)
    assert accuracy >= 0.98, misses


def test_no_confident_but_wrong_answer(labels: list[dict]) -> None:
    wrong = []
    for label in labels:
        att = _attribute(label)
        if att.status == "attributed" and not _right(label, att):
            wrong.append(f"{label['name']}: {att.developer}/{att.country}")
    assert wrong == []


def test_uncovered_names_are_unknown_or_ambiguous(labels: list[dict]) -> None:
    for label in labels:
        if not label.get("covered", True):
            att = _attribute(label)
            assert att.status in {"unknown", "ambiguous"}, label["name"]
            assert att.developer is None and att.country is None


def test_base_model_and_guardrails_mostly_right(labels: list[dict]) -> None:
    results = [(label, _attribute(label)) for label in labels]
    covered = [(label, att) for label, att in results if label.get("covered", True)]
    base_ok = sum(
        (att.base.developer if att.base else None) == label.get("base") for label, att in covered
    )
    guard_ok = sum(
        att.guardrails_removed == label.get("guardrails", False) for label, att in results
    )
    assert base_ok / len(covered) >= 0.95
    assert guard_ok / len(results) >= 0.98
