"""Licence look-ups and THE licence classification of aicensus (due diligence, alternatives,
policy cards and the audit's model-file licence checks all use ``licence_class``).

A family's licence text, a licence scope, a tag-level licence, a licence id as Hugging Face and
GGUF metadata write it (``llama3.1``, ``cc-by-nc-4.0``: the catalog's ``id``) and the licence the
attribution engine reports (``"Apache-2.0 (inherited from qwen2.5)"``) are looked up by exact,
case-insensitive text in ``licences.yaml``. Text no entry names is classified by its SPDX id, or
by the unmistakable words of a non-commercial or a copyleft licence (``research-only``, ``GNU
General Public License``); anything else is ``unknown`` (nothing is guessed permissive from a
partial match).
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
_PERMISSIVE_SPDX = frozenset({
    "apache-2.0", "mit", "bsd-2-clause", "bsd-3-clause", "isc", "0bsd", "cc0-1.0", "cc-by-4.0",
    "cc-by-3.0", "unlicense", "zlib", "bsl-1.0", "postgresql", "pddl-1.0", "odc-by-1.0",
})  # fmt: skip
# GPL is copyleft: a derivative must be released under the same terms.
_COPYLEFT_SPDX = frozenset({
    "gpl-2.0", "gpl-2.0-only", "gpl-2.0-or-later", "gpl-3.0", "gpl-3.0-only", "gpl-3.0-or-later",
    "lgpl-2.1", "lgpl-2.1-only", "lgpl-2.1-or-later", "lgpl-3.0", "lgpl-3.0-only",
    "lgpl-3.0-or-later", "agpl-3.0", "agpl-3.0-only", "agpl-3.0-or-later", "mpl-2.0", "epl-2.0",
    "eupl-1.2", "osl-3.0", "cc-by-sa-3.0", "cc-by-sa-4.0", "odbl-1.0",
})  # fmt: skip
_NONCOMMERCIAL_WORDS = re.compile(
    r"(?i)\bcc[- ]by[- ]nc\b|non[- ]?commercial|research[- ]only|non[- ]?production"
)
_COPYLEFT_WORDS = re.compile(
    r"(?i)\b[al]?gpl(?:v?[23](?:\.\d)?)?\b|general public license|\bcc[- ]by[- ]sa\b|"
    r"mozilla public license|\beupl\b"
)
_INHERITED = re.compile(r"\s*\(inherited from [^)]*\)\s*$", re.IGNORECASE)
_INDEXES: dict[int, tuple[Catalog, dict[str, Licence]]] = {}


def _index(catalog: Catalog) -> dict[str, Licence]:
    cached = _INDEXES.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    table: dict[str, Licence] = {}
    for licence in catalog.licences.values():
        for text in (licence.name, *licence.match, licence.spdx or "", licence.id):
            if text:
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
    """permissive, conditional, copyleft, non-commercial, proprietary or unknown.

    The catalog entry's class first; then the SPDX id; then the words of a non-commercial or
    copyleft licence; else unknown."""
    entry = find_licence(text, catalog)
    if entry is not None:
        return entry.licence_class
    cleaned = clean_licence_text(text or "")
    spdx = cleaned.lower()
    if spdx in _PERMISSIVE_SPDX:
        return "permissive"
    if spdx in _COPYLEFT_SPDX:
        return "copyleft"
    if _NONCOMMERCIAL_WORDS.search(cleaned):
        return "non-commercial"
    if _COPYLEFT_WORDS.search(cleaned):
        return "copyleft"
    return UNKNOWN_CLASS
