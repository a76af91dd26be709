"""One model file → a ModelFile: format, header facts, provenance, hash and findings.

Files are read, never executed and never loaded whole: GGUF by its memory-mapped header,
safetensors by its JSON header, pickles by their opcodes (picklescan), Keras archives by their
config.json, ONNX by a seek-and-skip protobuf walk. Hashes are computed only for files up to
`hash_limit` bytes (or every file with `hash_all`); Ollama and Hugging Face blobs are named by
their sha256, which is used as it is unless hashing verifies it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from aicensus.assess.catalog import builtin_checks
from aicensus.assess.finding import Finding, Severity, sort_key
from aicensus.assess.schema import Check
from aicensus.attribute import attribute_gguf, attribute_name
from aicensus.audit import formats
from aicensus.audit.gguf_header import GGUFHeaderError, is_gguf, read_gguf_header
from aicensus.audit.pickles import ANALYSER, looks_like_pickle, scan_pickle_file
from aicensus.audit.records import GGUFInfo, ModelFile
from aicensus.audit.stores import Candidate
from aicensus.audit.template import scan_template, template_check
from aicensus.enumerate.base import human_params, quant_from_name
from aicensus.records import Attribution, TextDigest

DEFAULT_HASH_LIMIT = 256 * 1024 * 1024
_CHUNK = 1024 * 1024
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
TORCH_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
REF_PICKLE = "https://docs.python.org/3/library/pickle.html"
REF_SAFETENSORS = "https://huggingface.co/docs/safetensors"
REF_KERAS = "https://nvd.nist.gov/vuln/detail/CVE-2024-3660"
REF_ONNX = "https://nvd.nist.gov/vuln/detail/CVE-2024-27318"

_NONCOMMERCIAL = re.compile(r"(?i)\bnc\b|-nc-|non[- ]?commercial|research[- ]only|noncommercial")
_PERMISSIVE = re.compile(
    r"(?i)^\W*(apache|mit\b|bsd|isc\b|cc0|cc-by-4|cc-by-sa|cc-by-3|unlicense|mpl|"
    r"gpl|lgpl|agpl|artistic|zlib|wtfpl|openmdw|odc-by|pddl|bigcode-openrail-m\b)"
)
_NO_LICENCE = {"", "other", "unknown", "none", "n/a", "proprietary?"}


def licence_class(licence: str | None) -> str:
    """`permissive`, `noncommercial`, `restricted` (use policy, custom terms) or `unknown`."""
    text = (licence or "").strip()
    if text.lower() in _NO_LICENCE:
        return "unknown"
    if _NONCOMMERCIAL.search(text):
        return "noncommercial"
    if _PERMISSIVE.search(text):
        return "permissive"
    return "restricted"


def _check(check_id: str) -> Check:
    return next(c for c in builtin_checks() if c.id == check_id)


def _finding(
    model: ModelFile,
    id: str,
    severity: Severity,
    title: str,
    detail: str,
    remediation: str,
    evidence: list[str],
    *,
    owasp: list[str] | None = None,
    cwe: list[str] | None = None,
    references: list[str] | None = None,
    confidence: str = "confirmed",
) -> Finding:
    return Finding(
        id=id,
        severity=severity,
        title=title,
        detail=detail,
        remediation=remediation,
        kind="file",
        path=model.path,
        model=model.name,
        evidence=evidence,
        owasp=[f"{o}:2025" for o in (owasp or [])],
        cwe=cwe or [],
        references=references or [],
        confidence=confidence,
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _digest(text: str, full_length: int | None = None) -> TextDigest:
    return TextDigest(
        sha256=hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest(),
        length=full_length if full_length is not None else len(text),
        head=text[:200],
    )


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


def _gguf(model: ModelFile, cand: Candidate) -> dict[str, object]:
    header = read_gguf_header(cand.path)
    md = header.metadata
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
        chat_templates={
            name: _digest(text, header.string_lengths.get(_template_key(name)))
            for name, text in templates.items()
        },
    )
    model.gguf = info
    model.architecture = arch
    model.quantization = info.file_type
    model.parameter_count = header.parameter_count or None
    model.parameter_size = info.size_label or params_label(header.parameter_count)
    model.context_length = info.context_length
    model.licence_declared = info.licence
    for name, text in templates.items():
        _template_findings(model, name, text, header.string_lengths.get(_template_key(name)))
    return md


def _template_key(name: str) -> str:
    return "tokenizer.chat_template" if name == "default" else f"tokenizer.chat_template.{name}"


def _template_findings(model: ModelFile, name: str, text: str, full: int | None) -> None:
    hits = scan_template(text)
    if not hits:
        return
    check = template_check()
    label = "chat template" if name == "default" else f"chat template {name!r}"
    evidence = [f"{label} contains {h.label!r} at character {h.offset}: {h.snippet}" for h in hits]
    evidence.append(f"{label}: sha256 {_digest(text).sha256}, {full or len(text)} characters")
    evidence.append("analysed statically (the text, never rendered)")
    if full is not None and full > len(text):
        evidence.append(f"only the first {len(text)} of {full} characters were analysed")
    model.findings.append(
        _finding(
            model,
            check.id,
            check.severity,
            check.title,
            "The model file's Jinja chat template reaches Python internals (sandbox-escape "
            "gadgets such as __class__, __globals__, __subclasses__) or process execution. "
            "Runtimes that render it outside a sandbox run it as code on every request "
            "(CVE-2024-34359); a poisoned model file is a supply-chain compromise.",
            check.remediation,
            evidence,
            owasp=check.owasp,
            cwe=check.cwe,
            references=check.references,
        )
    )


def _safetensors(model: ModelFile, cand: Candidate) -> None:
    header = formats.read_safetensors_header(cand.path)
    model.parameter_count = header.parameter_count or None
    model.parameter_size = params_label(header.parameter_count)
    model.metadata = {k: v for k, v in header.metadata.items()}
    model.metadata["tensors"] = str(header.tensor_count)
    if header.dtypes:
        model.metadata["dtypes"] = ",".join(sorted(header.dtypes))
        model.quantization = header.dtypes.most_common(1)[0][0]
    model.licence_declared = header.metadata.get("license") or header.metadata.get("licence")


def _pickle(model: ModelFile, cand: Candidate) -> None:
    scan = scan_pickle_file(cand.path, torch=model.format == "pytorch")
    model.pickle = scan
    pickle_kind = "PyTorch checkpoint" if model.format == "pytorch" else "pickle"
    if scan.dangerous:
        model.findings.append(
            _finding(
                model,
                "AIC-FILE-PICKLE-CODE-EXEC",
                Severity.CRITICAL,
                f"Code execution on load: the {pickle_kind} imports "
                + ", ".join(scan.dangerous[:3]),
                f"Loading this file (torch.load with weights_only=False, pickle.load, joblib.load) "
                f"calls {', '.join(scan.dangerous[:5])}: it runs the attacker's code with the "
                "loader's privileges. Found by opcode analysis; the file was never unpickled.",
                "Do not load it. Delete it and its source; use safetensors (or GGUF) from a "
                "trusted publisher; load PyTorch files only with torch.load(weights_only=True).",
                [f"{ANALYSER}: dangerous import {d}" for d in scan.dangerous]
                + [f"{ANALYSER}: other import {s}" for s in scan.suspicious[:10]],
                owasp=["LLM03", "LLM04"],
                cwe=["CWE-502", "CWE-94"],
                references=[REF_PICKLE],
            )
        )
    elif scan.suspicious:
        model.findings.append(
            _finding(
                model,
                "AIC-FILE-PICKLE-IMPORTS",
                Severity.MEDIUM,
                f"The {pickle_kind} imports callables outside the usual tensor-rebuild set",
                "Loading it calls functions no ordinary checkpoint needs. They are not known to "
                "be dangerous, but a pickle runs whatever it imports.",
                "Check where the file came from before loading it; prefer safetensors, or "
                "torch.load(weights_only=True).",
                [f"{ANALYSER}: import {s}" for s in scan.suspicious[:20]],
                owasp=["LLM03"],
                cwe=["CWE-502"],
                references=[REF_PICKLE],
                confidence="likely",
            )
        )
    if not scan.complete:
        model.findings.append(
            _finding(
                model,
                "AIC-FILE-PICKLE-INCOMPLETE",
                Severity.MEDIUM,
                f"The {pickle_kind} could not be analysed completely",
                "Part of the file was not analysed, so imports beyond that point are unknown.",
                "Treat the file as untrusted: do not load it unless its source is trusted.",
                [scan.error or "analysis incomplete"],
                owasp=["LLM03"],
                cwe=["CWE-502"],
                confidence="unconfirmed",
            )
        )
    if not scan.dangerous:
        model.findings.append(
            _finding(
                model,
                "AIC-FILE-PICKLE-FORMAT",
                Severity.INFO,
                f"Pickle-based model format ({pickle_kind})",
                "Pickle files execute code when loaded; no dangerous import was found in this one.",
                "Prefer safetensors or GGUF, which hold data only.",
                [f"{ANALYSER}: {len(scan.innocuous)} routine imports, none dangerous"],
                owasp=["LLM03"],
                cwe=["CWE-502"],
                references=[REF_SAFETENSORS],
            )
        )


def _keras(model: ModelFile, cand: Candidate) -> None:
    if model.format == "keras":
        cfg = formats.read_keras_archive(cand.path)
        confidence = "confirmed"
    else:
        cfg = formats.scan_keras_h5(cand.path)
        confidence = "likely"
    model.metadata = {
        k: v
        for k, v in {
            "keras_version": cfg.keras_version,
            "model_class": cfg.model_class,
            "layers": str(cfg.layer_count) if cfg.layer_count else None,
        }.items()
        if v
    }
    if cfg.lambda_layers:
        model.findings.append(
            _finding(
                model,
                "AIC-FILE-KERAS-LAMBDA",
                Severity.CRITICAL,
                "Code execution on load: Keras Lambda layer with serialized Python code",
                "The model holds Lambda layers: marshalled Python bytecode that Keras runs when "
                "the model is loaded with safe_mode=False (and, before Keras 3.0, even with safe "
                "mode on: CVE-2024-3660).",
                "Do not load it unless you trust its author; rebuild the model without Lambda "
                "layers; keep safe_mode=True and Keras ≥ 3.9.",
                [f"Lambda layer {name!r} in {cfg.source}" for name in cfg.lambda_layers[:20]],
                owasp=["LLM03", "LLM04"],
                cwe=["CWE-502", "CWE-94"],
                references=[REF_KERAS],
                confidence=confidence,
            )
        )
    if cfg.dangerous_modules:
        model.findings.append(
            _finding(
                model,
                "AIC-FILE-KERAS-DANGEROUS-MODULE",
                Severity.CRITICAL,
                "Code execution on load: Keras config imports from a system module",
                "The model config names objects from modules such as os or subprocess; Keras "
                "imports and calls them while deserializing (CVE-2025-1550 class).",
                "Do not load it; keep Keras up to date and safe_mode=True.",
                [f"config object {m}" for m in cfg.dangerous_modules[:20]],
                owasp=["LLM03"],
                cwe=["CWE-502", "CWE-94"],
                references=["https://nvd.nist.gov/vuln/detail/CVE-2025-1550"],
                confidence=confidence,
            )
        )
    if cfg.custom_modules:
        model.findings.append(
            _finding(
                model,
                "AIC-FILE-KERAS-CUSTOM-OBJECT",
                Severity.LOW,
                "Keras model needs custom code from outside Keras",
                "Loading it imports the listed modules; their code runs on load.",
                "Load it only together with code you trust.",
                [f"config object {m}" for m in cfg.custom_modules[:20]],
                owasp=["LLM03"],
                confidence=confidence,
            )
        )


def _onnx(model: ModelFile, cand: Candidate) -> None:
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
    outside = []
    for location in dict.fromkeys(info.external_locations):
        target = formats.outside_folder(cand.path, location)
        if target is not None:
            outside.append(f"external data location {location!r} resolves to {target}")
    if outside:
        model.findings.append(
            _finding(
                model,
                "AIC-FILE-ONNX-EXTERNAL-PATH",
                Severity.HIGH,
                "ONNX external data points outside the model's folder",
                "Loading the model reads the files its tensors name; these locations leave the "
                "model's folder (absolute or ../ paths), so loading reads arbitrary files "
                "(CVE-2024-27318, CVE-2022-25882 class).",
                "Do not load it; external data must sit beside the model. Use onnx ≥ 1.16.",
                outside[:20],
                owasp=["LLM03"],
                cwe=["CWE-22"],
                references=[REF_ONNX],
            )
        )
    if info.truncated:
        model.error = "protobuf walk stopped at its field cap; later tensors not seen"


_READERS: dict[str, Callable[[ModelFile, Candidate], object]] = {
    "gguf": _gguf,
    "safetensors": _safetensors,
    "pickle": _pickle,
    "pytorch": _pickle,
    "keras": _keras,
    "keras-h5": _keras,
    "onnx": _onnx,
}


# --------------------------------------------------------------------------- provenance


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


def params_label(count: int | None) -> str | None:
    """135M, 7.6B — and 40, 12K for the tiny test models (human_params rounds those to 0M)."""
    if not count:
        return None
    if count >= 1_000_000:
        return human_params(count)
    return f"{count / 1000:.0f}K" if count >= 1000 else str(count)


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


def _provenance_findings(model: ModelFile) -> None:
    att = model.attribution
    licence = att.licence or model.licence_declared
    kind = licence_class(licence)
    if kind == "noncommercial":
        model.findings.append(
            _finding(
                model,
                "AIC-FILE-LICENCE-NONCOMMERCIAL",
                Severity.MEDIUM,
                "Model under a non-commercial or research-only licence",
                f"The licence ({licence}) forbids commercial use; using it in a product or "
                "service breaches it.",
                "Confirm the use is non-commercial, or replace it with a permissively licensed "
                "model.",
                [f"licence: {licence}"],
                owasp=["LLM03"],
            )
        )
    elif kind == "restricted":
        model.findings.append(
            _finding(
                model,
                "AIC-FILE-LICENCE-RESTRICTED",
                Severity.LOW,
                "Model under a licence with use restrictions",
                f"The licence ({licence}) is not a standard open-source licence: it carries an "
                "acceptable-use policy, user thresholds or attribution terms.",
                "Review the licence terms against your use.",
                [f"licence: {licence}"],
                owasp=["LLM03"],
            )
        )
    elif kind == "unknown":
        model.findings.append(
            _finding(
                model,
                "AIC-FILE-LICENCE-UNKNOWN",
                Severity.INFO,
                "No licence could be determined for this model",
                "Neither the file nor the provenance catalog names a licence.",
                "Find the model's source and its licence before using it.",
                ["no licence in the file's metadata or the catalog"],
                owasp=["LLM03"],
            )
        )
    if att.guardrails_removed:
        check = _check("AIC-MODEL-GUARDRAILS-REMOVED")
        model.findings.append(
            _finding(
                model,
                check.id,
                check.severity,
                "Guardrail-removed (abliterated or uncensored) model on disk",
                "The model is a derivative whose refusal behaviour was removed; it will comply "
                "with harmful requests.",
                check.remediation,
                [e for e in att.evidence if "guardrail" in e.lower()] or ["attribution"],
                owasp=check.owasp,
            )
        )
    if att.status == "unknown":
        model.findings.append(
            _finding(
                model,
                "AIC-FILE-PROVENANCE-UNKNOWN",
                Severity.INFO,
                "Model of unknown provenance",
                "No catalog family matches the file's metadata or names: who built it is unknown.",
                "Find where the file came from; keep only models from known publishers.",
                att.evidence[:5] or ["no catalog match"],
                owasp=["LLM03"],
            )
        )


# --------------------------------------------------------------------------- entry point


def analyse_file(
    cand: Candidate,
    *,
    hash_all: bool = False,
    hash_limit: int = DEFAULT_HASH_LIMIT,
) -> ModelFile | None:
    """The ModelFile for a candidate, or None when the file is not a model."""
    suffix = None if cand.store == "ollama" else PurePosixPath(cand.name).suffix or None
    fmt = detect_format(cand.path, cand.kind_hint, suffix)
    if fmt is None:
        return None
    try:
        size = cand.path.stat().st_size
    except OSError as exc:
        return ModelFile(
            path=str(cand.path), name=cand.name, store=cand.store, store_path=cand.store_path,
            format=fmt, size_bytes=0, aliases=cand.aliases,
            error=f"cannot stat: {exc.strerror or exc}",
        )  # fmt: skip
    model = ModelFile(
        path=str(cand.path),
        name=cand.name,
        store=cand.store,
        store_path=cand.store_path,
        format=fmt,
        size_bytes=size,
        aliases=list(cand.aliases),
    )
    gguf_metadata: dict[str, object] | None = None
    try:
        result = _READERS[fmt](model, cand)
        if fmt == "gguf":
            gguf_metadata = result  # type: ignore[assignment]
    except (GGUFHeaderError, formats.HeaderError) as exc:
        model.error = str(exc)[:300]
    except OSError as exc:
        model.error = f"cannot read: {exc.strerror or exc}"[:300]
    except Exception as exc:  # a hostile file must not stop the audit: report it instead
        model.error = f"{type(exc).__name__}: {exc}"[:300]
    if model.quantization is None and fmt == "gguf":
        model.quantization = quant_from_name(cand.path.name)
    if not model.licence_declared and cand.licence_hint:
        model.licence_declared = cand.licence_hint
    _hash(model, cand, hash_all=hash_all, hash_limit=hash_limit)
    model.attribution = attribute_file(model, cand, gguf_metadata)
    _provenance_findings(model)
    model.findings.sort(key=sort_key)
    return model


def _hash(model: ModelFile, cand: Candidate, *, hash_all: bool, hash_limit: int) -> None:
    if hash_all or model.size_bytes <= hash_limit:
        try:
            computed = sha256_file(cand.path)
        except OSError as exc:
            model.error = model.error or f"cannot hash: {exc.strerror or exc}"
            computed = None
        if computed is not None:
            model.sha256, model.sha256_source = computed, "computed"
            if cand.known_sha256 and cand.known_sha256 != computed:
                model.findings.append(
                    _finding(
                        model,
                        "AIC-FILE-DIGEST-MISMATCH",
                        Severity.HIGH,
                        "Blob content does not match its digest",
                        "The store names this blob by a sha256 its content does not have: it "
                        "was modified or corrupted after download.",
                        "Delete the blob and pull the model again from its source.",
                        [f"named sha256 {cand.known_sha256}", f"content sha256 {computed}"],
                        owasp=["LLM03", "LLM04"],
                        cwe=["CWE-345"],
                    )
                )
            return
    if cand.known_sha256:
        model.sha256, model.sha256_source = cand.known_sha256, "file name"
