"""Offline fingerprinting of recorded responses, on real /api/tags bodies from the wild."""

from __future__ import annotations

import json
from pathlib import Path

from aicensus import api
from aicensus.store import Store

CORPUS = Path(__file__).parents[1] / "data" / "ollama-api-tags-wild.jsonl"


def _expected() -> dict[tuple[str, int], list[str]]:
    expected: dict[tuple[str, int], list[str]] = {}
    for line in CORPUS.read_text().splitlines():
        rec = json.loads(line)
        try:
            body = json.loads(rec["body"])
        except ValueError:
            continue
        models = body.get("models") if isinstance(body, dict) else None
        if isinstance(models, list):
            names = [m["name"] for m in models if isinstance(m, dict) and m.get("name")]
            expected[(rec["ip"], rec["port"])] = names
    return expected


def test_every_models_list_yields_its_models(tmp_path: Path) -> None:
    seen = []
    summary = api.ingest_responses(CORPUS, db=tmp_path / "a.duckdb", on_observation=seen.append)
    expected = _expected()
    assert len(expected) >= 50
    by_key = {(o.ip, o.port): o for o in seen}
    for key, names in expected.items():
        obs = by_key[key]
        assert obs.product == "ollama", (key, obs.evidence)
        assert sorted(m.name for m in obs.models) == sorted(set(names)), key
    assert summary.bad_records == []


def test_html_pages_do_not_yield_ollama() -> None:
    seen = []
    api.ingest_responses(CORPUS, on_observation=seen.append)
    html = [o for o in seen if (o.ip, o.port) not in _expected()]
    assert html, "the corpus holds at least one HTML page"
    assert all(o.product is None and not o.models for o in html)


def test_models_are_stored(tmp_path: Path) -> None:
    db = tmp_path / "b.duckdb"
    api.ingest_responses(CORPUS, db=db)
    with Store.open(db, read_only=True) as store:
        stored = list(store.observations())
    assert sum(len(o.models) for o in stored) == sum(len(set(v)) for v in _expected().values())
    qwen = [m for o in stored for m in o.models if m.family == "qwen2"]
    assert qwen and all(m.quantization for m in qwen)


def test_bad_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    good = CORPUS.read_text().splitlines()[1]
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        "\n".join(
            [
                "{not json",
                good,
                '{"ip": "nope", "port": 1, "path": "/"}',
                '{"ip": "192.0.2.9", "port": 70000, "path": "/"}',
                good,
            ]
        )
        + "\n"
    )
    seen = []
    summary = api.ingest_responses(path, on_observation=seen.append)
    assert [b.line for b in summary.bad_records] == [1, 3, 4]
    assert len(seen) == 1 and seen[0].product == "ollama"
