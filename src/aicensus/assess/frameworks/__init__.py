"""Framework ids as data: OWASP Top 10 for LLM Applications 2025, MITRE ATLAS, CWE, NIST AI RMF and
CSF 2.0 (the *.yaml files here, each naming its published source), and the references of the finding
checks to them (mapping.yaml). A Finding gets its references when it is made (`check_refs`) and
carries them; exporters read them off the Finding (`refs_of`). `invalid_refs` checks any reference
list against these ids."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import msgspec
import yaml

from aicensus.assess.finding import OWASP_LLM_2025, OWASP_LLM_URL, Finding

KINDS = ("owasp", "atlas", "cwe", "nist")
URLS = {
    "owasp": OWASP_LLM_URL,
    "atlas": "https://atlas.mitre.org/",
    "cwe": "https://cwe.mitre.org/",
    "nist": "https://www.nist.gov/itl/ai-risk-management-framework",
}


class Refs(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """A check's, rule's or pack's references to the frameworks."""

    owasp: list[str] = msgspec.field(default_factory=list)
    atlas: list[str] = msgspec.field(default_factory=list)
    cwe: list[str] = msgspec.field(default_factory=list)
    nist: list[str] = msgspec.field(default_factory=list)

    def merged(self, other: Refs) -> Refs:
        def join(a: list[str], b: list[str]) -> list[str]:
            return list(dict.fromkeys([*a, *b]))

        return Refs(**{k: join(getattr(self, k), getattr(other, k)) for k in KINDS})


def _load(name: str) -> Any:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@functools.cache
def catalogue() -> dict[str, dict[str, str]]:
    """kind -> {id: name} for every bundled framework."""
    atlas, nist, cwe = _load("atlas.yaml"), _load("nist.yaml"), _load("cwe.yaml")
    return {
        "owasp": dict(OWASP_LLM_2025),
        "atlas": {**atlas["tactics"], **atlas["techniques"]},
        "cwe": dict(cwe["cwe"]),
        "nist": {**nist["ai_rmf"], **nist["csf"]},
    }


def name_of(kind: str, ref: str) -> str | None:
    """The published name of a reference (OWASP ids may carry a ':2025' suffix)."""
    key = ref.split(":", 1)[0] if kind == "owasp" else ref
    return catalogue().get(kind, {}).get(key)


def invalid_refs(refs: Refs) -> list[str]:
    """'kind id' for every reference that the bundled data does not know."""
    return [f"{k} {r}" for k in KINDS for r in getattr(refs, k) if name_of(k, r) is None]


@functools.cache
def _mapping() -> tuple[dict[str, Refs], dict[str, Refs]]:
    data = _load("mapping.yaml")
    by_detector = {k: msgspec.convert(v, Refs) for k, v in data["detectors"].items()}
    by_check = {k: msgspec.convert(v, Refs) for k, v in (data.get("checks") or {}).items()}
    return by_detector, by_check


@functools.cache
def policy_rule_refs() -> dict[str, Refs]:
    """Policy field (``require_auth``, ``countries`` ...) -> the references its violations carry."""
    data = _load("mapping.yaml").get("policy_rules") or {}
    return {k: msgspec.convert(v, Refs) for k, v in data.items()}


def rule_refs(rule: str) -> Refs:
    """References of a violation rule such as ``countries.deny`` (its policy field's)."""
    return policy_rule_refs().get(rule.split(".", 1)[0], Refs())


def check_refs(check_id: str, detector: str, owasp: list[str], cwe: list[str]) -> Refs:
    """All framework references of one finding check: its own OWASP/CWE plus mapping.yaml's.
    The finding makers (assess/engine.py, audit/checking.py) put them on each Finding."""
    return _check_refs(check_id, detector, tuple(owasp), tuple(cwe))


@functools.lru_cache(maxsize=4096)
def _check_refs(check_id: str, detector: str, owasp: tuple[str, ...], cwe: tuple[str, ...]) -> Refs:
    by_detector, by_check = _mapping()
    mapped = by_check.get(check_id) or by_detector.get(detector) or Refs()
    bare = [o.split(":", 1)[0] for o in owasp]  # "LLM06:2025" and "LLM06" are one id
    return Refs(owasp=bare, cwe=list(cwe)).merged(mapped)


def owasp_ids(refs: Refs) -> list[str]:
    """A Finding's `owasp` field: the ids with their edition ("LLM06:2025")."""
    return [f"{o}:2025" for o in refs.owasp]


@functools.cache
def finding_refs() -> dict[str, Refs]:
    """Check id -> the references its findings carry, for every check of the catalogue."""
    from aicensus.assess.catalog import all_checks

    return {c.id: check_refs(c.id, c.detector, c.owasp, c.cwe) for c in all_checks()}


def refs_of(finding: Finding) -> Refs:
    """The framework references a Finding carries (set when it was made; never looked up here)."""
    return Refs(
        owasp=[o.split(":", 1)[0] for o in finding.owasp],
        atlas=list(finding.atlas),
        cwe=list(finding.cwe),
        nist=list(finding.nist),
    )


def finding_document(finding: Finding) -> dict[str, Any]:
    """A Finding as JSON (its `owasp`, `atlas`, `cwe` and `nist` fields included)."""
    doc: dict[str, Any] = msgspec.to_builtins(finding)
    return doc


# ---------------------------------------------------------------- SARIF

TAXONOMY_NAMES = {
    "owasp": "OWASP Top 10 for LLM Applications 2025",
    "atlas": "MITRE ATLAS",
    "cwe": "CWE",
    "nist": "NIST AI RMF 1.0 / CSF 2.0",
}


def sarif_taxonomies(used: Refs) -> list[dict[str, object]]:
    """SARIF `run.taxonomies` for the framework ids in `used` (names from the bundled data)."""
    out: list[dict[str, object]] = []
    for kind in KINDS:
        ids = getattr(used, kind)
        if ids:
            taxa = [{"id": i, "name": name_of(kind, i) or i} for i in ids]
            out.append({"name": TAXONOMY_NAMES[kind], "informationUri": URLS[kind], "taxa": taxa})
    return out


def sarif_relationships(refs: Refs) -> list[dict[str, object]]:
    """SARIF `rule.relationships` to the taxa (toolComponent named after the taxonomy)."""
    return [
        {"target": {"id": i, "toolComponent": {"name": TAXONOMY_NAMES[k]}}, "kinds": ["relevant"]}
        for k in KINDS
        for i in getattr(refs, k)
    ]
