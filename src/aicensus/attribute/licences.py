"""Licence look-ups for due diligence: a licence name as the catalog writes it -> ``licences.yaml`` entry.

A family's licence text, a licence scope, a tag-level licence and the licence the attribution engine
reports (``"Apache-2.0 (inherited from qwen2.5)"``) are all looked up by exact, case-insensitive text.
Text that matches no entry has the class ``unknown``; nothing is guessed from partial matches except
the SPDX ids of the usual permissive licences.
"""

from __future__ import annotations

import re

from aicensus.attribute.load import Catalog, default_catalog
from aicensus.attribute.schema import Licence

UNKNOWN_CLASS = "unknown"
LICENCE_CLASSES = (
    "permissive",
    "conditional",
    "copyleft",
    "non-commercial",
    "proprietary",
    "unknown",
)
_PERMISSIVE_SPDX = frozenset({"apache-2.0", "mit", "bsd-2-clause", "bsd-3-clause", "isc", "0bsd"})
_INHERITED = re.compile(r"\s*\(inherited from [^)]*\)\s*$", re.IGNORECASE)
_INDEXES: dict[int, tuple[Catalog, dict[str, Licence]]] = {}


def _index(catalog: Catalog) -> dict[str, Licence]:
    cached = _INDEXES.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    table: dict[str, Licence] = {}
    for licence in catalog.licences.values():
        for text in (licence.name, *licence.match):
            table.setdefault(text.strip().lower(), licence)
    _INDEXES[id(catalog)] = (catalog, table)
    return table


def clean_licence_text(text: str) -> str:
    """Drop the attribution engine's ``(inherited from family)`` suffix."""
    return _INHERITED.sub("", text).strip()


def find_licence(text: str | None, catalog: Catalog | None = None) -> Licence | None:
    """The ``licences.yaml`` entry whose name or ``match`` equals ``text`` (case-insensitive)."""
    if not text:
        return None
    return _index(catalog or default_catalog()).get(clean_licence_text(text).lower())


def licence_class(text: str | None, catalog: Catalog | None = None) -> str:
    """permissive, conditional, copyleft, non-commercial, proprietary or unknown."""
    entry = find_licence(text, catalog)
    if entry is not None:
        return entry.licence_class
    if text and clean_licence_text(text).lower() in _PERMISSIVE_SPDX:
        return "permissive"
    return UNKNOWN_CLASS
