"""The signature index gives what evaluating every signature one by one gives."""

from __future__ import annotations

import random

import pytest

from aicensus.fingerprint.evaluate import evaluate
from aicensus.fingerprint.index import SignatureIndex, index_for
from aicensus.fingerprint.load import builtin_signatures, parse_signature
from aicensus.fingerprint.probes import exchanges_for, probe_request
from aicensus.records import Exchange, RequestKey


def _plain(sigs, view):
    return [evaluate(sig, exchanges_for(sig, view)) for sig in sigs]


def _same(a, b) -> None:
    assert [r.signature.id for r in a] == [r.signature.id for r in b]
    for x, y in zip(a, b, strict=True):
        assert (x.signature.id, x.score, x.matched, x.fired) == (
            y.signature.id,
            y.score,
            y.matched,
            y.fired,
        )
        assert x.evidence == y.evidence


def _case_views():
    import yaml

    from aicensus.fingerprint import load

    root = load.importlib.resources.files("aicensus") / "signatures"
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        for case in yaml.safe_load(entry.read_text(encoding="utf-8")).get("cases", []):
            view: dict[RequestKey, Exchange] = {}
            for path, resp in case["responses"].items():  # served to any method: GET here
                body = resp.get("body", "")
                view[("GET", path, "")] = Exchange(
                    method="GET", path=path, status=resp.get("status"),
                    headers=dict(resp.get("headers", {})),
                    body=body.encode() if isinstance(body, str) else b"",
                )  # fmt: skip
            yield f"{entry.name}:{case['name']}", view


CASES = list(_case_views())


@pytest.mark.parametrize("name,view", CASES, ids=[c[0] for c in CASES])
def test_index_equals_plain_evaluation_on_every_case(name, view) -> None:
    sigs = builtin_signatures()
    results = index_for(sigs).evaluate_all(view)
    _same(results, _plain(sigs, view))


def test_cases_are_read() -> None:
    # The comparison above is only worth something if the cases matched products.
    sigs = builtin_signatures()
    matched = sum(any(r.matched for r in _plain(sigs, v)) for _, v in CASES)
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
        _same(index_for(sigs).evaluate_all(view), _plain(sigs, view))


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
    _same(empty, _plain([sig], {}))
    assert empty[0].matched  # threshold 0: matches on nothing, as evaluate says
    view = {
        ("GET", "/", ""): Exchange(method="GET", path="/", status=500, headers={"X-Toy": "v2"}),
        ("GET", "/info", ""): Exchange(
            method="GET", path="/info", status=203, body=b'{"a":{"b":[1]}}'
        ),
    }
    result = index.evaluate_all(view)
    _same(result, _plain([sig], view))
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
        _same(index_for(sigs).evaluate_all(view, memo), _plain(sigs, view))
    ollama = [s for s in sigs if s.id == "ollama"]
    _same(index_for(ollama).evaluate_all(view, memo), _plain(ollama, view))
    # The same key answered again, differently (the other scheme): read afresh.
    view[("GET", "/", "")] = Exchange(method="GET", path="/", status=200, body=b"<html>")
    again = index_for(sigs).evaluate_all(view, memo)
    _same(again, _plain(sigs, view))
    assert "banner" not in next(r for r in again if r.signature.id == "ollama").fired
