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
Modality = Literal["text", "vision", "embedding", "code", "reasoning", "audio"]
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
    # Room for vendor due diligence (not used by attribution yet).
    sizes: list[Text] = []
    context_length: Annotated[int, msgspec.Meta(gt=0)] | None = None
    capabilities: list[Text] = []
    notes: Text | None = None
    sources: Annotated[list[Text], msgspec.Meta(min_length=1)]
    verified: list[Text] = []
    uncertain: list[FamilyField] = []


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
