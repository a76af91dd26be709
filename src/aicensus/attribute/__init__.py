"""Model provenance: who developed a served model, where they are, under which licence, from which base.

The catalog (``catalog/*.yaml``) is data; this package only reads it. Entry points:

* :func:`attribute_model` — one enumerated :class:`~aicensus.records.ModelRecord` (the pipeline's call);
* :func:`attribute_name` — an Ollama name, a Hugging Face repo id or a GGUF file name;
* :func:`attribute_gguf` — GGUF ``general.*`` metadata, with the file name as a fallback;
* :func:`list_families` — the catalog, filtered, for ``aicensus models list``;
* :func:`card_summary` / :func:`model_card` — the vendor due-diligence record behind a name;
* :func:`top_alternatives` / :func:`find_alternatives` — comparable open models from other countries.
"""

from __future__ import annotations

from aicensus.attribute.alternatives import (
    Alternative,
    AlternativesResult,
    find_alternatives,
    top_alternatives,
)
from aicensus.attribute.attribution import attribute_model, attribute_name, cache_clear, prepare
from aicensus.attribute.diligence import ModelCard, card_summary, model_card
from aicensus.attribute.gguf import attribute_gguf
from aicensus.attribute.listing import FamilySummary, list_families
from aicensus.attribute.load import Catalog, default_catalog, load_catalog
from aicensus.attribute.names import is_cloud_name

__all__ = [
    "Alternative",
    "AlternativesResult",
    "Catalog",
    "FamilySummary",
    "ModelCard",
    "attribute_gguf",
    "attribute_model",
    "attribute_name",
    "cache_clear",
    "card_summary",
    "default_catalog",
    "find_alternatives",
    "is_cloud_name",
    "list_families",
    "load_catalog",
    "model_card",
    "prepare",
    "top_alternatives",
]
