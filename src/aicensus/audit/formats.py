"""Header readers for safetensors, Keras and ONNX files: bounded reads, nothing executed.

* safetensors: an 8-byte little-endian length, then that many bytes of JSON (tensor table and
  `__metadata__`); the tensors themselves are never read.
* Keras v3 (`.keras`): a zip archive; only `config.json` and `metadata.json` are read, and the
  layer graph is searched for `Lambda` layers (serialized Python bytecode, run on load when
  `safe_mode` is off, and on Keras before 3.0 even when it is on) and for objects deserialized
  from non-Keras modules. Legacy HDF5 (`.h5`) files are searched, bytewise, for the same
  markers in their first `MAX_H5_SCAN` bytes (no HDF5 library is needed or used).
* ONNX: the protobuf is walked field by field with seeks, so inline weights are skipped, not
  read; the walk collects producer facts, the parameter count and every external-data
  location, which `outside_folder` checks for paths that leave the model's folder.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aicensus.errors import HeaderError

MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024  # the format's own limit
MAX_KERAS_CONFIG = 64 * 1024 * 1024
MAX_H5_SCAN = 64 * 1024 * 1024
MAX_ONNX_FIELDS = 5_000_000
MAX_ONNX_DEPTH = 16
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


# --------------------------------------------------------------------------- safetensors


@dataclass
class SafetensorsHeader:
    metadata: dict[str, str]
    tensor_count: int
    parameter_count: int
    dtypes: Counter[str] = field(default_factory=Counter)


def read_safetensors_header(
    path: str | Path, *, max_header: int = MAX_SAFETENSORS_HEADER
) -> SafetensorsHeader:
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        prefix = fh.read(8)
        if len(prefix) < 8:
            raise HeaderError("shorter than the 8-byte header length")
        (length,) = struct.unpack("<Q", prefix)
        if length > max_header or length > size - 8:
            raise HeaderError(f"header length {length} exceeds the cap or the file size")
        raw = fh.read(length)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HeaderError(f"header is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise HeaderError("header is not a JSON object")
    data_size = size - 8 - length
    metadata: dict[str, str] = {}
    params, count = 0, 0
    dtypes: Counter[str] = Counter()
    for key, entry in doc.items():
        if key == "__metadata__":
            if isinstance(entry, dict):
                metadata = {str(k)[:256]: str(v)[:4096] for k, v in list(entry.items())[:256]}
            continue
        if not isinstance(entry, dict):
            raise HeaderError(f"tensor {key[:80]!r} has no description")
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise HeaderError(f"tensor {key[:80]!r} has a malformed shape")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= data_size
        ):
            raise HeaderError(f"tensor {key[:80]!r} points outside the file")
        count += 1
        params += math.prod(shape)
        dtypes[str(entry.get("dtype"))] += 1
    return SafetensorsHeader(metadata, count, params, dtypes)


# --------------------------------------------------------------------------- Keras

# Modules whose functions must never be called by a model loader.
DANGEROUS_MODULES = (
    "os", "posix", "nt", "subprocess", "builtins", "__builtin__", "sys", "shutil", "socket",
    "runpy", "importlib", "pickle", "marshal", "code", "ctypes", "requests", "urllib", "pty",
    "webbrowser", "http", "multiprocessing",
)  # fmt: skip
KERAS_MODULES = ("keras", "tf_keras", "tensorflow", "keras_nlp", "keras_hub", "keras_cv")


@dataclass
class KerasConfig:
    keras_version: str | None = None
    model_class: str | None = None
    lambda_layers: list[str] = field(default_factory=list)
    dangerous_modules: list[str] = field(default_factory=list)  # "module.name"
    custom_modules: list[str] = field(default_factory=list)
    layer_count: int = 0
    source: str = "config.json"


def _module_kind(module: str) -> str:
    top = module.split(".", 1)[0]
    if top in DANGEROUS_MODULES:
        return "dangerous"
    if top in KERAS_MODULES:
        return "keras"
    return "custom"


def _walk_keras(node: object, out: KerasConfig, depth: int = 0) -> None:
    if depth > 200:
        return
    if isinstance(node, list):
        for item in node:
            _walk_keras(item, out, depth + 1)
        return
    if not isinstance(node, dict):
        return
    cls = node.get("class_name")
    config = node.get("config")
    if isinstance(cls, str):
        if isinstance(config, dict) and ("name" in config or "layers" in config):
            out.layer_count += 1
        if cls == "Lambda":
            name = config.get("name") if isinstance(config, dict) else None
            out.lambda_layers.append(str(name or f"lambda #{len(out.lambda_layers) + 1}")[:128])
        module = node.get("module")
        if isinstance(module, str) and module:
            ref = f"{module}.{node.get('registered_name') or cls}"[:200]
            kind = _module_kind(module)
            if kind == "dangerous" and ref not in out.dangerous_modules:
                out.dangerous_modules.append(ref)
            elif kind == "custom" and ref not in out.custom_modules:
                out.custom_modules.append(ref)
    for value in node.values():
        if isinstance(value, dict | list):
            _walk_keras(value, out, depth + 1)


def _read_member(zf: zipfile.ZipFile, name: str, cap: int) -> bytes | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > cap:
        raise HeaderError(f"{name} is {info.file_size} bytes (cap {cap})")
    with zf.open(info) as fh:
        return fh.read(cap + 1)[:cap]


def read_keras_archive(path: str | Path, *, cap: int = MAX_KERAS_CONFIG) -> KerasConfig:
    out = KerasConfig()
    try:
        with zipfile.ZipFile(path) as zf:
            raw = _read_member(zf, "config.json", cap)
            meta = _read_member(zf, "metadata.json", 1024 * 1024)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise HeaderError(f"not a readable zip archive ({exc})") from None
    if raw is None:
        raise HeaderError("the archive has no config.json")
    try:
        config = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise HeaderError(f"config.json is not JSON ({exc})") from None
    if meta:
        try:
            doc = json.loads(meta.decode("utf-8"))
            if isinstance(doc, dict) and isinstance(doc.get("keras_version"), str):
                out.keras_version = doc["keras_version"][:40]
        except (UnicodeDecodeError, ValueError, RecursionError):
            pass
    if isinstance(config, dict) and isinstance(config.get("class_name"), str):
        out.model_class = config["class_name"][:80]
    _walk_keras(config, out)
    return out


def is_keras_h5(path: str | Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024 * 1024)
    except OSError:
        return False
    return head.startswith(HDF5_MAGIC) and (b"model_config" in head or b"keras_version" in head)


def scan_keras_h5(path: str | Path, *, cap: int = MAX_H5_SCAN) -> KerasConfig:
    """Bytewise search of a legacy HDF5 Keras file's first `cap` bytes for its model config."""
    out = KerasConfig(source=f"HDF5 bytes (first {cap} searched)")
    with open(path, "rb") as fh:
        data = fh.read(cap)
    start = data.find(b'{"class_name"')
    while start != -1:
        try:
            doc, _end = json.JSONDecoder().raw_decode(data[start:].decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            start = data.find(b'{"class_name"', start + 1)
            continue
        _walk_keras(doc, out)
        break
    for marker in (b'"class_name": "Lambda"', b'"class_name":"Lambda"'):
        if marker in data and not out.lambda_layers:
            out.lambda_layers.append("Lambda (marker in the HDF5 attributes)")
    return out


# --------------------------------------------------------------------------- ONNX

# ModelProto / GraphProto / NodeProto / AttributeProto / TensorProto field numbers (onnx.proto).
_MODEL_STRINGS = {2: "producer_name", 3: "producer_version", 4: "domain"}
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


@dataclass
class OnnxInfo:
    ir_version: int | None = None
    facts: dict[str, str] = field(default_factory=dict)
    opsets: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    initializers: int = 0
    parameter_count: int = 0
    external_locations: list[str] = field(default_factory=list)
    truncated: bool = False


class _Wire:
    """Protobuf wire-format reader over a seekable file: reads tags and lengths, seeks past
    everything it does not need."""

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self.fh = fh
        self.size = size
        self.fields = 0

    def varint(self) -> int:
        shift, value = 0, 0
        while True:
            b = self.fh.read(1)
            if not b:
                raise HeaderError("protobuf truncated inside a varint")
            value |= (b[0] & 0x7F) << shift
            if not b[0] & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise HeaderError("protobuf varint too long")

    def fields_in(self, end: int) -> Iterator[tuple[int, int, Any]]:
        while self.fh.tell() < end:
            self.fields += 1
            if self.fields > MAX_ONNX_FIELDS:
                raise OverflowError
            tag = self.varint()
            number, wire = tag >> 3, tag & 7
            if wire == _VARINT:
                yield number, wire, self.varint()
            elif wire == _LEN:
                length = self.varint()
                start = self.fh.tell()
                if start + length > end:
                    raise HeaderError("protobuf field runs past its message")
                yield number, wire, (start, length)
                self.fh.seek(start + length)
            elif wire == _I64:
                self.fh.seek(8, os.SEEK_CUR)
                yield number, wire, None
            elif wire == _I32:
                self.fh.seek(4, os.SEEK_CUR)
                yield number, wire, None
            else:
                raise HeaderError(f"unsupported protobuf wire type {wire}")

    def string(self, span: tuple[int, int], cap: int = 4096) -> str:
        start, length = span
        here = self.fh.tell()
        self.fh.seek(start)
        data = self.fh.read(min(length, cap))
        self.fh.seek(here)
        return data.decode("utf-8", errors="replace")

    def pair(self, span: tuple[int, int]) -> tuple[str, str]:
        key = value = ""
        here = self.fh.tell()
        self.fh.seek(span[0])
        for number, wire, val in self.fields_in(span[0] + span[1]):
            if wire == _LEN and number == 1:
                key = self.string(val, 256)  # type: ignore[arg-type]
            elif wire == _LEN and number == 2:
                value = self.string(val)  # type: ignore[arg-type]
        self.fh.seek(here)
        return key, value


def _packed_or_single(wire: _Wire, number_wire: int, val: Any) -> list[int]:
    if number_wire == _VARINT:
        return [int(val)]  # type: ignore[call-overload]
    start, length = val  # type: ignore[misc]
    here = wire.fh.tell()
    wire.fh.seek(start)
    out = []
    while wire.fh.tell() < start + length:
        out.append(wire.varint())
    wire.fh.seek(here)
    return out


def _tensor(wire: _Wire, span: tuple[int, int], info: OnnxInfo) -> None:
    here = wire.fh.tell()
    wire.fh.seek(span[0])
    dims: list[int] = []
    for number, kind, val in wire.fields_in(span[0] + span[1]):
        if number == 1 and kind in (_VARINT, _LEN):
            dims += _packed_or_single(wire, kind, val)
        elif number == 13 and kind == _LEN:
            key, value = wire.pair(val)  # type: ignore[arg-type]
            if key == "location":
                info.external_locations.append(value)
    wire.fh.seek(here)
    info.initializers += 1
    if all(d >= 0 for d in dims):
        info.parameter_count += math.prod(dims)


def _graph(wire: _Wire, span: tuple[int, int], info: OnnxInfo, depth: int) -> None:
    if depth > MAX_ONNX_DEPTH:
        return
    here = wire.fh.tell()
    wire.fh.seek(span[0])
    for number, kind, val in wire.fields_in(span[0] + span[1]):
        if kind != _LEN:
            continue
        if number == 5:  # initializer
            _tensor(wire, val, info)  # type: ignore[arg-type]
        elif number == 15:  # sparse_initializer: values (1), indices (2)
            _sparse(wire, val, info)  # type: ignore[arg-type]
        elif number == 1:  # node → attributes
            _node(wire, val, info, depth)  # type: ignore[arg-type]
    wire.fh.seek(here)


def _sparse(wire: _Wire, span: tuple[int, int], info: OnnxInfo) -> None:
    here = wire.fh.tell()
    wire.fh.seek(span[0])
    for number, kind, val in wire.fields_in(span[0] + span[1]):
        if kind == _LEN and number in (1, 2):
            _tensor(wire, val, info)  # type: ignore[arg-type]
    wire.fh.seek(here)


def _node(wire: _Wire, span: tuple[int, int], info: OnnxInfo, depth: int) -> None:
    here = wire.fh.tell()
    wire.fh.seek(span[0])
    for number, kind, val in wire.fields_in(span[0] + span[1]):
        if kind == _LEN and number == 5:  # AttributeProto
            _attribute(wire, val, info, depth)  # type: ignore[arg-type]
    wire.fh.seek(here)


def _attribute(wire: _Wire, span: tuple[int, int], info: OnnxInfo, depth: int) -> None:
    here = wire.fh.tell()
    wire.fh.seek(span[0])
    for number, kind, val in wire.fields_in(span[0] + span[1]):
        if kind != _LEN:
            continue
        if number in (5, 10):  # t, tensors
            _tensor(wire, val, info)  # type: ignore[arg-type]
        elif number in (6, 11):  # g, graphs
            _graph(wire, val, info, depth + 1)  # type: ignore[arg-type]
    wire.fh.seek(here)


def read_onnx(path: str | Path) -> OnnxInfo:
    path = Path(path)
    size = path.stat().st_size
    info = OnnxInfo()
    with open(path, "rb") as fh:
        wire = _Wire(fh, size)
        try:
            for number, kind, val in wire.fields_in(size):
                if number == 1 and kind == _VARINT:
                    info.ir_version = int(val)  # type: ignore[call-overload]
                elif kind == _LEN and number in _MODEL_STRINGS:
                    info.facts[_MODEL_STRINGS[number]] = wire.string(val, 256)  # type: ignore[arg-type]
                elif kind == _LEN and number == 7:
                    _graph(wire, val, info, 0)  # type: ignore[arg-type]
                elif kind == _LEN and number == 8:
                    _opset(wire, val, info)  # type: ignore[arg-type]
                elif kind == _LEN and number == 14 and len(info.metadata) < 128:
                    key, value = wire.pair(val)  # type: ignore[arg-type]
                    info.metadata[key] = value
        except OverflowError:
            info.truncated = True
    if info.ir_version is None and not info.facts and info.initializers == 0:
        raise HeaderError("not an ONNX model (no ModelProto fields)")
    return info


def _opset(wire: _Wire, span: tuple[int, int], info: OnnxInfo) -> None:
    here = wire.fh.tell()
    wire.fh.seek(span[0])
    domain, version = "", 0
    for number, kind, val in wire.fields_in(span[0] + span[1]):
        if number == 1 and kind == _LEN:
            domain = wire.string(val, 128)  # type: ignore[arg-type]
        elif number == 2 and kind == _VARINT:
            version = int(val)  # type: ignore[call-overload]
    wire.fh.seek(here)
    info.opsets[domain or "ai.onnx"] = version


def outside_folder(model_path: str | Path, location: str) -> str | None:
    """Where an external-data location really points when it leaves the model's folder
    (absolute, `..`, or a symlink out), else None."""
    folder = Path(model_path).resolve().parent
    if not location:
        return None
    if os.path.isabs(location) or location.startswith(("\\", "/")) or ":" in location[:3]:
        return location
    target = (folder / location).resolve()
    try:
        target.relative_to(folder)
    except ValueError:
        return str(target)
    return None
