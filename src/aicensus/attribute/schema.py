"""The provenance catalog's file format, as strict msgspec Structs.

Every field is closed: an unknown key, a wrong type or a value outside its pattern is a load error
(see ``load.py``, which names the file, the entry and the field). Cross-references between entries
(a family's developer, a base family, an architecture) are checked after decoding.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
Id = Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
Text = Annotated[str, msgspec.Meta(min_length=1)]
Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]
Month = Annotated[str, msgspec.Meta(pattern=r"^\d{4}(-(0[1-9]|1[0-2]))?$")]
Digest = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{6,64}$")]
Day = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$")]
Modality = Literal["text", "vision", "embedding", "code", "reasoning", "audio"]
# Due diligence (see docs/diligence.md). How a fact was established: read at the source ([R]),
# read in secondary coverage ([S]), or carried over from notes without a fresh check ([U]).
Evidence = Literal["verified", "secondary", "unverified"]
Capability = Literal["tools", "vision", "thinking", "embedding", "code", "audio"]
Purpose = Literal[
    "general",
    "code",
    "sql",
    "embedding",
    "safety",
    "classifier",
    "ocr",
    "math",
    "medical",
    "translation",
    "extraction",
]
# A parameter-size tag as Ollama writes it: 7b, 0.5b, 567m, 8x7b, e4b, 16x17b.
SizeTag = Annotated[str, msgspec.Meta(pattern=r"^(\d+x)?\d+(\.\d+)?[bm]$|^e\d+b$")]
RestrictionKind = Literal[
    "field-of-use",
    "user-threshold",
    "revenue-threshold",
    "territory",
    "attribution",
    "naming",
    "notice",
    "non-commercial",
    "non-production",
    "share-alike",
    "output-use",
    "termination",
    "governing-law",
    "export-control",
]
LicenceClass = Literal["permissive", "conditional", "copyleft", "non-commercial", "proprietary"]
FamilyField = Literal[
    "developer",
    "licence",
    "first_release",
    "open_weights",
    "modality",
    "architectures",
    "lineage",
    "ollama",
]
DeveloperField = Literal["name", "country", "hq"]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


class LicenceScope(_Strict, kw_only=True, frozen=True):
    scope: Text
    licence: Text


class OllamaRule(_Strict, kw_only=True, frozen=True):
    """An Ollama library name, optionally narrowed to some tags, architectures or digests.

    ``tags`` are globs over the tag (``8b``, ``8b-*``); ``latest`` is assumed when a name has no tag.
    ``architectures`` must contain the reported ``details.family`` when the server reports one.
    ``digests`` are prefixes of the model digest. ``base`` names the family whose weights this build
    was trained from (tag-level lineage, e.g. ``deepseek-r1:70b`` -> ``llama3.3``).
    """

    name: Text
    tags: list[Text] = []
    architectures: list[Text] = []
    digests: list[Digest] = []
    base: Id | None = None
    licence: Text | None = None
    note: Text | None = None


class HfRule(_Strict, kw_only=True, frozen=True):
    """A Hugging Face ``owner/repo`` glob, with optional repo-level lineage."""

    repo: Annotated[str, msgspec.Meta(pattern=r"^[^/\s]+/[^/\s]+$")]
    base: Id | None = None
    licence: Text | None = None
    note: Text | None = None


class AliasRule(_Strict, kw_only=True, frozen=True):
    """A name stem found inside free-form names (community uploads, file names, GGUF names)."""

    alias: Text
    base: Id | None = None


class Fact(_Strict, kw_only=True, frozen=True):
    """One due-diligence fact with where it was read and when. ``value`` may be ``unknown``."""

    value: Text
    source: Text | None = None
    checked: Day | None = None
    evidence: Evidence = "unverified"
    note: Text | None = None


class SizeInfo(_Strict, kw_only=True, frozen=True):
    """What differs for one size of a variant: parameter count in billions where the tag is not a
    plain count (``8x7b`` -> 46.7), active parameters of a mixture of experts, context length,
    capabilities (replacing the variant's) or licence."""

    params: Annotated[float, msgspec.Meta(gt=0)] | None = None
    active: Annotated[float, msgspec.Meta(gt=0)] | None = None
    context_length: Annotated[int, msgspec.Meta(gt=0)] | None = None
    capabilities: list[Capability] | None = None
    licence: Text | None = None


VariantField = Literal["sizes", "default", "params", "capabilities", "context_length", "purpose"]


class Variant(_Strict, kw_only=True, frozen=True):
    """One officially published line of a family: an Ollama library name (or an HF-only release),
    with its parameter sizes, capabilities and context length, as the alternatives engine needs."""

    ollama: Text | None = None
    hf: Annotated[str, msgspec.Meta(pattern=r"^[^/\s]+/[^/\s]+$")] | None = None
    sizes: list[SizeTag] = []
    default: SizeTag | None = None
    capabilities: list[Capability] = []
    context_length: Annotated[int, msgspec.Meta(gt=0)] | None = None
    purpose: Purpose = "general"
    per_size: dict[SizeTag, SizeInfo] = {}
    cloud_only: bool = False
    note: Text | None = None
    source: Text
    checked: Day
    uncertain: list[VariantField] = []


class Advisory(_Strict, kw_only=True, frozen=True):
    """A published safety or security finding about a family (government evaluation, CVE, report)."""

    date: Day
    kind: Literal["government-evaluation", "security-advisory", "vulnerability", "safety-report"]
    title: Text
    summary: Text
    scope: Text | None = None
    source: Text
    evidence: Evidence


class Family(_Strict, kw_only=True, frozen=True):
    id: Id
    name: Text
    developer: Id | None
    open_weights: bool | Literal["partial"]
    first_release: Month
    modality: Annotated[list[Modality], msgspec.Meta(min_length=1)]
    licence: Text
    licence_scopes: list[LicenceScope] = []
    ollama: list[Text | OllamaRule] = []
    hf: list[Annotated[str, msgspec.Meta(pattern=r"^[^/\s]+/[^/\s]+$")] | HfRule] = []
    aliases: list[Text | AliasRule] = []
    architectures: list[Text] = []
    base: Id | None = None
    derivative: bool = False
    guardrails_removed: bool = False
    lineage: list[Text] = []
    # Vendor due diligence (aicensus.attribute.diligence / alternatives); not used by attribution.
    # Family-level sizes / context_length / capabilities are defaults for the family's variants.
    sizes: list[Text] = []
    context_length: Annotated[int, msgspec.Meta(gt=0)] | None = None
    capabilities: list[Capability] = []
    variants: list[Variant] = []
    released: Fact | None = None
    open_training_data: Fact | None = None
    advisories: list[Advisory] = []
    notes: Text | None = None
    sources: Annotated[list[Text], msgspec.Meta(min_length=1)]
    verified: list[Text] = []
    uncertain: list[FamilyField] = []


class Jurisdiction(_Strict, kw_only=True, frozen=True):
    """Another jurisdiction that matters for a developer: parent company, domicile, funder."""

    kind: Literal["parent", "domicile", "funding", "affiliate", "governing-law", "operations"]
    text: Text
    country: Country | None = None
    source: Text
    checked: Day
    evidence: Evidence


class Listing(_Strict, kw_only=True, frozen=True):
    """An entry on a government restriction list naming the developer (or its parent)."""

    list: Text
    entity: Text
    date: Day
    citation: Text | None = None
    status: Literal["listed", "withdrawn", "recommended", "removed"] = "listed"
    note: Text | None = None
    source: Text
    checked: Day
    evidence: Evidence


class Developer(_Strict, kw_only=True, frozen=True):
    id: Id
    name: Text
    legal_name: Text
    country: Country | None
    hq: Text | None = None
    hf_orgs: list[Text] = []
    aliases: list[Text] = []
    notes: Text | None = None
    uncertain: list[DeveloperField] = []
    # Due diligence: where the identity facts (legal name, country) were read, how, and when.
    sources: list[Text] = []
    identity_evidence: Evidence = "verified"
    checked: Day | None = None
    jurisdictions: list[Jurisdiction] = []
    listings: list[Listing] = []


class Restriction(_Strict, kw_only=True, frozen=True):
    kind: RestrictionKind
    text: Text


class Licence(_Strict, kw_only=True, frozen=True):
    """A licence the catalog's families use, with its notable restrictions (``licences.yaml``)."""

    id: Id
    name: Text
    match: list[Text] = []
    spdx: Text | None = None
    licence_class: LicenceClass = msgspec.field(name="class")
    url: Text | None = None
    restrictions: list[Restriction] = []
    source: Text
    checked: Day
    evidence: Evidence
    note: Text | None = None


class Architecture(_Strict, kw_only=True, frozen=True):
    id: Text
    hint: Text
    upstream: bool = True
    projector: bool = False
    generic: bool = False


class Guardrails(_Strict, kw_only=True, frozen=True):
    strong_tokens: list[Text]
    strong_prefixes: list[Text] = []
    weak_tokens: list[Text] = []
    strong_publishers: list[Text] = []
    weak_publishers: list[Text] = []
    sources: list[Text] = []


class Markers(_Strict, kw_only=True, frozen=True):
    guardrails: Guardrails
    quantizers: list[Text]
    reupload_suffixes: list[Text] = []


class CatalogMeta(_Strict, kw_only=True, frozen=True):
    schema_version: Literal[1]
    catalog_version: Text
    compiled_from: list[Text] = []
