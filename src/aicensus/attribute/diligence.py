"""Vendor due diligence: the record behind a model name (``aicensus models card``).

For any name the attribution engine resolves, the card gives the developer (legal entity, headquarters
country, other jurisdictions, government restriction-list entries), the licence that applies to this
build with its notable restrictions, open weights and open training data, release date, published
safety or security advisories and where the weights are officially published. A fine-tune or distill
also gets the record of the family its weights come from (``deepseek-r1:70b`` -> DeepSeek, and Meta's
Llama 3.3).

Every fact is a :class:`FactOut` with a value (``unknown`` when the catalog has none), the source it
was read in, the date it was checked and how: ``verified`` (read at the source), ``secondary``
(read in secondary coverage or a quotation), ``recorded`` (compiled into the catalog from the sources
listed, not re-checked for the card) or ``unverified`` (flagged uncertain in the catalog).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from aicensus.attribute.attribution import attribute_name
from aicensus.attribute.licences import clean_licence_text, find_licence, licence_class
from aicensus.attribute.load import Catalog, default_catalog
from aicensus.attribute.names import is_cloud_name
from aicensus.attribute.profiles import profile_for, variant_name
from aicensus.attribute.schema import Developer, Family, HfRule, OllamaRule
from aicensus.records import Attribution

UNKNOWN = "unknown"
OLLAMA_SCRAPE = "D3rhami/ollama_gallery @5d4b656 (scrape of ollama.com/library, 2026-07-15)"


class FactOut(msgspec.Struct, kw_only=True):
    value: str
    source: str | None = None
    checked: str | None = None
    evidence: str = UNKNOWN
    note: str | None = None


class RestrictionOut(msgspec.Struct, kw_only=True):
    kind: str
    text: str


class LicenceOut(msgspec.Struct, kw_only=True):
    name: FactOut
    licence_class: str
    spdx: str | None = None
    url: str | None = None
    restrictions: list[RestrictionOut] = msgspec.field(default_factory=list)
    terms: FactOut | None = None  # where the restrictions were read
    family_licence: str | None = None
    scopes: list[str] = msgspec.field(default_factory=list)


class ListingOut(msgspec.Struct, kw_only=True):
    list: str
    entity: str
    date: str
    status: str
    citation: str | None
    note: str | None
    source: str
    checked: str
    evidence: str


class JurisdictionOut(msgspec.Struct, kw_only=True):
    kind: str
    country: str | None
    text: str
    source: str
    checked: str
    evidence: str


class DeveloperOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    legal_name: FactOut
    country: FactOut
    headquarters: FactOut
    jurisdictions: list[JurisdictionOut]
    listings: list[ListingOut]
    notes: str | None = None


class AdvisoryOut(msgspec.Struct, kw_only=True):
    date: str
    kind: str
    title: str
    summary: str
    scope: str | None
    source: str
    evidence: str


class VariantOut(msgspec.Struct, kw_only=True):
    name: str
    sizes: list[str]
    default: str | None
    capabilities: list[str]
    context_length: int | None
    purpose: str
    cloud_only: bool
    source: str
    checked: str
    uncertain: list[str]


class FamilyRecord(msgspec.Struct, kw_only=True):
    family: str
    name: str
    role: str  # "model" or "base"
    developer: DeveloperOut | None
    licence: LicenceOut
    open_weights: FactOut
    open_training_data: FactOut
    released: FactOut
    advisories: list[AdvisoryOut]
    published: list[FactOut]
    variants: list[VariantOut]
    lineage: list[str]
    uncertain: list[str]
    sources: list[str]


class ModelCard(msgspec.Struct, kw_only=True):
    name: str
    status: str
    catalog_version: str
    as_of: str
    developer: str | None = None
    country: str | None = None
    confidence: float = 0.0
    cloud: bool = False
    guardrails_removed: bool = False
    size: str | None = None
    build: str | None = None  # the library name and size the name resolved to
    model: FamilyRecord | None = None
    base: FamilyRecord | None = None
    candidates: list[str] = msgspec.field(default_factory=list)
    evidence: list[str] = msgspec.field(default_factory=list)
    message: str | None = None


def model_card(name: str, catalog: Catalog | None = None) -> ModelCard:
    """The due-diligence card for ``name``; ``status`` is ``unknown`` or ``ambiguous`` when the
    attribution engine cannot name one family (``message`` then says why)."""
    catalog = catalog or default_catalog()
    as_of = _as_of(catalog)
    att = attribute_name(name)
    card = ModelCard(
        name=name,
        status=att.status,
        catalog_version=catalog.meta.catalog_version,
        as_of=as_of,
        developer=att.developer,
        country=att.country,
        confidence=att.confidence,
        cloud=is_cloud_name(name),
        guardrails_removed=att.guardrails_removed,
        candidates=list(att.candidates),
        evidence=list(att.evidence),
    )
    if att.family is None or att.family not in catalog.families:
        card.message = _why_not(name, att)
        return card
    family = catalog.families[att.family]
    profile = profile_for(name, catalog)
    build_licence = att.licence
    if profile is not None:
        card.size = profile.size
        if profile.variant is not None:
            card.build = variant_name(profile.variant, profile.size)
            info = profile.variant.per_size.get(profile.size or "")
            if info is not None and info.licence:
                build_licence = info.licence  # a size the family's licence scopes single out
    card.model = _family_record(catalog, family, "model", build_licence, as_of)
    base_id = _base_family(catalog, att, family)
    if base_id is not None:
        base = catalog.families[base_id]
        card.base = _family_record(catalog, base, "base", None, as_of)
    if att.status != "attributed":
        card.message = _why_not(name, att)
    return card


def card_summary(name: str) -> dict[str, object]:
    """:func:`model_card` as plain JSON-ready data, for the reports and the audit."""
    return msgspec.to_builtins(model_card(name))  # type: ignore[no-any-return]


def _why_not(name: str, att: Attribution) -> str:
    if att.status == "ambiguous":
        return f"{name}: ambiguous, candidates {', '.join(att.candidates)}"
    if att.family:
        return f"{name}: the catalog does not know who developed family '{att.family}'"
    return f"{name}: no catalog family matches this name"


def _as_of(catalog: Catalog) -> str:
    """The catalog's compilation day: '2026.11.25' and '2026.11.25.2' -> '2026-11-25'."""
    return "-".join(catalog.meta.catalog_version.split(".")[:3])


