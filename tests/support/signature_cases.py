"""The built-in signatures' own cases as answer views, and plain evaluation to compare with
(tests/fingerprint/test_index.py, test_shared_memo.py)."""

from __future__ import annotations

from aicensus.fingerprint.evaluate import evaluate
from aicensus.fingerprint.probes import exchanges_for
from aicensus.records import Exchange, RequestKey


def plain(sigs, view):
    return [evaluate(sig, exchanges_for(sig, view)) for sig in sigs]


def same(a, b) -> None:
    assert [r.signature.id for r in a] == [r.signature.id for r in b]
    for x, y in zip(a, b, strict=True):
        assert (x.signature.id, x.score, x.matched, x.fired) == (
            y.signature.id,
            y.score,
            y.matched,
            y.fired,
        )
        assert x.evidence == y.evidence


def case_views():
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


CASES = list(case_views())
