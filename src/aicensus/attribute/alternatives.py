"""Open models comparable to a given one, from developers outside some countries, ranked by closeness.

Comparable means: the same purpose (general chat, code, embedding, safety classifier, OCR ...), vision
when a general model takes images, and then as close as possible in size, capabilities (tools, thinking,
code), context length, licence and age. Candidates are the open-weight variants in the catalog (Ollama
library names with their sizes, and a few Hugging Face-only releases); cloud-only names, closed models
and guardrail-removed families are never proposed.

Country exclusion looks at where the weights come from, not only who published them: a candidate is
dropped when its developer's headquarters country, or the country of the developer of its base weights
(for the exact tag: ``cogito:14b`` is a Qwen2.5 fine-tune, ``cogito:8b`` a Llama one), is excluded. When
any country is excluded, a candidate whose developer country is unknown, or a derivative whose base is
unknown, is dropped too: it cannot be shown to be outside the excluded set.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import msgspec

from aicensus.attribute.attribution import attribute_name
from aicensus.attribute.licences import licence_class
from aicensus.attribute.load import Catalog, default_catalog
from aicensus.attribute.profiles import (
    Profile,
    profile_for,
    variant_capabilities,
    variant_context,
    variant_name,
    variant_params,
    variant_purpose,
)
from aicensus.attribute.schema import Family, Variant

# A general model that takes images is only replaced by one that does; a code or medical model that
# also takes images prefers one that does (soft), since few specialised models do.
HARD_FOR_GENERAL = frozenset({"vision"})
SOFT_WEIGHTS = {"tools": 1.5, "code": 1.0, "vision": 1.0, "thinking": 0.75, "audio": 0.5}
LICENCE_PENALTY = {
    "permissive": 0.0,
    "conditional": 0.25,
    "copyleft": 0.35,
    "unknown": 0.5,
    "non-commercial": 1.0,
    "proprietary": 2.0,
}
SAME_BAND = 0.5  # |log2(size ratio)| within which two sizes are in the same band (0.71x .. 1.41x)


class Alternative(msgspec.Struct, kw_only=True, frozen=True):
    """One proposed replacement, with why it was chosen."""

    name: str
    family: str
    family_name: str
    developer: str
    country: str | None
    base: str | None
    size: str | None
    params_b: float | None
    context_length: int | None
    capabilities: list[str]
    purpose: str
    licence: str | None
    licence_class: str
    released: str
    closeness: float
    reason: str
    sources: list[str]


class AlternativesResult(msgspec.Struct, kw_only=True):
    query: str
    family: str
    developer: str | None
    country: str | None
    size: str | None
    params_b: float | None
    purpose: str
    capabilities: list[str]
    context_length: int | None
    exclude_countries: list[str]
    licence_class: str
    max_params_b: float | None
    alternatives: list[Alternative]
    excluded_by_country: int = 0


@dataclass(frozen=True)
class _Candidate:
    family: Family
    variant: Variant
    size: str | None
    name: str
    params: float | None
    capabilities: frozenset[str]
    purpose: str
    context_length: int | None
    licence: str | None
    licence_class: str
    developer: str
    country: str | None
    base: str | None
    base_countries: frozenset[str]
    base_unknown: bool
    sources: tuple[str, ...]


_CANDIDATES: dict[int, tuple[Catalog, list[_Candidate]]] = {}


def top_alternatives(
    name: str, exclude_countries: Iterable[str] = (), n: int = 3, **options: object
) -> list[Alternative]:
    """The ``n`` closest open alternatives to ``name`` whose weights do not come from an excluded
    country. Empty when the name is unknown. ``options`` are those of :func:`find_alternatives`."""
    result = find_alternatives(name, exclude_countries=exclude_countries, limit=n, **options)  # type: ignore[arg-type]
    return result.alternatives if result else []


def find_alternatives(
    name: str,
    *,
    exclude_countries: Iterable[str] = (),
    licence_class: str = "any",
    max_params: float | None = None,
    limit: int = 10,
    per_developer: int = 2,
    catalog: Catalog | None = None,
) -> AlternativesResult | None:
    """Rank comparable open models for ``name``; None when the attribution engine cannot place it.

    ``licence_class`` is ``any`` or one class (``permissive`` ...); ``max_params`` is in billions.
    One entry per family (its closest size), at most ``per_developer`` entries per developer."""
    catalog = catalog or default_catalog()
    profile = profile_for(name, catalog)
    if profile is None:
        return None
    excluded = frozenset(c.strip().upper() for c in exclude_countries if c and c.strip())
    ranked: dict[str, tuple[float, _Candidate]] = {}
    dropped_by_country: set[str] = set()
    for cand in _candidates(catalog):
        if cand.family.id == profile.family or not _compatible(profile, cand):
            continue
        if max_params is not None and (cand.params is None or cand.params > max_params):
            continue
        if licence_class != "any" and cand.licence_class != licence_class:
            continue
        if _excluded(cand, excluded):
            dropped_by_country.add(cand.family.id)
            continue
        distance = _distance(profile, cand)
        best = ranked.get(cand.family.id)
        if best is None or distance < best[0]:
            ranked[cand.family.id] = (distance, cand)
    order = sorted(ranked.values(), key=lambda item: (item[0], item[1].name))
    chosen: list[Alternative] = []
    per_dev: dict[str, int] = {}
    for distance, cand in order:
        if per_dev.get(cand.developer, 0) >= per_developer:
            continue
        per_dev[cand.developer] = per_dev.get(cand.developer, 0) + 1
        chosen.append(_alternative(profile, cand, distance))
        if len(chosen) >= limit:
            break
    att = profile.attribution
    return AlternativesResult(
        query=name,
        family=profile.family,
        developer=att.developer,
        country=att.country,
        size=profile.size,
        params_b=profile.params,
        purpose=profile.purpose,
        capabilities=sorted(profile.capabilities),
        context_length=profile.context_length,
        exclude_countries=sorted(excluded),
        licence_class=licence_class,
        max_params_b=max_params,
        alternatives=chosen,
        excluded_by_country=len(dropped_by_country - set(ranked)),
    )


def _candidates(catalog: Catalog) -> list[_Candidate]:
    cached = _CANDIDATES.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    out: list[_Candidate] = []
    for family in catalog.families.values():
        if family.open_weights is not True or family.guardrails_removed:
            continue
        for variant in family.variants:
            if variant.cloud_only:
                continue
            for size in variant.sizes or [None]:  # type: ignore[list-item]
                cand = _candidate(catalog, family, variant, size)
                if cand is not None:
                    out.append(cand)
    _CANDIDATES[id(catalog)] = (catalog, out)
    return out


def _candidate(
    catalog: Catalog, family: Family, variant: Variant, size: str | None
) -> _Candidate | None:
    name = variant_name(variant, size)
    att = attribute_name(name) if variant.ollama else None
    if att is not None and (att.family != family.id or att.guardrails_removed):
        return None
    developer = catalog.developers.get(family.developer) if family.developer else None
    if developer is None:
        return None
    base_countries: set[str] = set()
    base_label = None
    base_unknown = False
    if att is not None and att.base is not None:
        base_label = f"{att.base.developer or 'unknown'} ({att.base.country or '?'})"
        if att.base.country:
            base_countries.add(att.base.country)
        else:
            base_unknown = True
    elif att is None and family.base:
        root = _root_base(catalog, family.base)
        base_dev = catalog.developers.get(catalog.families[root].developer or "")
        if base_dev is not None and base_dev.id != developer.id:
            base_label = f"{base_dev.name} ({base_dev.country or '?'})"
            if base_dev.country:
                base_countries.add(base_dev.country)
            else:
                base_unknown = True
    if family.derivative and base_label is None and not family.base:
        base_unknown = True
    info = variant.per_size.get(size) if size else None
    licence = (info.licence if info and info.licence else None) or (
        att.licence if att is not None else family.licence
    )
    return _Candidate(
        family=family,
        variant=variant,
        size=size,
        name=name,
        params=variant_params(variant, size),
        capabilities=variant_capabilities(family, variant, size),
        purpose=variant_purpose(family, variant),
        context_length=variant_context(family, variant, size),
        licence=licence,
        licence_class=licence_class(licence, catalog),
        developer=developer.name,
        country=developer.country,
        base=base_label,
        base_countries=frozenset(base_countries),
        base_unknown=base_unknown,
        sources=(variant.source, *family.sources[:1]),
    )


def _root_base(catalog: Catalog, family_id: str) -> str:
    seen = {family_id}
    current = family_id
    while (nxt := catalog.families[current].base) and nxt not in seen:
        seen.add(nxt)
        current = nxt
    return current


def _compatible(profile: Profile, cand: _Candidate) -> bool:
    if cand.purpose != profile.purpose:
        return False
    if profile.purpose == "embedding" and "embedding" not in cand.capabilities:
        return False
    if profile.purpose != "general":
        return True
    return all(cap in cand.capabilities for cap in HARD_FOR_GENERAL & profile.capabilities)


def _excluded(cand: _Candidate, excluded: frozenset[str]) -> bool:
    if not excluded:
        return False
    if cand.country is None or cand.country in excluded or cand.base_unknown:
        return True
    return bool(cand.base_countries & excluded)


def _distance(profile: Profile, cand: _Candidate) -> float:
    distance = _size_gap(profile.params, cand.params)
    for cap, weight in SOFT_WEIGHTS.items():
        if cap in profile.capabilities and cap not in cand.capabilities:
            distance += weight
    if profile.context_length and cand.context_length:
        if cand.context_length < profile.context_length:
            distance += 0.5 * math.log2(profile.context_length / cand.context_length)
    elif profile.context_length:
        distance += 0.3
    distance += LICENCE_PENALTY.get(cand.licence_class, 0.5)
    years_older = (_months(profile.released) - _months(cand.family.first_release)) / 12
    if years_older > 0:
        distance += min(1.0, 0.25 * years_older)
    if cand.variant.uncertain:
        distance += 0.05
    # within a family, prefer the newer line (variants are listed oldest first, as the library names are)
    variants = cand.family.variants
    distance += 0.02 * (len(variants) - 1 - variants.index(cand.variant))
    return distance


def _size_gap(query: float | None, cand: float | None) -> float:
    if not query or not cand:
        return 1.0
    return abs(math.log2(cand / query))


def _months(month: str) -> int:
    year, _, mon = month.partition("-")
    return int(year) * 12 + (int(mon) if mon else 6)


def _alternative(profile: Profile, cand: _Candidate, distance: float) -> Alternative:
    return Alternative(
        name=cand.name,
        family=cand.family.id,
        family_name=cand.family.name,
        developer=cand.developer,
        country=cand.country,
        base=cand.base,
        size=cand.size,
        params_b=cand.params,
        context_length=cand.context_length,
        capabilities=sorted(cand.capabilities),
        purpose=cand.purpose,
        licence=cand.licence,
        licence_class=cand.licence_class,
        released=cand.family.first_release,
        closeness=round(1 / (1 + distance), 3),
        reason=_reason(profile, cand),
        sources=list(dict.fromkeys(cand.sources)),
    )


def _reason(profile: Profile, cand: _Candidate) -> str:
    parts = [_size_reason(profile.params, cand.params)]
    wanted = sorted(profile.capabilities - {"embedding"})
    have = [c for c in wanted if c in cand.capabilities]
    lacks = [c for c in wanted if c not in cand.capabilities]
    if have:
        parts.append("has " + ", ".join(have))
    if lacks:
        parts.append("lacks " + ", ".join(lacks))
    if profile.purpose != "general":
        parts.append(f"{profile.purpose} model")
    if cand.context_length:
        ctx = f"context {_k(cand.context_length)}"
        if profile.context_length and profile.context_length != cand.context_length:
            ctx += f" vs {_k(profile.context_length)}"
        parts.append(ctx)
    else:
        parts.append("context length not recorded")
    parts.append(f"{cand.licence or 'licence unknown'} ({cand.licence_class})")
    origin = f"{cand.developer} ({cand.country or '?'})"
    if cand.base:
        origin += f", base weights {cand.base}"
    parts.append(origin)
    parts.append(f"family since {cand.family.first_release}")
    return "; ".join(parts)


def _size_reason(query: float | None, cand: float | None) -> str:
    if not cand:
        return "size not recorded"
    label = _b(cand)
    if not query:
        return label
    gap = math.log2(cand / query)
    band = "same size band" if abs(gap) <= SAME_BAND else ("smaller" if gap < 0 else "larger")
    return f"{label} vs {_b(query)}: {band}"


def _b(params: float) -> str:
    if params < 1:
        return f"{params * 1000:.0f}M"
    return f"{params:g}B"


def _k(tokens: int) -> str:
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:g}M"
    if tokens >= 1000:
        return f"{tokens / 1000:g}K"
    return str(tokens)


def parse_max_params(text: str | float | None) -> float | None:
    """'8', '8b', '500m', 8.0 -> billions of parameters."""
    if text is None or text == "":
        return None
    if isinstance(text, int | float):
        return float(text)
    raw = text.strip().lower()
    if raw.endswith("m"):
        return float(raw[:-1]) / 1000
    return float(raw.removesuffix("b"))


def alternatives_json(result: AlternativesResult) -> dict[str, object]:
    return msgspec.to_builtins(result)  # type: ignore[no-any-return]


__all__: Sequence[str] = (
    "Alternative",
    "AlternativesResult",
    "find_alternatives",
    "parse_max_params",
    "top_alternatives",
)
