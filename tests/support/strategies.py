"""Hypothesis strategies for hostile input: random and mutated HTTP exchanges and JSON.

Mutations start from real responses: every body and header in the signatures' own cases
(`signatures/*.yaml`, `cases:`), so the fuzzer spends its time near the shapes the parsers
actually branch on, then flips, cuts, splices and re-nests them.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import yaml
from hypothesis import strategies as st

from aicensus.records import Exchange

HEADER_NAMES = [
    "Server", "Content-Type", "WWW-Authenticate", "Location", "X-Powered-By", "Set-Cookie",
    "Content-Encoding", "X-Request-Id", "Via", "Access-Control-Allow-Origin",
]  # fmt: skip

# Numbers no parser expects: beyond int64 and uint64, 5,000 digits, exponents past double.
NASTY_NUMBERS = [
    "0", "-0", "1e400", "-1e400", "1" + "0" * 5000, "-" + "9" * 40, str(2**63), str(2**64 + 1),
    str(-(2**63) - 1), "1.5", "1E-400", "3.0e", "NaN", "Infinity",
]  # fmt: skip


@cache
def seed_corpus() -> tuple[tuple[bytes, ...], tuple[tuple[str, str], ...]]:
    """(bodies, headers) from every built-in signature's cases."""
    bodies: list[bytes] = []
    headers: list[tuple[str, str]] = []
    # Through the parent: importing the folder as a package would shadow aicensus.signatures().
    for entry in (resources.files("aicensus") / "signatures").iterdir():
        if not entry.name.endswith(".yaml"):
            continue
        raw = yaml.safe_load(entry.read_text(encoding="utf-8")) or {}
        for case in raw.get("cases") or []:
            for response in (case.get("responses") or {}).values():
                if not isinstance(response, dict):
                    continue
                body = response.get("body")
                if body is not None:
                    text = body if isinstance(body, str) else json.dumps(body)
                    bodies.append(text.encode("utf-8", "replace"))
                for key, value in (response.get("headers") or {}).items():
                    headers.append((str(key), str(value)))
    return tuple(bodies) or (b"{}",), tuple(headers) or (("Server", "x"),)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.text(max_size=12), inner, max_size=6),
    ),
    max_leaves=40,
)


@st.composite
def keyed_json(draw: st.DrawFn) -> object:
    """JSON that uses the keys real model listings use, so parsers get past their first check."""
    keys = [
        "models", "data", "id", "name", "model", "object", "owned_by", "details", "size",
        "digest", "parameter_size", "quantization_level", "family", "families", "context_length",
        "meta", "n_ctx_train", "n_params", "size_vram", "capabilities", "model_info", "version",
        "default_generation_settings", "model_path", "max_model_len", "created", "state",
        "title", "model_name", "filename", "loaded_models", "architecture", "model_id", "root",
    ]  # fmt: skip
    leaf = st.one_of(json_scalars, st.sampled_from(keys))
    tree = st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5),
            st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), inner, max_size=6),
        ),
        max_leaves=30,
    )
    return draw(st.dictionaries(st.sampled_from(keys), tree, min_size=1, max_size=5))


def _encode(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """Byte-level mutations: flips, cuts, splices, insertions of nasty numbers or nesting."""
    data = bytearray(base)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "number", "nest", "dup"]))
        pos = draw(st.integers(0, len(data))) if data else 0
        if kind == "flip" and data:
            data[min(pos, len(data) - 1)] = draw(st.integers(0, 255))
        elif kind == "cut":
            end = draw(st.integers(pos, len(data)))
            del data[pos:end]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(max_size=16))
        elif kind == "number":
            data[pos:pos] = draw(st.sampled_from(NASTY_NUMBERS)).encode()
        elif kind == "nest":
            depth = draw(st.integers(1, 3000))
            data[pos:pos] = b"[" * depth + b"]" * depth
        elif kind == "dup" and data:
            data.extend(data[: draw(st.integers(0, min(len(data), 2000)))])
    return bytes(data)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    corpus, _ = seed_corpus()
    source = draw(st.integers(0, 4))
    if source == 0:
        return draw(st.binary(max_size=300))
    if source == 1:
        return _encode(draw(json_values))
    if source == 2:
        return _encode(draw(keyed_json()))
    if source == 3:
        return draw(mutated(_encode(draw(keyed_json()))))
    return draw(mutated(draw(st.sampled_from(corpus))))


@st.composite
def header_maps(draw: st.DrawFn) -> dict[str, str]:
    _, corpus = seed_corpus()
    pairs = draw(
        st.lists(
            st.one_of(
                st.sampled_from(corpus),
                st.tuples(st.sampled_from(HEADER_NAMES), st.text(max_size=60)),
                st.tuples(st.text(min_size=1, max_size=10), st.text(max_size=30)),
            ),
            max_size=6,
        )
    )
    return dict(pairs)


@st.composite
def exchanges(draw: st.DrawFn, method: str = "GET", path: str = "/") -> Exchange:
    return Exchange(
        method=method,
        path=path,
        status=draw(st.one_of(st.none(), st.sampled_from([200, 200, 200, 401, 403, 404]),
                              st.integers(100, 599))),
        headers=draw(header_maps()),
        body=draw(bodies()),
        truncated=draw(st.booleans()),
        error=draw(st.one_of(st.none(), st.sampled_from(["timeout", "disconnected"]))),
    )  # fmt: skip
