"""Text and Markdown renderings of a due-diligence card and of an alternatives list."""

from __future__ import annotations

from aicensus.attribute.alternatives import AlternativesResult
from aicensus.attribute.diligence import DeveloperOut, FactOut, FamilyRecord, ModelCard

_LABEL = 18


def _k(tokens: int | None) -> str:
    if not tokens:
        return "?"
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:g}M"
    if tokens >= 1000:
        return f"{tokens / 1000:g}K"
    return str(tokens)


def _b(params: float | None) -> str:
    if not params:
        return "?"
    return f"{params * 1000:.0f}M" if params < 1 else f"{params:g}B"


def _provenance(fact: FactOut) -> str:
    if fact.source is None and fact.evidence == "unknown":
        return "no source recorded"
    when = f", checked {fact.checked}" if fact.checked else ""
    return f"{fact.evidence}{when}: {fact.source or 'no source recorded'}"


# ----------------------------------------------------------------------------------------- text


def card_text(card: ModelCard) -> str:
    lines = [
        f"{card.name}: {card.status}"
        + (f", confidence {card.confidence:.2f}" if card.status == "attributed" else "")
        + f" (catalog {card.catalog_version})"
    ]
    if card.build:
        lines.append(f"build: {card.build}" + (" (cloud: no local weights)" if card.cloud else ""))
    if card.guardrails_removed:
        lines.append("guardrails removed: yes")
    if card.message:
        lines.append(card.message)
    for record in (card.model, card.base):
        if record is not None:
            lines.append("")
            lines.extend(_record_text(record))
    return "\n".join(lines)


def _row(label: str, value: str, fact: FactOut | None = None) -> list[str]:
    out = [f"  {label:<{_LABEL}}{value}"]
    if fact is not None:
        out.append(f"  {'':<{_LABEL}}  [{_provenance(fact)}]")
        if fact.note:
            out.append(f"  {'':<{_LABEL}}  note: {fact.note}")
    return out


def _record_text(rec: FamilyRecord) -> list[str]:
    title = "MODEL" if rec.role == "model" else "BASE MODEL (weights derive from it)"
    lines = [f"{title}: {rec.name} [{rec.family}]"]
    lines.extend(_developer_text(rec.developer))
    lic = rec.licence
    lines.extend(_row("licence", f"{lic.name.value} ({lic.licence_class})", lic.name))
    for restriction in lic.restrictions:
        lines.append(f"  {'':<{_LABEL}}- {restriction.kind}: {restriction.text}")
    if lic.terms is not None:
        lines.append(f"  {'':<{_LABEL}}  terms: [{_provenance(lic.terms)}]")
        if lic.terms.note:
            lines.append(f"  {'':<{_LABEL}}  note: {lic.terms.note}")
    for scope in lic.scopes:
        lines.append(f"  {'':<{_LABEL}}  scope: {scope}")
    lines.extend(_row("open weights", rec.open_weights.value, rec.open_weights))
    lines.extend(_row("open train. data", rec.open_training_data.value, rec.open_training_data))
    lines.extend(_row("released", rec.released.value, rec.released))
    if rec.advisories:
        for adv in rec.advisories:
            lines.append(f"  {'advisory':<{_LABEL}}{adv.date} {adv.kind}: {adv.title}")
            lines.append(f"  {'':<{_LABEL}}  {adv.summary}")
            if adv.scope:
                lines.append(f"  {'':<{_LABEL}}  scope: {adv.scope}")
            lines.append(f"  {'':<{_LABEL}}  [{adv.evidence}: {adv.source}]")
    else:
        lines.append(
            f"  {'advisories':<{_LABEL}}none recorded in the catalog (absence is not assurance)"
        )
    for fact in rec.published:
        lines.extend(_row("published", fact.value, fact))
    for variant in rec.variants:
        sizes = " ".join(variant.sizes) or "size not recorded"
        caps = ", ".join(variant.capabilities) or "no listed capabilities"
        default = f" (default {variant.default})" if variant.default else ""
        cloud = "; cloud only" if variant.cloud_only else ""
        lines.append(
            f"  {'sizes':<{_LABEL}}{variant.name}: {sizes}{default}; {caps}; "
            f"context {_k(variant.context_length)}; {variant.purpose}{cloud}"
        )
    lines.append(f"  {'':<{_LABEL}}  [{_sizes_provenance(rec)}]")
    if rec.uncertain:
        lines.append(f"  {'not verified':<{_LABEL}}{', '.join(rec.uncertain)}")
    return lines


def _sizes_provenance(rec: FamilyRecord) -> str:
    if not rec.variants:
        return "no sizes recorded"
    sources = sorted({f"{v.source}, checked {v.checked}" for v in rec.variants})
    return "; ".join(sources) if len(sources) == 1 else f"{len(sources)} library pages; see JSON"


def _developer_text(dev: DeveloperOut | None) -> list[str]:
    if dev is None:
        return [f"  {'developer':<{_LABEL}}unknown"]
    lines = _row("developer", dev.name)
    lines.extend(_row("legal entity", dev.legal_name.value, dev.legal_name))
    lines.extend(_row("HQ country", dev.country.value, dev.country))
    lines.extend(_row("headquarters", dev.headquarters.value, dev.headquarters))
    for j in dev.jurisdictions:
        lines.append(f"  {'jurisdiction':<{_LABEL}}{j.kind} ({j.country or '?'}): {j.text}")
        lines.append(f"  {'':<{_LABEL}}  [{j.evidence}, checked {j.checked}: {j.source}]")
    if not dev.listings:
        lines.append(f"  {'restriction lists':<{_LABEL}}none recorded in the catalog")
    for item in dev.listings:
        cite = f", {item.citation}" if item.citation else ""
        lines.append(
            f"  {'restriction list':<{_LABEL}}{item.list}: {item.status} {item.date}{cite}"
        )
        lines.append(f"  {'':<{_LABEL}}  entity: {item.entity}")
        if item.note:
            lines.append(f"  {'':<{_LABEL}}  {item.note}")
        lines.append(f"  {'':<{_LABEL}}  [{item.evidence}, checked {item.checked}: {item.source}]")
    return lines


