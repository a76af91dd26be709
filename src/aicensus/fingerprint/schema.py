"""The signature file format. One YAML file per product under aicensus/signatures/.

Strict by construction: unknown keys are load errors, and operators form a closed set with
no expressions, so a broken or hostile file can only fail validation.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from aicensus.records import PRODUCT_SLUGS


class Probe(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    path: str
    method: str = "GET"
    json: dict[str, object] | None = None
    # "identify": may be sent to any service while looking for the product;
    # "identified": only once this product has matched (route checks, details).
    when: Literal["identify", "identified"] = "identify"


class Conditions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """All given operators must hold. Header names are case-insensitive."""

    status: list[int] | None = None
    header: dict[str, str] | None = None  # header contains substring
    header_regex: dict[str, str] | None = None
    header_absent: list[str] | None = None
    body_contains: list[str] | None = None  # every string present
    body_any: list[str] | None = None  # at least one present
    body_regex: str | None = None
    body_prefix: str | None = None
    json_keys: list[str] | None = None  # dotted paths; "a[].b" looks in every list item
    json_equals: dict[str, object] | None = None  # path → value (any list item may match)


class Matcher(Conditions, forbid_unknown_fields=True, frozen=True, kw_only=True):
    name: str
    probe: str
    weight: float
    why: str  # which look-alike this rules out, or what it proves
    # The matcher fails if any of these blocks holds (each block: all its operators hold).
    not_: list[Conditions] = msgspec.field(default_factory=list, name="not")


class Extractor(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    probe: str
    json: str | None = None  # dotted path
    header: str | None = None
    regex: str | None = None  # first group, over the header value or the body


class ModelsSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    dialect: str
    probes: list[str]


class AuthSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How to tell open from protected. `gate` probes expose models or inference."""

    gate: list[str]
    protected: Conditions
    open: Conditions
    bypass: list[str] = []  # probes that stay reachable when the gate is protected → partial
    none_builtin: bool = False  # product has no auth of its own; protection means a proxy


class Signature(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    id: str
    name: str
    description: str
    ports: list[int]
    references: list[str]
    probes: dict[str, Probe]
    matchers: list[Matcher]
    require: list[str] = []  # matcher names that must all fire
    threshold: float = 0.5  # minimum summed weight of fired matchers
    generic: bool = False  # only chosen when no specific product matches
    beats: list[str] = []  # products this one wins over when both match (look-alikes)
    version: list[Extractor] = []
    models: ModelsSpec | None = None
    auth: AuthSpec | None = None


def validate_references(sig: Signature) -> list[str]:
    """Cross-field checks msgspec cannot express; returns problems as 'field: message'."""
    problems: list[str] = []
    if sig.id not in PRODUCT_SLUGS:
        problems.append(f"id: {sig.id!r} is not a known product slug")
    names = {m.name for m in sig.matchers}
    for i, m in enumerate(sig.matchers):
        if m.probe not in sig.probes:
            problems.append(f"matchers[{i}].probe: unknown probe {m.probe!r}")
        if not 0 < m.weight <= 1:
            problems.append(f"matchers[{i}].weight: must be in (0, 1]")
    for r in sig.require:
        if r not in names:
            problems.append(f"require: unknown matcher {r!r}")
    for i, ex in enumerate(sig.version):
        if ex.probe not in sig.probes:
            problems.append(f"version[{i}].probe: unknown probe {ex.probe!r}")
        if (ex.json is None) == (ex.header is None and ex.regex is None):
            problems.append(f"version[{i}]: give either json, or header/regex")
    refs: list[tuple[str, list[str]]] = []
    if sig.models:
        refs.append(("models.probes", sig.models.probes))
    if sig.auth:
        refs += [("auth.gate", sig.auth.gate), ("auth.bypass", sig.auth.bypass)]
    for field, ids in refs:
        problems += [f"{field}: unknown probe {p!r}" for p in ids if p not in sig.probes]
    for pid, probe in sig.probes.items():
        if probe.method not in ("GET", "HEAD", "POST"):
            problems.append(f"probes.{pid}.method: {probe.method!r} is not GET, HEAD or POST")
        if probe.method == "POST" and probe.when != "identified":
            # A POST is read-only on its own product only (engine/readonly.py POST_OWNERS).
            problems.append(f"probes.{pid}.when: a POST goes only to an identified product")
    return problems
