"""Attribution accuracy and speed on the labelled name set.

    .venv/bin/python benchmarks/attribution_accuracy.py [--labels PATH] [--show-misses]

Accuracy is measured on names whose family the catalog covers: correct means status 'attributed'
with the expected developer and country. Confident-but-wrong counts every 'attributed' answer
whose developer or country differs from the label, over all names (a covered=false name must not
be attributed at all). Throughput is measured for attribute_name() with and without its cache.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aicensus.attribute import attribute_model, attribute_name, cache_clear, default_catalog
from aicensus.records import Attribution, ModelRecord

Label = dict[str, Any]
LABELS = Path(__file__).resolve().parent.parent / "tests" / "attribute" / "labelled_names.yaml"


@dataclass
class Score:
    covered: int = 0
    correct: int = 0
    confident_wrong: int = 0
    uncovered: int = 0
    uncovered_held_back: int = 0
    base_checked: int = 0
    base_correct: int = 0
    guard_correct: int = 0
    total: int = 0
    misses: list[str] = field(default_factory=list)

    def pct(self, part: int, whole: int) -> float:
        return 100.0 * part / whole if whole else 100.0


def attribute(label: Label) -> Attribution:
    return attribute_model(ModelRecord(name=label["name"], family=label.get("arch")))


def base_of(att: Attribution) -> str | None:
    return att.base.developer if att.base else None


def score_one(score: Score, label: Label, att: Attribution) -> None:
    score.total += 1
    expected = (label.get("developer"), label.get("country"))
    attributed = att.status == "attributed"
    right = attributed and (att.developer, att.country) == expected
    if label.get("covered", True):
        score.covered += 1
        score.correct += right
        score.base_checked += 1
        score.base_correct += base_of(att) == label.get("base")
    else:
        score.uncovered += 1
        score.uncovered_held_back += not attributed
    if attributed and not right:
        score.confident_wrong += 1
    score.guard_correct += att.guardrails_removed == label.get("guardrails", False)
    if (not right and label.get("covered", True)) or (attributed and not right):
        got = f"{att.status} {att.developer}/{att.country}"
        score.misses.append(
            f"{label['name']} [{label.get('arch')}]: expected {expected}, got {got}"
        )


def accuracy(labels: list[Label]) -> Score:
    score = Score()
    for label in labels:
        score_one(score, label, attribute(label))
    return score


def throughput(names: list[str], rounds: int = 20) -> tuple[float, float]:
    variants = [_variant(name, i) for i in range(rounds) for name in names]
    cache_clear()
    start = time.perf_counter()
    for name in variants:
        attribute_name(name)
    uncached = len(variants) / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(rounds):
        for name in names:
            attribute_name(name)
    cached = rounds * len(names) / (time.perf_counter() - start)
    return uncached, cached


def _variant(name: str, i: int) -> str:
    """Distinct spellings of the same name, so every call misses the cache."""
    if i == 0:
        return name
    head, sep, tag = name.rpartition(":")
    return f"{head}:{tag}-v{i}" if sep and "/" not in tag else f"{name}-v{i}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args(argv)
    labels = yaml.safe_load(args.labels.read_text())["names"]
    start = time.perf_counter()
    catalog = default_catalog()
    load_ms = (time.perf_counter() - start) * 1000
    score = accuracy(labels)
    uncached, cached = throughput([label["name"] for label in labels])
    print(
        f"catalog {catalog.meta.catalog_version}: {len(catalog.families)} families, "
        f"{len(catalog.developers)} developers (loaded in {load_ms:.0f} ms)"
    )
    print(
        f"labelled names: {score.total} ({score.covered} covered by the catalog, {score.uncovered} not)"
    )
    print(
        f"accuracy on covered names: {score.correct}/{score.covered} = {score.pct(score.correct, score.covered):.1f}%"
    )
    print(
        f"confident-but-wrong: {score.confident_wrong}/{score.total} = "
        f"{score.pct(score.confident_wrong, score.total):.1f}%"
    )
    print(
        f"uncovered names held back (unknown/ambiguous): {score.uncovered_held_back}/{score.uncovered}"
    )
    print(
        f"base-model developer correct: {score.base_correct}/{score.base_checked} = "
        f"{score.pct(score.base_correct, score.base_checked):.1f}%"
    )
    print(
        f"guardrails flag correct: {score.guard_correct}/{score.total} = {score.pct(score.guard_correct, score.total):.1f}%"
    )
    print(
        f"attribute_name throughput: {uncached:,.0f} names/s uncached, {cached:,.0f} names/s cached"
    )
    if args.show_misses:
        for miss in score.misses:
            print("  miss:", miss)
    ok = score.pct(score.correct, score.covered) >= 98.0 and score.confident_wrong == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
