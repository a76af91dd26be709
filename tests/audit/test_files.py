"""Model files: each format is read by its header (or opcodes), never loaded or executed."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from aicensus.assess.finding import Severity
from aicensus.audit import analyse_file, scan_template
from aicensus.audit.formats import HeaderError, outside_folder, read_safetensors_header
from aicensus.audit.gguf_header import GGUFHeaderError, read_gguf_header
from aicensus.audit.pickles import scan_pickle_file
from aicensus.audit.stores import Candidate
from tests.support import audit_builders as builders


def _analyse(path: Path, **kw: object):
    model = analyse_file(Candidate(path=path, name=path.name, store="path"), **kw)  # type: ignore[arg-type]
    assert model is not None, f"{path} not recognised as a model file"
    return model


def _ids(model) -> dict[str, Severity]:
    return {f.id: f.severity for f in model.findings}


# --------------------------------------------------------------------------- GGUF


def test_real_smollm2_gguf_header(smollm2: Path) -> None:
    header = read_gguf_header(smollm2)
    assert header.metadata["general.architecture"] == "llama"
    assert header.metadata["general.organization"] == "HuggingFaceTB"
    assert header.file_type() == "Q4_1"
    assert 130_000_000 < header.parameter_count < 140_000_000
    assert header.skipped["tokenizer.ggml.tokens"] == 49152  # skipped, not decoded
    assert "tokenizer.chat_template" in header.metadata


def test_real_smollm2_is_attributed_and_clean(smollm2: Path) -> None:
    model = _analyse(smollm2)
    assert model.format == "gguf"
    assert (model.attribution.developer, model.attribution.country) == ("Hugging Face", "US")
    assert model.attribution.licence == "Apache-2.0"
    assert model.quantization == "Q4_1" and model.parameter_size == "135M"
    assert model.gguf is not None and model.gguf.chat_templates["default"].length > 100
    assert model.sha256 == builders.sha256_of(smollm2) and model.sha256_source == "computed"
    assert not [f for f in model.findings if f.severity.rank >= Severity.LOW.rank]


def test_written_gguf_is_attributed_from_its_metadata(tmp_path: Path) -> None:
    path = builders.write_gguf(tmp_path / "x.gguf")
    model = _analyse(path)
    att = model.attribution
    assert (att.developer, att.country, att.licence) == ("Alibaba", "CN", "Apache-2.0")
    assert model.architecture == "qwen2" and model.quantization == "F32"
    assert model.context_length == 4096
    assert not model.findings


def test_template_escaping_the_jinja_sandbox_is_critical(tmp_path: Path) -> None:
    path = builders.write_gguf(tmp_path / "assistant.gguf", template=builders.EVIL_TEMPLATE)
    model = _analyse(path)
    (finding,) = [f for f in model.findings if f.id == "AIC-TEMPLATE-CODE-EXEC"]
    assert finding.severity == Severity.CRITICAL
    text = " ".join(finding.evidence)
    assert "__globals__" in text and "popen" in text
    assert "never rendered" in text
    assert finding.subject == str(path)


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
        "{% set a = '__glo' ~ 'bals__' %}{{ lipsum|attr(a) }}",
        "{{ self._TemplateReference__context.cycler }}",
        "{{ ['__cla', 'ss__']|join }}",
    ],
)
def test_template_obfuscations_are_seen(template: str) -> None:
    assert scan_template(template)


@pytest.mark.parametrize(
    "template",
    [
        builders.BENIGN_TEMPLATE,
        "Plain text mentioning __class__ and popen outside any code block {{ messages }}",
        "{% for m in messages %}{% set ns = namespace(found=false) %}{{ m.content }}{% endfor %}",
    ],
)
def test_benign_templates_are_not_flagged(template: str) -> None:
    assert scan_template(template) == []


def test_hostile_gguf_counts_are_refused_without_walking(tmp_path: Path) -> None:
    path = tmp_path / "hostile.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 2**40, 2**40) + b"\x00" * 64)
    with pytest.raises(GGUFHeaderError, match="implausible"):
        read_gguf_header(path)
    model = _analyse(path)
    assert model.error and "implausible" in model.error


def test_gguf_array_running_past_the_end_is_an_error(tmp_path: Path) -> None:
    key = b"tokenizer.ggml.tokens"
    body = struct.pack("<Q", len(key)) + key + struct.pack("<I", 9)  # ARRAY
    body += struct.pack("<IQ", 8, 2**50)  # of 2**50 strings
    path = tmp_path / "array.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + body + b"\x00" * 32)
    with pytest.raises(GGUFHeaderError):
        read_gguf_header(path)


def test_truncated_gguf_reports_an_error(tmp_path: Path, smollm2: Path) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(smollm2.read_bytes()[:100_000])  # cut inside the vocabulary
    model = _analyse(path)
    assert model.error


# --------------------------------------------------------------------------- pickles


def test_pickle_calling_os_system_is_critical_and_never_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pkl"
    path.write_bytes(builders.evil_pickle_bytes(f"touch {marker}".encode()))
    model = _analyse(path)
    (finding,) = [f for f in model.findings if f.id == "AIC-FILE-PICKLE-CODE-EXEC"]
    assert finding.severity == Severity.CRITICAL
    assert "os.system" in finding.title
    assert model.pickle is not None and model.pickle.analyser == "picklescan"
    assert model.pickle.dangerous == ["os.system"]
    assert not marker.exists(), "the pickle was executed"


def test_torch_zip_checkpoint_with_malicious_data_pkl(tmp_path: Path) -> None:
    model = _analyse(builders.write_evil_torch_zip(tmp_path / "pytorch_model.bin"))
    assert model.format == "pytorch"
    assert _ids(model)["AIC-FILE-PICKLE-CODE-EXEC"] == Severity.CRITICAL


def test_benign_pickle_is_info_only(tmp_path: Path) -> None:
    path = tmp_path / "weights.pkl"
    path.write_bytes(builders.benign_pickle_bytes())
    model = _analyse(path)
    assert model.pickle is not None and not model.pickle.dangerous
    assert _ids(model)["AIC-FILE-PICKLE-FORMAT"] == Severity.INFO
    assert "AIC-FILE-PICKLE-CODE-EXEC" not in _ids(model)


def test_pickle_analysis_is_capped(tmp_path: Path) -> None:
    path = builders.write_evil_pickle(tmp_path / "big.pkl")
    scan = scan_pickle_file(path, max_bytes=8)
    assert not scan.complete and "first 8 bytes" in (scan.error or "")


def test_bin_file_that_is_not_a_model_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "firmware.bin"
    path.write_bytes(b"\x7fELF" + b"\x00" * 100)
    assert analyse_file(Candidate(path=path, name=path.name, store="path")) is None


# --------------------------------------------------------------------------- other formats


def test_safetensors_header_only(tmp_path: Path) -> None:
    path = builders.write_safetensors(tmp_path / "model.safetensors", {"format": "pt"})
    header = read_safetensors_header(path)
    assert header.tensor_count == 2 and header.parameter_count == 40
    model = _analyse(path)
    assert model.format == "safetensors" and model.metadata["format"] == "pt"
    assert not [f for f in model.findings if f.severity.rank >= Severity.MEDIUM.rank]


def test_safetensors_with_a_lying_header_length(tmp_path: Path) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 2**40) + b"{}")
    with pytest.raises(HeaderError):
        read_safetensors_header(path)
    assert _analyse(path).error


def test_keras_lambda_layer_is_critical(tmp_path: Path) -> None:
    model = _analyse(builders.write_keras_lambda(tmp_path / "classifier.keras"))
    (finding,) = [f for f in model.findings if f.id == "AIC-FILE-KERAS-LAMBDA"]
    assert finding.severity == Severity.CRITICAL
    assert "exfiltrate" in " ".join(finding.evidence)
    assert model.metadata["keras_version"] == "3.3.3"


def test_onnx_external_data_outside_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "onnx"
    folder.mkdir()
    path = builders.write_onnx(
        folder / "m.onnx", ["weights.bin", "../../etc/passwd", "/etc/shadow"]
    )
    model = _analyse(path)
    (finding,) = [f for f in model.findings if f.id == "AIC-FILE-ONNX-EXTERNAL-PATH"]
    assert finding.severity == Severity.HIGH
    text = " ".join(finding.evidence)
    assert "../../etc/passwd" in text and "/etc/shadow" in text and "weights.bin" not in text
    assert model.metadata["producer_name"] == "aicensus-test"
    assert model.parameter_count == 4 * 8 + 3 * 16


def test_onnx_local_external_data_is_fine(tmp_path: Path) -> None:
    model = _analyse(builders.write_onnx(tmp_path / "m.onnx", ["m.onnx.data", "sub/w.bin"]))
    assert "AIC-FILE-ONNX-EXTERNAL-PATH" not in _ids(model)
    assert outside_folder(tmp_path / "m.onnx", "sub/../../x") is not None


# --------------------------------------------------------------------------- provenance, hashes


@pytest.mark.parametrize(
    ("licence", "finding", "severity"),
    [
        ("GPL-3.0", "AIC-FILE-LICENCE-COPYLEFT", Severity.LOW),  # copyleft, never permissive
        ("GNU Affero General Public License v3.0", "AIC-FILE-LICENCE-COPYLEFT", Severity.LOW),
        ("cc-by-nc-4.0", "AIC-FILE-LICENCE-NONCOMMERCIAL", Severity.MEDIUM),
        ("gemma", "AIC-FILE-LICENCE-RESTRICTED", Severity.LOW),
        ("Zork Public Licence", "AIC-FILE-LICENCE-UNRECOGNISED", Severity.LOW),
        (None, "AIC-FILE-LICENCE-UNKNOWN", Severity.INFO),
        ("MIT", None, None),
    ],
)
def test_licence_findings_follow_the_one_classification(
    tmp_path: Path, licence: str | None, finding: str | None, severity: Severity | None
) -> None:
    """A model file of unknown provenance: only its own licence text counts."""
    path = builders.write_gguf(tmp_path / "zork.gguf", name="Zork", organization="nobody",
                               basename="zork", size_label=None, licence=licence, arch="llama")  # fmt: skip
    model = _analyse(path)
    assert model.attribution.developer is None
    licences = {k: v for k, v in _ids(model).items() if k.startswith("AIC-FILE-LICENCE-")}
    assert licences == ({finding: severity} if finding else {})


def test_guardrail_removed_and_restricted_licence(tmp_path: Path) -> None:
    path = builders.write_gguf(
        tmp_path / "Llama-3.1-8B-Instruct-abliterated.gguf",
        name="Llama 3.1 8B Instruct Abliterated",
        organization="mlabonne",
        basename="Llama-3.1",
        size_label="8B",
        licence="llama3.1",
        arch="llama",
    )
    model = _analyse(path)
    ids = _ids(model)
    assert model.attribution.developer == "Meta"
    assert model.attribution.guardrails_removed
    assert ids["AIC-MODEL-GUARDRAILS-REMOVED"] == Severity.MEDIUM
    assert ids["AIC-FILE-LICENCE-RESTRICTED"] == Severity.LOW


def test_hashing_is_capped_and_forced_with_hash_all(tmp_path: Path) -> None:
    path = builders.write_gguf(tmp_path / "x.gguf")
    assert _analyse(path, hash_limit=10).sha256 is None
    forced = _analyse(path, hash_limit=10, hash_all=True)
    assert forced.sha256 == builders.sha256_of(path)


def test_blob_whose_content_does_not_match_its_name(tmp_path: Path) -> None:
    path = builders.write_gguf(tmp_path / "blob")
    cand = Candidate(
        path=path, name="x:latest", store="ollama", known_sha256="0" * 64, kind_hint="gguf"
    )
    model = analyse_file(cand)
    assert model is not None
    assert {f.id: f.severity for f in model.findings}["AIC-FILE-DIGEST-MISMATCH"] == Severity.HIGH
    unverified = analyse_file(cand, hash_limit=1)
    assert unverified is not None and unverified.sha256 == "0" * 64
    assert unverified.sha256_source == "file name"


def test_compressed_joblib_is_reported_as_not_analysed(tmp_path: Path) -> None:
    import zlib

    path = tmp_path / "model.joblib"
    path.write_bytes(zlib.compress(builders.evil_pickle_bytes()))
    model = _analyse(path)
    assert model.pickle is not None and not model.pickle.complete
    assert "zlib" in (model.pickle.error or "")
    assert _ids(model)["AIC-FILE-PICKLE-INCOMPLETE"] == Severity.MEDIUM
