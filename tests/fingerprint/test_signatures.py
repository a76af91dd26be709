"""Every shipped signature's own cases, replayed through the real engine on loopback."""

from __future__ import annotations

import importlib.resources

import pytest
import yaml

from aicensus import api
from aicensus.engine.config import EngineConfig
from aicensus.fingerprint.load import builtin_signatures
from tests.support.loopback import ScriptedServer, serve


def _signature_files() -> dict[str, dict]:
    root = importlib.resources.files("aicensus") / "signatures"
    return {
        e.name: yaml.safe_load(e.read_text(encoding="utf-8"))
        for e in root.iterdir()
        if e.name.endswith(".yaml")
    }


CASES = [
    (name, case)
    for name, doc in sorted(_signature_files().items())
    for case in doc.get("cases", [])
]


@pytest.fixture(scope="module")
def server():
    scripted = ScriptedServer()
    with serve(scripted) as port:
        yield scripted, port


def test_every_signature_has_positive_and_near_miss_cases() -> None:
    for name, doc in _signature_files().items():
        cases = doc.get("cases", [])
        assert any(c["expect"] == doc["id"] for c in cases), f"{name}: no positive case"
        assert any(c["expect"] != doc["id"] for c in cases), f"{name}: no near-miss case"


def test_a_product_the_lab_runs_has_cases_captured_from_its_real_server() -> None:
    """Truth from outside: where the lab runs the real product, its open and its
    authenticated mode each have a positive case captured from it (named `real-...`,
    scripts/capture_case.py), not only cases written from documents."""
    for name, doc in _signature_files().items():
        launches = (doc.get("lab") or {}).get("real") or []
        real = [c for c in doc.get("cases", []) if c["expect"] == doc["id"] and "real" in c["name"]]
        auths = {c.get("auth") for c in real}
        variants = {launch.get("variant", "open") for launch in launches}
        if "open" in variants:
            assert "open" in auths, f"{name}: no case captured from the real open server"
        if "key" in variants:
            assert auths & {"auth_required", "partial"}, f"{name}: no real authenticated case"


def test_every_matcher_says_why() -> None:
    for sig in builtin_signatures():
        for m in sig.matchers:
            assert len(m.why) > 10, f"{sig.id}.{m.name}: explain what the matcher rules out"


@pytest.mark.parametrize(("name", "case"), CASES, ids=[f"{n}:{c['name']}" for n, c in CASES])
def test_case(server, name: str, case: dict) -> None:
    scripted, port = server
    scripted.responses = case["responses"]
    plan = api.plan_targets(["127.0.0.1"], ports=str(port))
    seen = []
    api.scan(plan, config=EngineConfig(concurrency=1), on_observation=seen.append)
    assert len(seen) == 1
    assert seen[0].product == case["expect"], seen[0].evidence
    if "auth" in case:
        assert str(seen[0].auth) == case["auth"], seen[0].auth_evidence
    if "version" in case:  # cases captured from a real server name the version it reported
        assert seen[0].version == case["version"], seen[0].evidence
