"""The catalog as a flat, filterable list (``aicensus models list``)."""

from __future__ import annotations

import msgspec

from aicensus.attribute.load import Catalog, default_catalog
from aicensus.attribute.schema import Family, OllamaRule


class FamilySummary(msgspec.Struct, kw_only=True):
    id: str
    name: str
    developer: str | None
    country: str | None
    licence: str
    open_weights: bool | str
    first_release: str
    modality: list[str]
    ollama: list[str]
    base: str | None = None
    guardrails_removed: bool = False
    uncertain: list[str] = msgspec.field(default_factory=list)


def list_families(
    *,
    country: str | None = None,
    developer: str | None = None,
    licence: str | None = None,
    catalog: Catalog | None = None,
) -> list[FamilySummary]:
    """Families whose developer country equals ``country`` (ISO alpha-2) and whose developer name/id
    and licence contain the given texts (case-insensitive)."""
    catalog = catalog or default_catalog()
    rows = [_summary(catalog, fam) for fam in catalog.families.values()]
    rows.sort(key=lambda r: (r.country or "~", r.developer or "~", r.first_release, r.id))
    return [r for r in rows if _keep(catalog, r, country, developer, licence)]


def _summary(catalog: Catalog, fam: Family) -> FamilySummary:
    dev = catalog.developers.get(fam.developer) if fam.developer else None
    uncertain = [*fam.uncertain, *(f"developer {u}" for u in (dev.uncertain if dev else []))]
    return FamilySummary(
        id=fam.id,
        name=fam.name,
        developer=dev.name if dev else None,
        country=dev.country if dev else None,
        licence=fam.licence,
        open_weights=fam.open_weights,
        first_release=fam.first_release,
        modality=list(fam.modality),
        ollama=sorted({r.name if isinstance(r, OllamaRule) else r for r in fam.ollama}),
        base=fam.base,
        guardrails_removed=fam.guardrails_removed,
        uncertain=uncertain,
    )


def _keep(
    catalog: Catalog,
    row: FamilySummary,
    country: str | None,
    developer: str | None,
    licence: str | None,
) -> bool:
    if country and (row.country or "").upper() != country.upper():
        return False
    if developer:
        fam = catalog.families[row.id]
        haystack = f"{row.developer or ''} {fam.developer or ''}".lower()
        if developer.lower() not in haystack:
            return False
    return not (licence and licence.lower() not in row.licence.lower())
