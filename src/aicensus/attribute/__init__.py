"""Model provenance: who developed a served model, where they are, under which licence, from which base.

The catalog (``catalog/*.yaml``) is data; this package only reads it. Entry points:

* :func:`attribute_model` — one enumerated :class:`~aicensus.records.ModelRecord` (the pipeline's call);
* :func:`attribute_name` — an Ollama name, a Hugging Face repo id or a GGUF file name;
* :func:`attribute_gguf` — GGUF ``general.*`` metadata, with the file name as a fallback;
* :func:`list_families` — the catalog, filtered, for ``aicensus models list``.
"""

from __future__ import annotations

from aicensus.attribute.attribution import attribute_model, attribute_name, cache_clear
from aicensus.attribute.gguf import attribute_gguf
from aicensus.attribute.listing import FamilySummary, list_families
from aicensus.attribute.load import Catalog, default_catalog, load_catalog
from aicensus.attribute.names import is_cloud_name

__all__ = [
    "Catalog",
    "FamilySummary",
    "attribute_gguf",
    "attribute_model",
    "attribute_name",
    "cache_clear",
    "default_catalog",
    "is_cloud_name",
    "list_families",
    "load_catalog",
]
