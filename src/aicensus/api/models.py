"""Models: who built a model (whois), its due-diligence card, open alternatives from other
countries, and the provenance catalog. Offline: everything comes from the bundled catalog."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from aicensus.attribute import FamilySummary, attribute_model, is_cloud_name, list_families
from aicensus.attribute.alternatives import AlternativesResult, find_alternatives
from aicensus.attribute.alternatives import parse_max_params as _parse_max_params
from aicensus.attribute.card_format import alternatives_text, card_markdown, card_text
from aicensus.attribute.diligence import ModelCard, model_card
from aicensus.errors import AicensusError
from aicensus.records import Attribution, ModelRecord

CARD_FORMATS = ("table", "json", "markdown")

__all__ = [
    "CARD_FORMATS",
    "AlternativesResult",
    "Attribution",
    "FamilySummary",
    "ModelCard",
    "Whois",
    "alternatives",
    "card",
    "format_alternatives",
    "format_card",
    "list_models",
    "parse_max_params",
    "whois",
]


class Whois(msgspec.Struct, kw_only=True):
    """Who developed the model called `name`; `cloud`: the name is a hosted (cloud) model."""

    name: str
    attribution: Attribution
    cloud: bool


def whois(names: str | Iterable[str], *, family: str | None = None) -> list[Whois]:
    """Attribute each model name (Ollama name, Hugging Face id or GGUF file name) to its
    developer; `family` is the Ollama details.family / GGUF general.architecture reported
    with the names."""
    names = [names] if isinstance(names, str) else list(names)
    return [
        Whois(
            name=name,
            attribution=attribute_model(ModelRecord(name=name, family=family)),
            cloud=is_cloud_name(name),
        )
        for name in names
    ]


def card(name: str) -> ModelCard:
    """The due-diligence record of `name`: developer, jurisdictions, licence, data,
    advisories, sources; a fine-tune or distill also carries its base model's record.
    `card.model` is None (and `card.message` says why) for an unknown name;
    `card.status == "ambiguous"` when several families match."""
    return model_card(name)


def format_card(model: ModelCard, fmt: str = "table") -> str:
    """A card as text (table), markdown or JSON."""
    if fmt == "json":
        return msgspec.json.format(msgspec.json.encode(model), indent=2).decode()
    if fmt == "markdown":
        return card_markdown(model)
    if fmt == "table":
        return card_text(model)
    raise ValueError(f"unknown card format {fmt!r}; known: {', '.join(CARD_FORMATS)}")


def parse_max_params(text: str | float | None) -> float | None:
    """'8', '8b', '500m' → billions of parameters (AicensusError when it is none of these)."""
    try:
        return _parse_max_params(text)
    except ValueError as exc:
        raise AicensusError(f"'{text}' is not a parameter count (8, 8b, 500m)") from exc


def alternatives(
    name: str,
    *,
    exclude_countries: Sequence[str] = (),
    licence_class: str = "any",
    max_params: float | str | None = None,
    limit: int = 10,
) -> AlternativesResult | None:
    """Open models comparable to `name` (purpose, modality, capabilities, size, context),
    ranked; none whose developer, or whose base weights' developer, is in
    `exclude_countries` (ISO 3166-1 alpha-2). `licence_class` "permissive" keeps only
    permissively licensed ones. None when no catalog family matches the name."""
    return find_alternatives(
        name,
        exclude_countries=[c.upper() for c in exclude_countries],
        licence_class=licence_class,
        max_params=parse_max_params(max_params) if isinstance(max_params, str) else max_params,
        limit=limit,
    )


def format_alternatives(result: AlternativesResult, fmt: str = "table") -> str:
    """Alternatives as text (table) or JSON."""
    if fmt == "json":
        return msgspec.json.format(msgspec.json.encode(result), indent=2).decode()
    return alternatives_text(result)


def list_models(
    *, country: str | None = None, developer: str | None = None, licence: str | None = None
) -> list[FamilySummary]:
    """The model families of the provenance catalog, filtered by developer headquarters
    (ISO 3166-1 alpha-2), developer name/id and licence (each a 'contains' match)."""
    return list_families(country=country, developer=developer, licence=licence)
