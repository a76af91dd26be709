"""Another scanner's fingerprint fixtures, replayed through aicensus's identification.

The cases (tests/fingerprint/peer_cases/*.yaml) restate, as facts, the responses in a peer
scanner's own tests (file header: repository and commit; each case: the test it comes from).
Every AI product case must identify the named product; every near-miss and trap must identify
nothing but a generic kind. Cases where aicensus deliberately differs from the peer say why.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aicensus import api
from aicensus.engine.config import EngineConfig
from tests.support.loopback import ScriptedServer, serve

HERE = Path(__file__).parent / "peer_cases"
# Kinds, not products: an OpenAI-style API is all a bare refusal can say.
GENERIC = frozenset({"openai-compatible"})


def _cases() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(HERE.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert doc["source"]["repository"] and len(doc["source"]["commit"]) == 40
        out += [(path.stem, case) for case in doc["cases"]]
    return out


CASES = _cases()


@pytest.fixture(scope="module")
def server():
    scripted = ScriptedServer()
    with serve(scripted) as port:
        yield scripted, port


def _identify(server, responses: dict) -> object:
    scripted, port = server
    scripted.responses = responses
    seen = []
    plan = api.plan_targets(["127.0.0.1"], ports=str(port))
    api.scan(plan, config=EngineConfig(concurrency=1), on_observation=seen.append)
    assert len(seen) == 1
    return seen[0]


def test_cases_are_well_formed() -> None:
    names = [c["name"] for _, c in CASES]
    assert len(names) == len(set(names))
    for _, case in CASES:
        assert case["from"] and case["responses"], case["name"]
        if "peer_expects" in case:  # a deliberate difference is explained
            assert len(case.get("why", "")) > 40, case["name"]
    # The item-7 set: the 25 AI products the peer's positive tests name, each with one case.
    assert len({c["ai_product"] for _, c in CASES if c.get("ai_product")}) == 25
    # The item-7 figure: AI products some case must identify (the rest say why not, above).
    named = {c["ai_product"] for _, c in CASES if c.get("ai_product") and c["expect"]}
    assert len(named) == 15, sorted(named)


@pytest.mark.parametrize(("peer", "case"), CASES, ids=[f"{p}:{c['name']}" for p, c in CASES])
def test_peer_case(server, peer: str, case: dict) -> None:
    seen = _identify(server, case["responses"])
    if case["expect"] is None:
        assert seen.product is None or seen.product in GENERIC, (seen.product, seen.evidence)
    else:
        assert seen.product == case["expect"], seen.evidence
    if "auth" in case:
        assert str(seen.auth) == case["auth"], seen.auth_evidence
