"""One model file → a ModelFile: read it (`reading`), attribute it, check it (`checking`).

Files are read, never executed and never loaded whole (see `reading`). Hashes are computed
only for files up to `hash_limit` bytes (or every file with `hash_all`); Ollama and Hugging
Face blobs are named by their sha256, which is used as it is unless hashing verifies it. A
file that cannot be read is reported with its `error`, never dropped and never a traceback.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import msgspec

from aicensus.attribute import attribute_gguf, attribute_name
from aicensus.audit import formats
from aicensus.audit.checking import check_file
from aicensus.audit.gguf_header import GGUFHeaderError
from aicensus.audit.limits import LimitExceeded
from aicensus.audit.reading import (
    READERS,
    TORCH_SUFFIXES,
    FileFacts,
    detect_format,
    hash_file,
)
from aicensus.audit.records import ModelFile
from aicensus.audit.stores import Candidate
from aicensus.enumerate.base import quant_from_name
from aicensus.records import Attribution

DEFAULT_HASH_LIMIT = 256 * 1024 * 1024


def _better(a: Attribution | None, b: Attribution) -> Attribution:
    if a is None:
        return b
    rank = {"attributed": 2, "ambiguous": 1}
    if (rank.get(b.status, 0), b.confidence) > (rank.get(a.status, 0), a.confidence):
        return b
    return a


def _names(cand: Candidate) -> list[str]:
    """Names to attribute by, most specific first: the repo, the store's names, then the
    folders the file sits in (a downloaded repo is usually a folder named after the model)."""
    names = [cand.repo, cand.name, *cand.aliases]
    if cand.store != "ollama":
        parts = PurePosixPath(cand.name.replace("\\", "/")).parts
        if len(parts) >= 3:
            names.append("/".join(parts[-3:-1]))
        if len(parts) >= 2:
            names.append(parts[-2])
        names.append(cand.path.name)
    return [n for n in dict.fromkeys(names) if n]


def attribute_file(
    model: ModelFile, cand: Candidate, gguf_metadata: dict[str, object] | None
) -> Attribution:
    """Provenance: GGUF metadata first, then the store's names (Ollama tag, HF repo, file)."""
    best: Attribution | None = None
    if gguf_metadata is not None:
        filename = cand.path.name if cand.path.suffix.lower() == ".gguf" else None
        best = attribute_gguf(gguf_metadata, filename)
    if best is not None and best.status == "attributed":
        return best
    for name in _names(cand):
        best = _better(best, attribute_name(name))
        if best.status == "attributed" and best.confidence >= 0.9:
            break
    return best or Attribution()


def _read(model: ModelFile, cand: Candidate, facts: FileFacts) -> None:
    """Run the format's reader; whatever stops it becomes the file's `error`."""
    try:
        READERS[model.format](model, cand, facts)
    except LimitExceeded as exc:
        model.notes.append(str(exc)[:300])
    except (GGUFHeaderError, formats.HeaderError) as exc:
        model.error = str(exc)[:300]
    except OSError as exc:
        model.error = f"cannot read: {exc.strerror or exc}"[:300]
    except Exception as exc:  # a hostile file must not stop the audit: report it instead
        model.error = f"{type(exc).__name__}: {exc}"[:300]


def analyse_file(
    cand: Candidate,
    *,
    hash_all: bool = False,
    hash_limit: int = DEFAULT_HASH_LIMIT,
    notes: list[str] | None = None,
) -> ModelFile | None:
    """The ModelFile for a candidate, or None when the file is not a model (a PyTorch-named
    file that is none of the formats gets a line in `notes`: it was looked at, not read)."""
    suffix = None if cand.store == "ollama" else PurePosixPath(cand.name).suffix or None
    try:
        with open(cand.path, "rb"):
            pass
    except OSError as exc:
        if notes is not None:
            notes.append(f"{cand.path}: cannot be read ({exc.strerror or exc}): not audited"[:400])
        return None
    fmt = detect_format(cand.path, cand.kind_hint, suffix)
    if fmt is None:
        if notes is not None and (suffix or "").lower() in TORCH_SUFFIXES:
            notes.append(
                f"{cand.path}: not a pickle, zip or GGUF file: not audited as a model"[:400]
            )
        return None
    model = ModelFile(
        path=str(cand.path), name=cand.name, store=cand.store, store_path=cand.store_path,
        format=fmt, size_bytes=0, aliases=list(cand.aliases),
    )  # fmt: skip
    try:
        model.size_bytes = cand.path.stat().st_size
    except OSError as exc:
        model.error = f"cannot stat: {exc.strerror or exc}"
        return model
    facts = FileFacts()
    _read(model, cand, facts)
    if model.quantization is None and fmt == "gguf":
        model.quantization = quant_from_name(cand.path.name)
    if not model.licence_declared and cand.licence_hint:
        model.licence_declared = cand.licence_hint
    hash_file(model, cand, facts, hash_all=hash_all, hash_limit=hash_limit)
    model.attribution = attribute_file(model, cand, facts.gguf_metadata)
    model.findings = check_file(model, facts)
    return _encodable(model)


def _encodable(model: ModelFile) -> ModelFile:
    """The record itself, or — when something read from the file cannot be written out (an
    integer beyond 64 bits, say) — the record without what its reader found, and why. One
    hostile file must never cost the report of the others."""
    try:
        msgspec.json.encode(model)
        return model
    except (ValueError, TypeError, OverflowError) as exc:
        reason = f"{type(exc).__name__}: {exc}"[:200]
    bare = ModelFile(
        path=model.path, name=model.name, store=model.store, store_path=model.store_path,
        format=model.format, size_bytes=model.size_bytes, aliases=model.aliases,
        sha256=model.sha256, sha256_source=model.sha256_source,
        error=f"what the reader found cannot be reported ({reason})",
    )  # fmt: skip
    bare.findings = [f for f in model.findings if _finding_encodable(f)]
    return bare


def _finding_encodable(finding: object) -> bool:
    try:
        msgspec.json.encode(finding)
    except (ValueError, TypeError, OverflowError):
        return False
    return True
