"""The three-state verdict for one service: affected, not affected, or unknown version.

- affected: the version is known and in the range of at least one advisory (each such
  advisory is listed);
- not affected: the version is known and in no advisory's range;
- unknown version: no version, or one that cannot be ordered: the advisories that *may* apply
  are counted, never reported one by one.
Advisories whose ranges cannot be compared with a known version (GIT commit ranges, an
aggregator's rule written in another numbering) are kept apart as `undetermined`.
Verdicts are memoised per (product, version): a census repeats the same few versions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from aicensus.assess.advisories.bundle import Advisory, Bundle
from aicensus.assess.advisories.ranges import evaluate
from aicensus.assess.advisories.versions import parse


class State(enum.StrEnum):
    AFFECTED = "affected"
    NOT_AFFECTED = "not affected"
    UNKNOWN_VERSION = "unknown version"


@dataclass(frozen=True)
class Match:
    advisory: Advisory
    affected_range: str  # e.g. ">= 0.1.0, < 0.1.34"
    fixed: str | None  # the version that fixes the matched range, when the record names one


@dataclass(frozen=True)
class Verdict:
    state: State
    product: str
    version: str | None
    matches: tuple[Match, ...] = ()
    undetermined: tuple[Advisory, ...] = ()
    candidates: tuple[Advisory, ...] = ()  # unknown version: every advisory of the product


def judge(bundle: Bundle, product: str | None, version: str | None) -> Verdict:
    """The verdict for a service of `product` reporting `version` (None: none reported)."""
    key = (product or "", version)
    memo: dict[tuple[str, str | None], Verdict] = bundle.__dict__.setdefault("_memo", {})
    found = memo.get(key)
    if found is None:
        found = memo[key] = _judge(bundle, product or "", version)
    return found


def _judge(bundle: Bundle, product: str, version: str | None) -> Verdict:
    advisories = bundle.by_product.get(product, ())
    spec = bundle.products.get(product)
    scheme = spec.scheme if spec else "pep440"
    parsed = parse(scheme, version)
    if parsed is None:
        if not advisories:
            return Verdict(State.NOT_AFFECTED, product, version)
        return Verdict(State.UNKNOWN_VERSION, product, version, candidates=advisories)
    assert version is not None
    packages = set(spec.packages) if spec else set()
    matches: list[Match] = []
    undetermined: list[Advisory] = []
    for adv in advisories:
        verdict: bool | None = False
        for aff in adv.osv.affected:
            pkg = aff.get("package") or {}
            key = (pkg.get("ecosystem"), pkg.get("name"))
            if packages and key not in packages and not _same_pypi(pkg, packages):
                continue
            one = evaluate(aff, parsed, version, scheme)
            if one:
                matches.append(Match(adv, describe(aff), fixed_of(aff, parsed, scheme)))
                verdict = True
                break
            if one is None:
                verdict = None
        if verdict is None:
            undetermined.append(adv)
    state = State.AFFECTED if matches else State.NOT_AFFECTED
    return Verdict(state, product, version, tuple(matches), tuple(undetermined))


def _same_pypi(pkg: Mapping[str, Any], packages: set[tuple[str, str]]) -> bool:
    name = str(pkg.get("name", "")).lower()
    return pkg.get("ecosystem") == "PyPI" and any(
        e == "PyPI" and n.lower() == name for e, n in packages
    )


def describe(aff: Mapping[str, Any]) -> str:
    """A range as people read it: ">= 1.0, < 1.2; = 2.0"."""
    parts = [f"= {v}" for v in aff.get("versions") or ()]
    for rng in aff.get("ranges") or ():
        exclusive = (rng.get("database_specific") or {}).get("introduced_exclusive")
        low, high = "", ""
        chunks: list[str] = []
        for event in rng.get("events") or ():
            kind, value = next(iter(event.items()))
            if kind == "introduced":
                low = "" if value == "0" else (f"> {value}" if exclusive else f">= {value}")
            elif kind in ("fixed", "last_affected", "limit"):
                high = f"< {value}" if kind != "last_affected" else f"<= {value}"
                chunks.append(", ".join(x for x in (low, high) if x) or "all versions")
                low, high = "", ""
        if low or not chunks:
            chunks.append(low or "all versions")
        parts.extend(chunks)
    return "; ".join(parts) or "all versions"


def fixed_of(aff: Mapping[str, Any], version: Version, scheme: str) -> str | None:
    """The lowest `fixed` above the version: the upgrade that leaves this range."""
    fixes = []
    for rng in aff.get("ranges") or ():
        for event in rng.get("events") or ():
            if "fixed" in event:
                v = parse(scheme, str(event["fixed"]))
                if v is not None and v > version:
                    fixes.append((v, str(event["fixed"])))
    return min(fixes)[1] if fixes else None


def severity_counts(advisories: Sequence[Advisory]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for adv in advisories:
        counts[adv.severity] = counts.get(adv.severity, 0) + 1
    return counts


def bundle_stamp() -> dict[str, object]:
    """What a report says about the advisories it was judged with."""
    from aicensus.assess.advisories.bundle import current_bundle

    b = current_bundle()
    return {
        "date": b.date,
        "advisories": len(b.advisories),
        "products": len(b.by_product),
        "location": "bundled" if b.location.endswith("data") else b.location,
    }


def bundle_line() -> str:
    """One line naming the advisories a report was judged with (the text and HTML reports)."""
    stamp = bundle_stamp()
    where = "" if stamp["location"] == "bundled" else f", installed at {stamp['location']}"
    return (
        f"Advisories: bundle dated {stamp['date']}, {stamp['advisories']:,} records "
        f"for {stamp['products']} products{where}"
    )


def state_of(product: str | None, version: str | None) -> str:
    """The three-state verdict of one service against the installed bundle."""
    from aicensus.assess.advisories.bundle import current_bundle

    return str(judge(current_bundle(), product, version).state)
