"""Turning a match into an :class:`aicensus.records.Attribution`: base model, guardrails, confidence.

Unknown stays unknown: with no name evidence, an architecture only attributes when every catalog
family using it belongs to one developer and the architecture is not a generic one ('llama', 'bert'),
or — `matched_by: family`, confidence below any name match — when the catalog has the family
the architecture is named after ('qwen3' → Alibaba's Qwen3): the record then names that family
(`family`, confidence 0.4) and, in its evidence, the family's original developer, while the
developer of the model served stays ambiguous among the family's users, because others
fine-tune under the same family name (so a family match is never a confident, possibly wrong,
developer, nor a base that policies would act on).
"""

from __future__ import annotations

from collections.abc import Iterable

from aicensus.attribute.index import Index
from aicensus.attribute.match import Hit, Signals
from aicensus.attribute.names import tokens
from aicensus.attribute.schema import Family
from aicensus.records import Attribution, BaseModelRef

ARCH_ONLY = 0.5
FAMILY_ORIGIN = 0.4  # below ARCH_ONLY and any name match: fine-tunes by others share the family
ARCH_CONFLICT_CAP = 0.5
UNVERIFIED_COUNTRY_CAP = 0.7
UNVERIFIED_DEVELOPER_CAP = 0.6
CLOUD_NOTE = (
    "cloud: an Ollama ':cloud' tag runs on ollama.com's servers; this host holds no weights for it"
)


def guardrail_signals(
    idx: Index, texts: Iterable[str], owners: Iterable[str]
) -> tuple[bool, list[str]]:
    """Name tokens and publishers that mark a guardrail-removed (abliterated, uncensored ...) model."""
    removed = False
    evidence: list[str] = []
    for text in texts:
        toks = tokens(text)
        strong = _ngrams(idx.strong_tokens, toks) + [
            t for t in toks if t.startswith(idx.strong_prefixes)
        ]
        for marker in dict.fromkeys(strong):
            removed = True
            evidence.append(f"guardrails removed: name token '{marker}'")
        for marker in dict.fromkeys(_ngrams(idx.weak_tokens, toks)):
            evidence.append(
                f"possible guardrail removal (role-play marker '{marker}'), not conclusive"
            )
    for owner in owners:
        low = owner.lower()
        if low in idx.strong_publishers:
            removed = True
            evidence.append(f"guardrails removed: publisher '{owner}' releases abliterated models")
        elif low in idx.weak_publishers:
            evidence.append(f"publisher '{owner}' also releases guardrail-removed models")
    return removed, list(dict.fromkeys(evidence))


def _ngrams(table: dict[tuple[str, ...], str], toks: tuple[str, ...]) -> list[str]:
    found = []
    for size in (1, 2, 3):
        for i in range(len(toks) - size + 1):
            marker = table.get(toks[i : i + size])
            if marker:
                found.append(marker)
    return found


def arch_hit(idx: Index, architecture: str | None) -> Hit | None:
    arch = (architecture or "").lower()
    entry = idx.catalog.architectures.get(arch)
    if not arch or (entry and entry.projector):
        return None
    families = idx.arch_families.get(arch, [])
    counts: dict[str, int] = {}
    for fam in families:
        if dev := idx.developer_of(fam):
            counts[dev] = counts.get(dev, 0) + 1
    developers = sorted(counts, key=lambda d: -counts[d])  # stable: catalog order breaks ties
    hint = f" ({entry.hint})" if entry else ""
    if not developers:
        return Hit(
            developer=None,
            evidence=(f"architecture '{arch}' is not tied to any catalog family{hint}",),
        )
    generic = entry is not None and entry.generic
    if len(developers) == 1 and not generic:
        only = [f for f in families if idx.developer_of(f) == developers[0]]
        return Hit(
            developer=developers[0],
            family=only[0] if len(only) == 1 else None,
            confidence=ARCH_ONLY,
            evidence=(
                f"architecture '{arch}' is used only by this developer's families in the catalog (weak signal)",
            ),
            matched_by="family",
        )
    origin = _origin_family(idx, arch, families)
    if origin is not None:
        return _origin_hit(idx, arch, origin, developers)
    why = (
        "a generic architecture used far beyond the catalog"
        if generic
        else "an architecture shared by several developers"
    )
    note = f"architecture '{arch}' alone: {why} ({len(developers)} catalog developers use it)"
    return Hit(developer=None, conflict=tuple(developers), evidence=(note,))


def _origin_family(idx: Index, arch: str, families: list[str]) -> str | None:
    """The catalog family an architecture is named after (its original release), if any."""
    for fam in families:
        if fam.replace(".", "").replace("-", "") == arch and idx.catalog.families[fam].base is None:
            return fam
    return None


def _origin_hit(idx: Index, arch: str, origin: str, developers: list[str]) -> Hit:
    dev = idx.developer_of(origin)
    others = [_label(idx, d) for d in developers if d != dev]
    note = (
        f"model family '{arch}' only (the name matches no catalog entry): the family's original "
        f"developer is {_label(idx, dev) if dev else '?'} (low confidence); "
        "who made this model is unknown, since fine-tunes by others share the family"
        + (f" ({', '.join(others)} also use it in the catalog)" if others else "")
    )
    return Hit(
        developer=None, base_family=origin, base_developer=dev, confidence=FAMILY_ORIGIN,
        evidence=(note,), conflict=tuple(developers), matched_by="family",
    )  # fmt: skip


