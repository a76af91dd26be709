"""Hostile model files, written byte by byte: each attacks one limit of a reader.

They are crafted to cost an unbounded reader time or memory (issue 14): huge shapes,
hundreds of thousands of header entries, endless opcode runs. Nothing here is ever loaded;
the files are only read, as bytes, by the code under test.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

from tests.support.audit_builders import _varint, evil_pickle_bytes


def _gguf_string(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


def gguf_many_kv(path: Path, pairs: int = 400_000) -> Path:
    """A GGUF v3 header with `pairs` tiny key/value pairs (uint8 values), no tensors."""
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, pairs)
    body = b"".join(_gguf_string(b"k%07d" % i) + struct.pack("<IB", 0, 1) for i in range(pairs))
    path.write_bytes(head + body)
    return path


def gguf_many_short_arrays(path: Path, pairs: int = 4_000) -> Path:
    """A GGUF whose `pairs` keys each hold an array of 256 one-byte strings (the longest
    array a reader decodes): a million tiny strings in all."""
    item = _gguf_string(b"x")
    array = struct.pack("<IIQ", 9, 8, 256) + item * 256
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, pairs)
    body = b"".join(_gguf_string(b"a%06d" % i) + array for i in range(pairs))
    path.write_bytes(head + body)
    return path


def safetensors_huge_shape(path: Path) -> Path:
    """A 5 KB safetensors header whose tensor has 240 dimensions of 2**62 each."""
    header = {"t": {"dtype": "F32", "shape": [2**62] * 240, "data_offsets": [0, 0]}}
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    return path


def pickle_opcode_flood(path: Path, size: int = 20 * 1024 * 1024) -> Path:
    """A protocol-2 pickle of `size` bytes of NONE/POP pairs, then os.system: a reader that
    keeps every opcode needs gigabytes, one that stops at its opcode limit must say so."""
    body = b"N0" * (size // 2)
    path.write_bytes(b"\x80\x02" + body + evil_pickle_bytes()[2:])
    return path


def pickle_protocol0(path: Path, command: bytes = b"echo aicensus-test-pwned") -> Path:
    """A protocol-0 pickle (no PROTO opcode) calling os.system: torch.load without
    weights_only runs it from any .bin/.pt/.pth/.ckpt file."""
    path.write_bytes(b"cos\nsystem\n(S'" + command + b"'\ntR.")
    return path


def torch_legacy_protocol1(path: Path) -> Path:
    """A legacy (pre-zip) PyTorch file at protocol 1: the magic number, the protocol
    version, sys_info, then the model pickle — which calls posix.system."""
    magic = b"L119547037146038801333356L\n."  # 0x1950a86a20f9469cfc6c, as protocol 0/1 write it
    version = b"K\xe9."  # BININT1 1001
    sys_info = b"}q\x00."  # EMPTY_DICT, BINPUT 0
    model = b"cposix\nsystem\nq\x01(X\x02\x00\x00\x00idq\x02tq\x03Rq\x04."
    path.write_bytes(magic + version + sys_info + model + b"\x00" * 64)
    return path


def onnx_long_dims(path: Path, dims: int = 135_000) -> Path:
    """An ONNX model whose one initializer has `dims` packed dims of 2**40 (~540 KB)."""
    packed = b"".join(_varint(2**40) for _ in range(dims))
    tensor = b"\x0a" + _varint(len(packed)) + packed  # TensorProto.dims, packed
    graph = b"\x2a" + _varint(len(tensor)) + tensor  # GraphProto.initializer
    model = b"\x08\x08" + b"\x3a" + _varint(len(graph)) + graph  # ir_version 8, graph
    path.write_bytes(model)
    return path


def keras_huge_config(path: Path, layers: int = 120_000) -> Path:
    """A Keras archive whose config.json (~7 MB) is beyond the parse limit, with a Lambda
    layer at its end."""
    config = {
        "class_name": "Sequential",
        "config": {
            "layers": [{"class_name": "Dense", "config": {"name": f"d{i}"}} for i in range(layers)]
            + [{"class_name": "Lambda", "config": {"name": "payload"}}]
        },
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.3.3"}))
    return path


def gguf_many_tensors(path: Path, tensors: int = 16_384) -> Path:
    """A GGUF with `tensors` one-element F32 tensors: the most a reader walks."""
    head = b"GGUF" + struct.pack("<IQQ", 3, tensors, 0)
    infos = b"".join(
        _gguf_string(b"t%06d" % i) + struct.pack("<IQIQ", 1, 1, 0, 32 * i) for i in range(tensors)
    )
    pad = b"\x00" * (-(len(head) + len(infos)) % 32)
    path.write_bytes(head + infos + pad + b"\x00" * (32 * tensors))
    return path