def _base_family(catalog: Catalog, att: Attribution, family: Family) -> str | None:
    if att.base is not None and att.base.family in catalog.families:
        return att.base.family
    if family.base:
        current = family.base
        seen = {current}
        while (nxt := catalog.families[current].base) and nxt not in seen:
            seen.add(nxt)
            current = nxt
        return current if current != family.id else None
    return None


def _family_record(
    catalog: Catalog, family: Family, role: str, build_licence: str | None, as_of: str
) -> FamilyRecord:
    developer = catalog.developers.get(family.developer) if family.developer else None
    return FamilyRecord(
        family=family.id,
        name=family.name,
        role=role,
        developer=_developer(developer, as_of) if developer else None,
        licence=_licence(catalog, family, build_licence, as_of),
        open_weights=_field_fact(family, "open_weights", _open_weights(family), as_of),
        open_training_data=_fact(family.open_training_data),
        released=_released(family, as_of),
        advisories=[
            AdvisoryOut(
                date=a.date,
                kind=a.kind,
                title=a.title,
                summary=a.summary,
                scope=a.scope,
                source=a.source,
                evidence=a.evidence,
            )
            for a in family.advisories
        ],
        published=_published(catalog, family, developer, as_of),
        variants=[
            VariantOut(
                name=v.ollama or v.hf or "",
                sizes=list(v.sizes),
                default=v.default,
                capabilities=list(v.capabilities),
                context_length=v.context_length,
                purpose=v.purpose,
                cloud_only=v.cloud_only,
                source=v.source,
                checked=v.checked,
                uncertain=list(v.uncertain),
            )
            for v in family.variants
        ],
        lineage=list(family.lineage),
        uncertain=list(family.uncertain),
        sources=list(family.sources),
    )


def _fact(fact: object | None) -> FactOut:
    if fact is None:
        return FactOut(value=UNKNOWN, note="not recorded in the catalog")
    return FactOut(
        value=fact.value,  # type: ignore[attr-defined]
        source=fact.source,  # type: ignore[attr-defined]
        checked=fact.checked,  # type: ignore[attr-defined]
        evidence=fact.evidence,  # type: ignore[attr-defined]
        note=fact.note,  # type: ignore[attr-defined]
    )


def _open_weights(family: Family) -> str:
    if family.open_weights is True:
        return "yes"
    if family.open_weights is False:
        return "no"
    return "partial"


def _field_fact(family: Family, fld: str, value: str, as_of: str) -> FactOut:
    """A fact taken from a plain catalog field: verified if the family's ``verified`` list names the
    field, unverified if ``uncertain`` does, else recorded from the family's sources."""
    names = {"licence": ("licence", "license"), "first_release": ("first_release", "release")}
    prefixes = names.get(fld, (fld,))
    for note in family.verified:
        head, sep, tail = note.partition(":")
        if sep and head.strip().lower() in prefixes:
            return FactOut(value=value, source=tail.strip(), checked=as_of, evidence="verified")
    evidence = "unverified" if fld in family.uncertain else "recorded"
    return FactOut(value=value, source=_first(family.sources), checked=as_of, evidence=evidence)