def to_attribution(
    idx: Index,
    hit: Hit | None,
    sig: Signals,
    *,
    guard: tuple[bool, list[str]] = (False, []),
    cloud: bool = False,
    declared_licence: str | None = None,
) -> Attribution:
    if hit is None or (hit.developer is None and hit.family is None and not hit.conflict):
        hit = _with_evidence(arch_hit(idx, sig.architecture), hit)
    extra = ([CLOUD_NOTE] if cloud else []) + guard[1]
    if hit is None:
        return _unknown(["no catalog family matches this name", *extra], declared_licence, guard[0])
    if hit.developer is None and hit.base_family and hit.matched_by == "family":
        return _family_only(idx, hit, extra, declared_licence, guard[0])
    if hit.conflict:
        return _ambiguous(idx, hit, extra, declared_licence, guard[0])
    if hit.developer is None and hit.family is None:
        return _unknown([*hit.evidence, *extra], declared_licence, guard[0])
    return _attributed(idx, hit, sig, extra, declared_licence, guard[0])


def _with_evidence(hit: Hit | None, earlier: Hit | None) -> Hit | None:
    if earlier is None or hit is None:
        return hit or earlier
    return hit.note(*earlier.evidence)


def _unknown(evidence: list[str], licence: str | None, removed: bool) -> Attribution:
    if licence:
        evidence.append(f"declared licence: {licence}")
    return Attribution(
        licence=licence, guardrails_removed=removed, status="unknown", evidence=evidence
    )


def _family_only(
    idx: Index, hit: Hit, extra: list[str], licence: str | None, removed: bool
) -> Attribution:
    """Only the family is known: named (its original developer in the evidence), the developer
    ambiguous. No `base` is set: a 0.4 guess must not trip policies and counts that read the
    base as fact (a qwen2 model may as well be a DeepSeek or Sakana fine-tune)."""
    return Attribution(
        licence=licence,
        family=hit.base_family,
        guardrails_removed=removed,
        confidence=hit.confidence,
        status="ambiguous",  # the developer: any of the family's users; the base is known
        candidates=[_label(idx, d) for d in dict.fromkeys(hit.conflict)],
        evidence=[*hit.evidence, *extra],
        matched_by="family",
    )


def _ambiguous(
    idx: Index, hit: Hit, extra: list[str], licence: str | None, removed: bool
) -> Attribution:
    candidates = [_label(idx, d) for d in dict.fromkeys(hit.conflict)]
    return Attribution(
        licence=licence,
        guardrails_removed=removed,
        status="ambiguous",
        candidates=candidates,
        evidence=[*hit.evidence, *extra],
    )


def _label(idx: Index, developer_id: str) -> str:
    dev = idx.developer(developer_id)
    if dev is None:
        return developer_id
    return f"{dev.name} ({dev.country or '?'})"


def _attributed(
    idx: Index, hit: Hit, sig: Signals, extra: list[str], declared: str | None, removed: bool
) -> Attribution:
    family = idx.family(hit.family) if hit.family else None
    dev = idx.developer(hit.developer)
    hit = _check_architecture(idx, hit, sig)
    hit = _apply_uncertainty(idx, hit)
    removed = removed or bool(family and family.guardrails_removed)
    evidence = list(hit.evidence)
    if family and family.guardrails_removed:
        evidence.append(f"guardrails removed: {family.name} is released without safety tuning")
    if family and family.open_weights is False:
        evidence.append(
            f"closed model: {family.name} has no open weights; the server proxies a hosted API"
        )
    licence = _licence(idx, hit, family, declared)
    if declared and licence and declared.lower() not in licence.lower():
        evidence.append(f"declared licence: {declared}")
    if dev is None:
        evidence.append(
            f"the catalog does not know who developed {family.name if family else 'this model'}"
        )
    return Attribution(
        developer=dev.name if dev else None,
        country=dev.country if dev else None,
        licence=licence,
        family=hit.family,
        base=_base_ref(idx, hit),
        guardrails_removed=removed,
        confidence=round(hit.confidence, 2) if dev else 0.0,
        status="attributed" if dev else "unknown",
        evidence=[*evidence, *extra],
        matched_by=hit.matched_by,
    )


def _licence(idx: Index, hit: Hit, family: Family | None, declared: str | None) -> str | None:
    licence = hit.licence or (family.licence if family else None) or declared
    if licence and licence.startswith("inherits") and hit.base_family:
        base = idx.family(idx.root_base(hit.base_family))
        return f"{base.licence} (inherited from {base.id})"
    return licence


def _check_architecture(idx: Index, hit: Hit, sig: Signals) -> Hit:
    arch = (sig.architecture or "").lower()
    if not arch or not hit.family:
        return hit
    family = idx.family(hit.family)
    known = {a.lower() for a in family.architectures}
    entry = idx.catalog.architectures.get(arch)
    if not known or arch in known or (entry and entry.projector):
        return hit
    if entry is None:
        return hit.note(f"architecture '{arch}' is not in the catalog")
    return hit.capped(ARCH_CONFLICT_CAP).note(
        f"architecture '{arch}' is not one {family.id} is known to use"
    )


def _apply_uncertainty(idx: Index, hit: Hit) -> Hit:
    dev = idx.developer(hit.developer)
    if dev and "country" in dev.uncertain:
        hit = hit.capped(UNVERIFIED_COUNTRY_CAP).note(
            f"catalog: {dev.name}'s headquarters country is not verified"
        )
    if hit.family and "developer" in idx.family(hit.family).uncertain:
        hit = hit.capped(UNVERIFIED_DEVELOPER_CAP).note(
            "catalog: the developer of this family is not verified"
        )
    return hit


def _base_ref(idx: Index, hit: Hit) -> BaseModelRef | None:
    family = idx.root_base(hit.base_family) if hit.base_family else None
    developer_id = idx.developer_of(family) if family else hit.base_developer
    if developer_id is None or developer_id == hit.developer:
        return None
    dev = idx.developer(developer_id)
    return BaseModelRef(
        developer=dev.name if dev else None, country=dev.country if dev else None, family=family
    )
