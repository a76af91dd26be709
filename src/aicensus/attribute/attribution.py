"""The attribution API the pipeline and the CLI call. Pure functions; the catalog loads once.

Results for a name are cached (with the architecture, digest and licence that came with it), so a
scan that sees the same model on thousands of hosts pays for the match once.
"""

from __future__ import annotations

import functools

import msgspec

from aicensus.attribute.index import Index, default_index
from aicensus.attribute.match import Signals, match_name
from aicensus.attribute.names import parse_name, split_owner_prefix
from aicensus.attribute.result import CLOUD_NOTE, guardrail_signals, to_attribution
from aicensus.records import Attribution, ModelRecord

CACHE_SIZE = 65_536
REMOTE_NOTE = "remote: the server reports this model as hosted elsewhere, not loaded on this host"


def attribute_name(name: str) -> Attribution:
    """Attribute an Ollama name, a Hugging Face repo id or a GGUF file name to its developer."""
    return _copy(_cached(name, None, None, None))


def attribute_model(model: ModelRecord) -> Attribution:
    """Attribute one enumerated model, using its name and what the server reported about it."""
    result = _copy(
        _cached(model.name, _architecture(model), _digest(model.digest), model.licence_name)
    )
    if model.remote and CLOUD_NOTE not in result.evidence:
        result.evidence.append(REMOTE_NOTE)
    return result


def cache_clear() -> None:
    _cached.cache_clear()


def prepare() -> None:
    """Load the provenance index now, not on the first model attributed (a scan's forked
    workers then share the parent's copy)."""
    default_index()


@functools.lru_cache(maxsize=CACHE_SIZE)
def _cached(
    name: str, architecture: str | None, digest: str | None, licence: str | None
) -> Attribution:
    return attribute(
        default_index(), name, Signals(architecture=architecture, digest=digest), licence
    )


def attribute(idx: Index, name: str, sig: Signals, licence: str | None = None) -> Attribution:
    """Uncached attribution against a given index (tests use it with catalogs of their own)."""
    ref = parse_name(name)
    hit = match_name(idx, ref, sig) if ref.model else None
    owners = [ref.owner] if ref.owner else []
    prefixed = split_owner_prefix(ref.model, idx.known_owners)
    if prefixed:
        owners.append(prefixed[0])
    texts = [t for t in (ref.owner, ref.model, ref.tag) if t]
    guard = guardrail_signals(idx, texts, owners)
    return to_attribution(idx, hit, sig, guard=guard, cloud=ref.cloud, declared_licence=licence)


def _architecture(model: ModelRecord) -> str | None:
    if model.architecture:
        return model.architecture
    if model.family:
        return model.family
    idx = default_index()
    for fam in model.families:
        entry = idx.catalog.architectures.get(fam.lower())
        if not (entry and entry.projector):
            return fam
    return None


def _digest(digest: str | None) -> str | None:
    if not digest:
        return None
    return digest.lower().removeprefix("sha256:")[:64]


def _copy(result: Attribution) -> Attribution:
    base = msgspec.structs.replace(result.base) if result.base else None
    return msgspec.structs.replace(
        result, base=base, candidates=list(result.candidates), evidence=list(result.evidence)
    )
