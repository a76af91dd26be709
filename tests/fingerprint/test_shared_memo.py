"""Matcher verdicts shared across targets with equal answers (fingerprint/index.py
`_shared_verdicts`) give exactly the verdicts, and the scan results, of evaluating afresh."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from aicensus.engine.config import EngineConfig
from aicensus.fingerprint import index
from aicensus.fingerprint.index import SignatureIndex, index_for
from aicensus.fingerprint.load import builtin_signatures, parse_signature
from aicensus.lab.emulators.common import EmulatorConfigError
from aicensus.lab.emulators.generic import available_products, parse_site
from aicensus.pipeline import run_scan
from aicensus.records import Exchange, RequestKey, ServiceObservation, Target
from tests.support.lab import spawn_emulator, spawn_generic
from tests.support.signature_cases import CASES, plain, same

OLLAMA_NET = "127.24.0.0/26"  # the Ollama emulator's varied profiles (versions, auth, models)


@pytest.fixture
def fresh_memo() -> Iterator[None]:
    index._ANSWERS.clear()
    yield
    index._ANSWERS.clear()


def test_every_case_twice_with_the_memo_warm(fresh_memo: None) -> None:
    """Each signature case evaluated once to fill the memo, then again in another order (now
    from the memo), equals plain evaluation; and the memo was used."""
    sigs = builtin_signatures()
    for _, view in CASES:
        same(index_for(sigs).evaluate_all(view), plain(sigs, view))
    filled = len(index._ANSWERS)
    assert filled > 100
    order = list(CASES)
    random.Random(5).shuffle(order)
    for _, view in order:
        copy = {k: msgspec.structs.replace(ex) for k, ex in view.items()}  # equal, not same
        same(index_for(sigs).evaluate_all(copy, {}), plain(sigs, copy))
    assert len(index._ANSWERS) == filled  # every answer was found again


def test_answers_differing_in_a_read_header_are_not_conflated(fresh_memo: None) -> None:
    """Same request, status and body, different value of a header a matcher reads: each
    gets its own verdicts (and the header's name case does not matter)."""
    text = """
id: toy
name: Toy
description: test
ports: [1]
references: []
probes:
  root: {path: /}
matchers:
  - {name: srv, probe: root, weight: 0.6, why: w, header: {Server: toy}}
  - {name: body, probe: root, weight: 0.5, why: w, body_contains: [hello]}
threshold: 0.6
"""
    sig = parse_signature(text, "toy.yaml")
    idx = SignatureIndex([sig])
    key: RequestKey = ("GET", "/", "")
    body = b"hello"
    for headers, fired in (
        ({"Server": "toy/1"}, {"srv", "body"}),
        ({"Server": "nginx"}, {"body"}),
        ({"server": "TOY"}, {"srv", "body"}),
        ({}, {"body"}),
        ({"Server": "nginx"}, {"body"}),
    ):
        view = {key: Exchange(method="GET", path="/", status=200, headers=headers, body=body)}
        result = idx.evaluate_all(view, {})
        same(result, plain([sig], view))
        assert result[0].fired == fired


def test_a_signature_reading_a_new_header_is_not_answered_from_older_records(
    fresh_memo: None,
) -> None:
    """A target's memo obtained before a signature reading a new header name was loaded is
    not trusted for it: that answer is read afresh."""

    def toy(sig_id: str, matcher: str) -> object:
        return parse_signature(
            f"""
id: {sig_id}
name: Toy
description: test
ports: [1]
references: []
probes:
  root: {{path: /}}
matchers:
  - {matcher}
threshold: 0.5
""",
            f"{sig_id}.yaml",
        )

    first = toy("a", "{name: body, probe: root, weight: 0.6, why: w, body_contains: [hi]}")
    key: RequestKey = ("GET", "/", "")
    one = {key: Exchange(method="GET", path="/", status=200, headers={"X-V": "1"}, body=b"hi")}
    two = {key: Exchange(method="GET", path="/", status=200, headers={"X-V": "2"}, body=b"hi")}
    memo_one: dict = {}
    memo_two: dict = {}
    SignatureIndex([first]).evaluate_all(one, memo_one)
    SignatureIndex([first]).evaluate_all(two, memo_two)
    assert memo_one[key][1] is memo_two[key][1]  # one record shared by equal answers
    second = toy("b", "{name: v, probe: root, weight: 0.6, why: w, header: {X-V: '1'}}")
    both = SignatureIndex([first, second])
    assert both.evaluate_all(one, memo_one)[1].matched
    assert not both.evaluate_all(two, memo_two)[1].matched
    same(both.evaluate_all(two, memo_two), plain([first, second], two))


# ------------------------------------------------------------- whole scans, memo on and off

_CANARY = re.compile(r"aicensus-canary-[0-9a-f]+")


def _comparable(obs: ServiceObservation) -> str:
    """The observation without what differs between two scans of the same services (the
    time, request durations, the canary's random path, the order in which two concurrent
    requests of a target finished)."""
    doc = msgspec.to_builtins(obs)
    doc["observed_at"] = ""
    for entry in doc["request_log"]:
        entry["ms"] = 0
    doc["request_log"].sort(key=lambda e: msgspec.json.encode(e))
    return _CANARY.sub("aicensus-canary-X", msgspec.json.encode(doc).decode())


def _generic_sites() -> list[tuple[str, str]]:
    sites = []
    for product in available_products():
        for variant in ("open", "key"):
            try:
                parse_site(product, variant, "127.0.0.1", "1")
            except EmulatorConfigError:
                continue
            sites.append((product, variant))
    return sites


def _scan(targets: list[Target]) -> dict[tuple[str, int], str]:
    found: dict[tuple[str, int], str] = {}

    def keep(obs: ServiceObservation) -> None:
        found[(obs.ip, obs.port)] = _comparable(obs)

    config = EngineConfig(concurrency=32)
    asyncio.run(run_scan(iter(targets), builtin_signatures(), config, keep))
    return found


def test_scans_are_the_same_with_and_without_the_shared_memo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_memo: None
) -> None:
    """The Ollama emulator's population and every product the generic emulator serves
    (decoys and the honeypot included), scanned with verdicts shared across targets, then
    with every answer read afresh, then shared again (the memo now warm): equal results."""
    sites = _generic_sites()
    assert len(sites) > 30
    with (
        spawn_emulator(tmp_path, "--cidr", OLLAMA_NET, addresses=(), timeout=60) as ollama,
        spawn_generic(tmp_path, sites) as generic,
    ):
        targets = [Target(ip=f"127.24.0.{i}", port=ollama.port) for i in range(64)] + [
            Target(ip=address, port=port) for address, port in generic.sites.values()
        ]
        shared = _scan(targets)
        assert len(index._ANSWERS) > 0
        with monkeypatch.context() as m:
            m.setattr(index, "_shared_verdicts", lambda key, answer, names: index._Verdicts())
            afresh = _scan(targets)
        warm = _scan(targets)
    assert len(shared) == len(targets)
    identified = [v for v in shared.values() if '"status":"identified"' in v]
    assert len(identified) > 64  # the comparison is worth something: products were found
    assert afresh == shared
    assert warm == shared


def test_the_memo_is_bounded(fresh_memo: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past its limit the oldest answers are dropped; results stay those of plain evaluation."""
    monkeypatch.setattr(index, "_ANSWERS_LIMIT", 5)
    sigs = builtin_signatures()
    for i in range(20):
        body = b"Ollama is running" if i % 2 else f"page {i}".encode()
        view = {("GET", "/", ""): Exchange(method="GET", path="/", status=200, body=body)}
        same(index_for(sigs).evaluate_all(view, {}), plain(sigs, view))
        assert len(index._ANSWERS) <= 5