# ------------------------------------------------------------------------------------- markdown


def _md_fact(fact: FactOut) -> str:
    note = f" {fact.note}." if fact.note else ""
    return f"{fact.value} _({_provenance(fact)})_{note}"


def card_markdown(card: ModelCard) -> str:
    head = f"# Due diligence: `{card.name}`\n\n"
    head += f"- **Status:** {card.status}"
    if card.status == "attributed":
        head += f" (confidence {card.confidence:.2f})"
    head += f"\n- **Catalog:** {card.catalog_version}\n"
    if card.build:
        head += (
            f"- **Build:** `{card.build}`"
            + (" (cloud: no local weights)" if card.cloud else "")
            + "\n"
        )
    if card.guardrails_removed:
        head += "- **Guardrails removed:** yes\n"
    if card.message:
        head += f"- **Note:** {card.message}\n"
    parts = [head]
    for record in (card.model, card.base):
        if record is not None:
            parts.append(_record_md(record))
    return "\n".join(parts)


def _record_md(rec: FamilyRecord) -> str:
    title = "Model" if rec.role == "model" else "Base model (the weights derive from it)"
    out = [f"## {title}: {rec.name} (`{rec.family}`)\n"]
    dev = rec.developer
    if dev is None:
        out.append("- **Developer:** unknown")
    else:
        out.append(f"- **Developer:** {dev.name}")
        out.append(f"- **Legal entity:** {_md_fact(dev.legal_name)}")
        out.append(f"- **Headquarters country:** {_md_fact(dev.country)}")
        out.append(f"- **Headquarters:** {_md_fact(dev.headquarters)}")
        for j in dev.jurisdictions:
            out.append(
                f"- **Jurisdiction ({j.kind}, {j.country or '?'}):** {j.text} "
                f"_({j.evidence}, checked {j.checked}: {j.source})_"
            )
        if not dev.listings:
            out.append("- **Restriction lists:** none recorded in the catalog")
        for item in dev.listings:
            cite = f", {item.citation}" if item.citation else ""
            note = f" {item.note}" if item.note else ""
            out.append(
                f"- **Restriction list:** {item.list}: {item.entity}, {item.status} {item.date}{cite}."
                f"{note} _({item.evidence}, checked {item.checked}: {item.source})_"
            )
    lic = rec.licence
    out.append(f"- **Licence:** {_md_fact(lic.name)} Class: {lic.licence_class}.")
    for restriction in lic.restrictions:
        out.append(f"  - {restriction.kind}: {restriction.text}")
    if lic.terms is not None:
        out.append(f"  - terms read in: {_provenance(lic.terms)}")
    for scope in lic.scopes:
        out.append(f"  - scope: {scope}")
    out.append(f"- **Open weights:** {_md_fact(rec.open_weights)}")
    out.append(f"- **Open training data:** {_md_fact(rec.open_training_data)}")
    out.append(f"- **Released:** {_md_fact(rec.released)}")
    if not rec.advisories:
        out.append("- **Advisories:** none recorded in the catalog (absence is not assurance)")
    for adv in rec.advisories:
        scope = f" Scope: {adv.scope}." if adv.scope else ""
        out.append(
            f"- **Advisory ({adv.date}, {adv.kind}):** {adv.title}. {adv.summary}{scope} "
            f"_({adv.evidence}: {adv.source})_"
        )
    for fact in rec.published:
        out.append(f"- **Published:** {_md_fact(fact)}")
    for variant in rec.variants:
        sizes = ", ".join(variant.sizes) or "size not recorded"
        caps = ", ".join(variant.capabilities) or "none listed"
        out.append(
            f"- **Sizes ({variant.name}):** {sizes}; capabilities {caps}; context "
            f"{_k(variant.context_length)} _(checked {variant.checked}: {variant.source})_"
        )
    if rec.uncertain:
        out.append(f"- **Not verified at a source:** {', '.join(rec.uncertain)}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------- alternatives


def alternatives_text(result: AlternativesResult) -> str:
    caps = (
        ", ".join(c for c in result.capabilities if c != result.purpose) or "no other capabilities"
    )
    excluded = (
        f"; excluding {', '.join(result.exclude_countries)}" if result.exclude_countries else ""
    )
    lines = [
        f"alternatives to {result.query}: {result.developer or 'unknown'} ({result.country or '?'}), "
        f"{_b(result.params_b)}, {result.purpose}, {caps}, context {_k(result.context_length)}"
        f"{excluded}"
    ]
    if not result.alternatives:
        lines.append("no comparable open model in the catalog passes these filters")
        return "\n".join(lines)
    rows = [("#", "NAME", "DEVELOPER", "CC", "SIZE", "CONTEXT", "LICENCE", "CLOSE")]
    for i, alt in enumerate(result.alternatives, 1):
        licence = f"{alt.licence_class}"
        rows.append(
            (
                str(i),
                alt.name,
                alt.developer,
                alt.country or "?",
                _b(alt.params_b),
                _k(alt.context_length),
                licence,
                f"{alt.closeness:.2f}",
            )
        )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if index:
            lines.append(f"{'':<{widths[0]}}  {result.alternatives[index - 1].reason}")
    return "\n".join(lines)