def _released(family: Family, as_of: str) -> FactOut:
    if family.released is not None:
        out = _fact(family.released)
        out.note = out.note or f"family first released {family.first_release}"
        return out
    fact = _field_fact(family, "first_release", family.first_release, as_of)
    fact.note = "month of the family's first public weights"
    return fact


def _licence(catalog: Catalog, family: Family, build_licence: str | None, as_of: str) -> LicenceOut:
    text = clean_licence_text(build_licence) if build_licence else family.licence
    name = _field_fact(family, "licence", text, as_of)
    if build_licence and clean_licence_text(build_licence) != family.licence:
        name.note = f"licence of this build (tag-level or inherited); the family's licence is {family.licence}"
    entry = find_licence(text, catalog)
    out = LicenceOut(
        name=name,
        licence_class=licence_class(text, catalog),
        family_licence=family.licence,
        scopes=[f"{s.scope}: {s.licence}" for s in family.licence_scopes],
    )
    if entry is None:
        out.terms = FactOut(value=UNKNOWN, note="this licence text is not in licences.yaml")
        return out
    out.spdx = entry.spdx
    out.url = entry.url
    out.restrictions = [RestrictionOut(kind=r.kind, text=r.text) for r in entry.restrictions]
    out.terms = FactOut(
        value=entry.name,
        source=entry.source,
        checked=entry.checked,
        evidence=entry.evidence,
        note=entry.note,
    )
    return out


def _developer(dev: Developer, as_of: str) -> DeveloperOut:
    def fact(fld: str, value: str | None) -> FactOut:
        if value is None:
            return FactOut(value=UNKNOWN, note="not recorded in the catalog")
        if fld in dev.uncertain:
            evidence = "unverified"
        elif dev.sources and fld in ("name", "country"):
            evidence = dev.identity_evidence
        else:
            evidence = "recorded"
        source = _first(dev.sources) or "catalog developers.yaml (shared provenance reference)"
        return FactOut(value=value, source=source, checked=dev.checked or as_of, evidence=evidence)

    return DeveloperOut(
        id=dev.id,
        name=dev.name,
        legal_name=fact("name", dev.legal_name),
        country=fact("country", dev.country),
        headquarters=fact("hq", dev.hq),
        jurisdictions=[
            JurisdictionOut(
                kind=j.kind,
                country=j.country,
                text=j.text,
                source=j.source,
                checked=j.checked,
                evidence=j.evidence,
            )
            for j in dev.jurisdictions
        ],
        listings=[
            ListingOut(
                list=item.list,
                entity=item.entity,
                date=item.date,
                status=item.status,
                citation=item.citation,
                note=item.note,
                source=item.source,
                checked=item.checked,
                evidence=item.evidence,
            )
            for item in dev.listings
        ],
        notes=dev.notes,
    )


def _published(
    catalog: Catalog, family: Family, dev: Developer | None, as_of: str
) -> list[FactOut]:
    out: list[FactOut] = []
    scraped = {v.ollama.lower(): v for v in family.variants if v.ollama}
    for name in _ollama_names(family):
        variant = scraped.get(name.lower())
        if variant is not None:
            out.append(
                FactOut(
                    value=f"https://ollama.com/library/{name}",
                    source=OLLAMA_SCRAPE,
                    checked=variant.checked,
                    evidence="verified",
                    note="cloud-only: no local weights" if variant.cloud_only else None,
                )
            )
        else:
            out.append(
                FactOut(
                    value=f"https://ollama.com/library/{name}",
                    source=_first(family.sources),
                    checked=as_of,
                    evidence="recorded",
                )
            )
    orgs = dev.hf_orgs if dev else []
    for pattern in _hf_patterns(family):
        owner = pattern.split("/", 1)[0]
        official = any(owner.lower() == o.lower() for o in orgs)
        url = f"https://huggingface.co/{pattern}"
        if "*" in pattern or "?" in pattern:
            url = f"https://huggingface.co/{owner} (repositories {pattern})"
        out.append(
            FactOut(
                value=url,
                source=_first(family.sources),
                checked=as_of,
                evidence="recorded",
                note=None if official else "repository outside the developer's listed HF orgs",
            )
        )
    return out


def _ollama_names(family: Family) -> list[str]:
    names = [r.name if isinstance(r, OllamaRule) else r for r in family.ollama]
    return list(dict.fromkeys(names))


def _hf_patterns(family: Family) -> list[str]:
    return list(dict.fromkeys(r.repo if isinstance(r, HfRule) else r for r in family.hf))


def _first(items: Iterable[str]) -> str | None:
    return next(iter(items), None)
