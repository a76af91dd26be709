"""What a model name is, for comparison: family, variant, size, capabilities, purpose, context length.

The attribution engine says which family a name belongs to; the family's ``variants`` (one per Ollama
library name, from the ollama.com library pages) say which sizes, capabilities and context lengths
exist. A profile combines the two for one name, e.g. ``qwen2.5:7b`` -> Qwen2.5, 7B, tools, 32K.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aicensus.attribute.attribution import attribute_name
from aicensus.attribute.load import Catalog, default_catalog
from aicensus.attribute.names import parse_name
from aicensus.attribute.schema import Family, Variant
from aicensus.records import Attribution

# A parameter-size token inside a tag or a repository name: 7b, 0.5B, 567m, 8x7b, e4b (not the 3b of a3b).
_SIZE = re.compile(r"(?<![a-z0-9.])(e\d+b|(?:\d+x)?\d+(?:\.\d+)?[bm])(?![a-z0-9])", re.IGNORECASE)
_MOE = re.compile(r"^(\d+)x(\d+(?:\.\d+)?)b$")
_PLAIN = re.compile(r"^(\d+(?:\.\d+)?)([bm])$")
_EFFECTIVE = re.compile(r"^e(\d+)b$")
_MODALITY_CAPS = {"embedding": "embedding", "code": "code", "vision": "vision", "audio": "audio"}


def size_token(text: str | None) -> str | None:
    """The first parameter-size token in a tag or a name: '8b-instruct-q4_K_M' -> '8b'."""
    if not text:
        return None
    found = _SIZE.search(text)
    return found.group(1).lower() if found else None


def parse_params(size: str | None) -> float | None:
    """Billions of parameters a size tag stands for: '7b' 7.0, '567m' 0.567, '8x7b' 56.0, 'e4b' 4.0.

    Mixture-of-experts and 'effective' sizes are better read from the variant's ``per_size.params``;
    :func:`variant_params` does that first."""
    if not size:
        return None
    size = size.lower()
    if m := _MOE.match(size):
        return int(m.group(1)) * float(m.group(2))
    if m := _EFFECTIVE.match(size):
        return float(m.group(1))
    if m := _PLAIN.match(size):
        value = float(m.group(1))
        return value if m.group(2) == "b" else value / 1000
    return None


def variant_params(variant: Variant | None, size: str | None) -> float | None:
    if variant is not None and size and (info := variant.per_size.get(size)) and info.params:
        return info.params
    return parse_params(size)


def variant_capabilities(
    family: Family, variant: Variant | None, size: str | None
) -> frozenset[str]:
    if variant is None:
        caps: set[str] = set(family.capabilities)
        caps.update(cap for mod, cap in _MODALITY_CAPS.items() if mod in family.modality)
        return frozenset(caps)
    info = variant.per_size.get(size) if size else None
    if info is not None and info.capabilities is not None:
        return frozenset(info.capabilities)
    return frozenset({*variant.capabilities, *family.capabilities})


def variant_context(family: Family, variant: Variant | None, size: str | None) -> int | None:
    if variant is not None:
        info = variant.per_size.get(size) if size else None
        if info is not None and info.context_length:
            return info.context_length
        if variant.context_length:
            return variant.context_length
    return family.context_length


def variant_purpose(family: Family, variant: Variant | None) -> str:
    if variant is not None:
        return variant.purpose
    if "embedding" in family.modality:
        return "embedding"
    if "code" in family.modality:
        return "code"
    return "general"


def variant_name(variant: Variant, size: str | None) -> str:
    if variant.ollama:
        return f"{variant.ollama}:{size}" if size else variant.ollama
    return variant.hf or ""


@dataclass(frozen=True)
class Profile:
    """A model name resolved to what the alternatives engine compares."""

    name: str
    family: str
    variant: Variant | None
    size: str | None
    params: float | None
    capabilities: frozenset[str]
    purpose: str
    context_length: int | None
    released: str
    attribution: Attribution


def profile_for(name: str, catalog: Catalog | None = None) -> Profile | None:
    """Resolve ``name`` through the attribution engine; None when no catalog family matches."""
    catalog = catalog or default_catalog()
    att = attribute_name(name)
    if att.family is None or att.family not in catalog.families:
        return None
    family = catalog.families[att.family]
    ref = parse_name(name)
    variant = _pick_variant(family, ref.model, ref.kind)
    tag = ref.tag if ref.kind in ("library", "repo") else None
    size = size_token(tag) or (None if ref.kind == "library" else size_token(ref.model))
    if size is None and variant is not None:
        size = variant.default or (variant.sizes[0] if len(variant.sizes) == 1 else None)
    if variant is not None and size and size not in variant.sizes:
        better = next((v for v in family.variants if size in v.sizes), None)
        variant = better or variant
    return Profile(
        name=name,
        family=family.id,
        variant=variant,
        size=size,
        params=variant_params(variant, size),
        capabilities=variant_capabilities(family, variant, size),
        purpose=variant_purpose(family, variant),
        context_length=variant_context(family, variant, size),
        released=family.first_release,
        attribution=att,
    )


def _pick_variant(family: Family, model: str, kind: str) -> Variant | None:
    if not family.variants:
        return None
    low = model.lower()
    if kind == "library":
        for variant in family.variants:
            if variant.ollama and variant.ollama.lower() == low:
                return variant
    # a community upload or repository name: the longest library name it starts with, else the first
    named = [v for v in family.variants if v.ollama and low.startswith(v.ollama.lower())]
    if named:
        return max(named, key=lambda v: len(v.ollama or ""))
    return family.variants[0]
