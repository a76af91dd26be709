"""Reading a model file: its format, its header facts, its hash — never its findings.

Files are read, never executed and never loaded whole: GGUF by its memory-mapped header,
safetensors by its JSON header, pickles by their opcodes (a bounded walk, picklescan's lists),
Keras archives by their config.json, ONNX by a seek-and-skip protobuf walk. Each reader fills the ModelFile's facts and
returns what the checks (`audit/checking.py`) need beyond them as `FileFacts`. Every reader
keeps the limits of `limits.py`; what a limit stopped is a line in the ModelFile's `notes`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aicensus.audit import formats
from aicensus.audit.gguf_header import is_gguf, read_gguf_header
from aicensus.audit.pickles import looks_like_pickle, scan_pickle_file
from aicensus.audit.records import GGUFInfo, ModelFile
from aicensus.audit.stores import Candidate
from aicensus.enumerate.base import human_params
from aicensus.records import TextDigest

_CHUNK = 1024 * 1024
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
TORCH_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")


@dataclass
class FileFacts:
    """What reading found that the ModelFile record does not keep, for the checks."""

    gguf_metadata: dict[str, object] | None = None
    templates: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # text, length
    keras: formats.KerasConfig | None = None
    keras_confidence: str = "confirmed"
    onnx_outside: list[str] = field(default_factory=list)  # external data leaving the folder
    named_sha256: str | None = None  # the digest a store names the blob by …
    computed_sha256: str | None = None  # … and the one its content has (when hashed)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def text_digest(text: str, full_length: int | None = None) -> TextDigest:
    return TextDigest(
        sha256=hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest(),
        length=full_length if full_length is not None else len(text),
        head=text[:200],
    )


def params_label(count: int | None) -> str | None:
    """135M, 7.6B — and 40, 12K for the tiny test models (human_params rounds those to 0M)."""
    if not count:
        return None
    if count >= 1_000_000:
        return human_params(count)
    return f"{count / 1000:.0f}K" if count >= 1000 else str(count)


def detect_format(path: Path, hint: str | None = None, suffix: str | None = None) -> str | None:
    """The model format of a file, from its magic bytes and suffix (None: not a model).

    `suffix` overrides the path's own (a Hugging Face blob has none; its snapshot name does)."""
    suffix = (suffix if suffix is not None else path.suffix).lower()
    if hint == "gguf" or suffix == ".gguf":
        return "gguf" if is_gguf(path) else None
    if suffix == ".safetensors":
        return "safetensors"
    if suffix == ".keras":
        return "keras"
    if suffix in (".h5", ".hdf5"):
        return "keras-h5" if formats.is_keras_h5(path) else None
    if suffix == ".onnx":
        return "onnx"
    if suffix in PICKLE_SUFFIXES:
        return "pickle"
    if suffix in TORCH_SUFFIXES:
        if is_gguf(path):
            return "gguf"
        return "pytorch" if looks_like_pickle(path) else None
    return "gguf" if is_gguf(path) else None


# --------------------------------------------------------------------------- per format


def template_key(name: str) -> str:
    return "tokenizer.chat_template" if name == "default" else f"tokenizer.chat_template.{name}"


def _gguf(model: ModelFile, cand: Candidate, facts: FileFacts) -> None:
    header = read_gguf_header(cand.path)
    bases = []
    for i in range(header.integer("general.base_model.count") or 0):
        key = f"general.base_model.{i}"
        label = header.text(f"{key}.repo_url") or "/".join(
            p for p in (header.text(f"{key}.organization"), header.text(f"{key}.name")) if p
        )
        if label:
            bases.append(label[:200])
    arch = header.text("general.architecture")
    templates = header.templates()
    lengths = {name: header.string_lengths.get(template_key(name)) for name in templates}
    info = GGUFInfo(
        version=header.version,
        architecture=arch,
        name=header.text("general.name"),
        basename=header.text("general.basename"),
        organization=header.text("general.organization"),
        finetune=header.text("general.finetune"),
        size_label=header.text("general.size_label"),
        licence=header.text("general.license.name") or header.text("general.license"),
        base_models=bases[:16],
        repo_url=header.text("general.source.repo_url") or header.text("general.url"),
        file_type=header.file_type(),
        context_length=header.integer(f"{arch}.context_length") if arch else None,
        tensor_count=header.tensor_count,
        chat_templates={name: text_digest(text, lengths[name]) for name, text in templates.items()},
    )
    model.gguf = info
    model.architecture = arch
    model.quantization = info.file_type
    model.parameter_count = header.parameter_count or None
    model.parameter_size = info.size_label or params_label(header.parameter_count)
    model.context_length = info.context_length
    model.licence_declared = info.licence
    facts.gguf_metadata = header.metadata
    model.notes += header.notes
    facts.templates = {name: (text, lengths[name]) for name, text in templates.items()}


