"""The signature index gives what evaluating every signature one by one gives."""

from __future__ import annotations

import random

import pytest

from aicensus.fingerprint.index import SignatureIndex, index_for
from aicensus.fingerprint.load import builtin_signatures, parse_signature
from aicensus.fingerprint.probes import probe_request
from aicensus.records import Exchange, RequestKey
from tests.support.signature_cases import CASES, plain, same


@pytest.mark.parametrize("name,view", CASES, ids=[c[0] for c in CASES])
def test_index_equals_plain_evaluation_on_every_case(name, view) -> None:
    sigs = builtin_signatures()
    results = index_for(sigs).evaluate_all(view)
    same(results, plain(sigs, view))


def test_cases_are_read() -> None:
    # The comparison above is only worth something if the cases matched products.
    sigs = builtin_signatures()
    matched = sum(any(r.matched for r in plain(sigs, v)) for _, v in CASES)
    assert len(CASES) > 300 and matched > 200


def test_index_equals_plain_evaluation_on_mixed_answers() -> None:
    """Answers of one case served under other products' probes, with other statuses:
    many matchers hold partly, not blocks fire, headers differ in case."""
    sigs = builtin_signatures()
    rng = random.Random(18)
    keys = sorted({probe_request(s, pid).key() for s in sigs for pid in s.probes})
    answers = [ex for _, v in CASES for ex in v.values()]
    for _ in range(300):
        view: dict[RequestKey, Exchange] = {}
        for key in rng.sample(keys, 12):
            src = rng.choice(answers)
            headers = {k.upper() if rng.random() < 0.3 else k: v for k, v in src.headers.items()}
            view[key] = Exchange(
                method=key[0], path=key[1], status=rng.choice([src.status, 200, 401, 404, None]),
                headers=headers, body=src.body,
            )  # fmt: skip
        same(index_for(sigs).evaluate_all(view), plain(sigs, view))


def test_any_signature_file_works() -> None:
    """A signature written anywhere (not only the built-in ones): status-free matchers,
    header regexes, a zero threshold."""
    text = """
id: toy
name: Toy
description: test
ports: [1]
references: []
probes:
  root: {path: /}
  info: {path: /info}
matchers:
  - {name: any, probe: root, weight: 0.3, why: w, header_regex: {x-toy: '^v\\d'}}
  - {name: info, probe: info, status: [200, 203], weight: 0.3, why: w, json_keys: ['a.b[]']}
threshold: 0.0
"""
    sig = parse_signature(text, "toy.yaml")
    index = SignatureIndex([sig])
    empty = index.evaluate_all({})
    same(empty, plain([sig], {}))
    assert empty[0].matched  # threshold 0: matches on nothing, as evaluate says
    view = {
        ("GET", "/", ""): Exchange(method="GET", path="/", status=500, headers={"X-Toy": "v2"}),
        ("GET", "/info", ""): Exchange(
            method="GET", path="/info", status=203, body=b'{"a":{"b":[1]}}'
        ),
    }
    result = index.evaluate_all(view)
    same(result, plain([sig], view))
    assert result[0].fired == {"any", "info"} and result[0].score == 0.6


def test_a_memo_gives_the_same_results_as_it_fills() -> None:
    """One target's memo across calls (answers arriving, an answer replaced under the same
    key, another index over a subset) changes no result."""
    sigs = builtin_signatures()
    _, full = next((n, v) for n, v in CASES if n == "ollama.yaml:open-ollama")
    memo: dict = {}
    view: dict[RequestKey, Exchange] = {}
    for key, ex in full.items():  # the answers come in one by one
        view[key] = ex
        same(index_for(sigs).evaluate_all(view, memo), plain(sigs, view))
    ollama = [s for s in sigs if s.id == "ollama"]
    same(index_for(ollama).evaluate_all(view, memo), plain(ollama, view))
    # The same key answered again, differently (the other scheme): read afresh.
    view[("GET", "/", "")] = Exchange(method="GET", path="/", status=200, body=b"<html>")
    again = index_for(sigs).evaluate_all(view, memo)
    same(again, plain(sigs, view))
    assert "banner" not in next(r for r in again if r.signature.id == "ollama").fired