def _safetensors(model: ModelFile, cand: Candidate, facts: FileFacts) -> None:
    header = formats.read_safetensors_header(cand.path)
    model.parameter_count = header.parameter_count or None
    model.parameter_size = params_label(header.parameter_count)
    model.metadata = dict(header.metadata)
    model.metadata["tensors"] = str(header.tensor_count)
    if header.dtypes:
        model.metadata["dtypes"] = ",".join(sorted(header.dtypes))
        model.quantization = header.dtypes.most_common(1)[0][0]
    model.licence_declared = header.metadata.get("license") or header.metadata.get("licence")
    model.notes += header.notes


def _pickle(model: ModelFile, cand: Candidate, facts: FileFacts) -> None:
    model.pickle = scan_pickle_file(cand.path, torch=model.format == "pytorch", notes=model.notes)


def _keras(model: ModelFile, cand: Candidate, facts: FileFacts) -> None:
    if model.format == "keras":
        cfg = formats.read_keras_archive(cand.path)
    else:  # an HDF5 file is scanned for its config, not parsed: less certain
        cfg = formats.scan_keras_h5(cand.path)
        facts.keras_confidence = "likely"
    facts.keras = cfg
    model.notes += cfg.notes
    model.metadata = {
        k: v
        for k, v in {
            "keras_version": cfg.keras_version,
            "model_class": cfg.model_class,
            "layers": str(cfg.layer_count) if cfg.layer_count else None,
        }.items()
        if v
    }


def _onnx(model: ModelFile, cand: Candidate, facts: FileFacts) -> None:
    info = formats.read_onnx(cand.path)
    model.parameter_count = info.parameter_count or None
    model.parameter_size = params_label(info.parameter_count)
    meta = {k: v for k, v in info.facts.items() if v}
    if info.ir_version is not None:
        meta["ir_version"] = str(info.ir_version)
    meta.update({f"opset.{k}": str(v) for k, v in list(info.opsets.items())[:8]})
    meta.update({f"meta.{k}"[:128]: v[:512] for k, v in list(info.metadata.items())[:32]})
    if info.external_locations:
        meta["external_data_files"] = str(len(set(info.external_locations)))
    model.metadata = meta
    model.licence_declared = info.metadata.get("license") or info.metadata.get("licence")
    for location in dict.fromkeys(info.external_locations):
        target = formats.outside_folder(cand.path, location)
        if target is not None:
            facts.onnx_outside.append(f"external data location {location!r} resolves to {target}")
    model.notes += info.notes


READERS: dict[str, Callable[[ModelFile, Candidate, FileFacts], None]] = {
    "gguf": _gguf,
    "safetensors": _safetensors,
    "pickle": _pickle,
    "pytorch": _pickle,
    "keras": _keras,
    "keras-h5": _keras,
    "onnx": _onnx,
}


def hash_file(
    model: ModelFile, cand: Candidate, facts: FileFacts, *, hash_all: bool, hash_limit: int
) -> None:
    """The file's sha256: computed up to `hash_limit` bytes (or always with `hash_all`),
    otherwise the digest an Ollama or Hugging Face blob is named by."""
    facts.named_sha256 = cand.known_sha256
    if hash_all or model.size_bytes <= hash_limit:
        try:
            computed = sha256_file(cand.path)
        except OSError as exc:
            model.error = model.error or f"cannot hash: {exc.strerror or exc}"
        else:
            model.sha256, model.sha256_source = computed, "computed"
            facts.computed_sha256 = computed
            return
    if cand.known_sha256:
        model.sha256, model.sha256_source = cand.known_sha256, "file name"
