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
import os
import struct
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec

from aicensus.audit.limits import (
    MAX_H5_CONFIG,
    MAX_H5_SCAN,
    MAX_INT,
    MAX_KERAS_CONFIG,
    MAX_ONNX_DEPTH,
    MAX_ONNX_FIELDS,
    MAX_ONNX_LOCATIONS,
    MAX_SAFETENSORS_HEADER,
    MAX_SAFETENSORS_TENSORS,
    MAX_TENSOR_DIMS,
    MAX_ZIP_ENTRIES,
    LimitExceeded,
)
from aicensus.errors import HeaderError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


# --------------------------------------------------------------------------- safetensors


@dataclass
class SafetensorsHeader:
    metadata: dict[str, str]
    tensor_count: int
    parameter_count: int
    dtypes: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)  # limits reached (see limits.py)


class _Tensor(msgspec.Struct):
    """One tensor's description; unknown fields are allowed (and ignored)."""

    dtype: str
    shape: list[int]
    data_offsets: tuple[int, int]


def shape_product(shape: list[int]) -> int | None:
    """The number of elements of a shape, or None when it has more than MAX_TENSOR_DIMS
    dimensions, a negative one, or more than MAX_INT elements (bounded work either way)."""
    if len(shape) > MAX_TENSOR_DIMS:
        return None
    product = 1
    for d in shape:
        if d < 0:
            return None
        product *= d
        if product > MAX_INT:
            return None
    return product


def read_safetensors_header(
    path: str | Path, *, max_header: int = MAX_SAFETENSORS_HEADER
) -> SafetensorsHeader:
    """The tensor table and metadata of a safetensors file, bounded: at most `max_header`
    bytes of JSON, MAX_SAFETENSORS_TENSORS tensors, MAX_TENSOR_DIMS dimensions each."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        prefix = fh.read(8)
        if len(prefix) < 8:
            raise HeaderError("shorter than the 8-byte header length")
        (length,) = struct.unpack("<Q", prefix)
        if length > size - 8:
            raise HeaderError(f"header length {length} exceeds the file size")
        if length > max_header:
            raise LimitExceeded(
                f"safetensors header is {length} bytes (limit {max_header}): not read"
            )
        raw = fh.read(length)
    # Every key needs a colon: an upper bound on the entries, known before decoding any.
    if raw.count(b":") > 4 * MAX_SAFETENSORS_TENSORS + 65_536:
        raise LimitExceeded(
            f"safetensors header has over {MAX_SAFETENSORS_TENSORS} entries "
            f"(limit {MAX_SAFETENSORS_TENSORS} tensors): not read"
        )
    try:
        doc = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
    except msgspec.DecodeError as exc:
        raise HeaderError(f"header is not a JSON object ({exc})") from None
    data_size = size - 8 - length
    out = SafetensorsHeader(metadata={}, tensor_count=0, parameter_count=0)
    skipped: Counter[str] = Counter()
    for key, entry in doc.items():
        if key == "__metadata__":
            out.metadata = _safetensors_metadata(entry, out.notes)
            continue
        try:
            tensor = msgspec.json.decode(entry, type=_Tensor)
        except msgspec.DecodeError:
            raise HeaderError(f"tensor {key[:80]!r} has a malformed description") from None
        start, end = tensor.data_offsets
        if not 0 <= start <= end <= data_size:
            raise HeaderError(f"tensor {key[:80]!r} points outside the file")
        if out.tensor_count >= MAX_SAFETENSORS_TENSORS:
            skipped["beyond the tensor limit"] += 1
            continue
        out.tensor_count += 1
        out.dtypes[tensor.dtype[:32]] += 1
        count = shape_product(tensor.shape)
        if count is None:
            skipped[f"shape {_shape_text(tensor.shape)} of tensor {key[:80]!r}"] += 1
            continue
        out.parameter_count = min(MAX_INT, out.parameter_count + count)
    for what, n in list(skipped.items())[:5]:
        out.notes.append(
            f"{n} tensor(s) not counted: {what} (limits: {MAX_TENSOR_DIMS} dimensions, "
            f"{MAX_INT} elements, {MAX_SAFETENSORS_TENSORS} tensors)"
        )
    return out


def _shape_text(shape: list[int]) -> str:
    text = ",".join(str(d) if abs(d) < 10**12 else "huge" for d in shape[:4])
    return f"[{text}{', …' if len(shape) > 4 else ''}] ({len(shape)} dimensions)"


def _safetensors_metadata(raw: msgspec.Raw, notes: list[str]) -> dict[str, str]:
    try:
        entry = msgspec.json.decode(raw, type=dict[str, str])
    except msgspec.DecodeError:
        notes.append("__metadata__ is not a map of strings: ignored")
        return {}
    if len(entry) > 256:
        notes.append(f"__metadata__ has {len(entry)} entries: the first 256 kept")
    return {k[:256]: v[:4096] for k, v in list(entry.items())[:256]}


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
    notes: list[str] = field(default_factory=list)  # limits reached (see limits.py)


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


def zip_entry_count(fh: IO[bytes]) -> int | None:
    """The entry count a zip archive's end record declares (None: no end record), read
    before `zipfile` builds one record per entry in memory."""
    try:
        end = zipfile._EndRecData(fh)  # type: ignore[attr-defined]  # stable since Python 2
    except (OSError, struct.error, ValueError):
        return None
    finally:
        fh.seek(0)
    if not end:
        return None
    return int(end[zipfile._ECD_ENTRIES_TOTAL])  # type: ignore[attr-defined]


def open_zip(fh: IO[bytes], what: str) -> zipfile.ZipFile:
    """A ZipFile over `fh`, once its entry count is known to be within MAX_ZIP_ENTRIES."""
    entries = zip_entry_count(fh)
    if entries is not None and entries > MAX_ZIP_ENTRIES:
        raise LimitExceeded(f"{what} has {entries} entries (limit {MAX_ZIP_ENTRIES}): not read")
    return zipfile.ZipFile(fh)


# Markers of a Keras config that a bytewise search can see (no JSON parsing).
_LAMBDA_MARKERS = (b'"class_name": "Lambda"', b'"class_name":"Lambda"')


def _search_markers(chunks: IO[bytes], cap: int, out: KerasConfig, *, modules: bool) -> None:
    """Search at most `cap` bytes of a stream, a chunk at a time, for Lambda layers (and,
    with `modules`, dangerous modules): constant memory, whatever the size."""
    tail, seen = b"", 0
    markers = [
        (m, f'"module": "{m}'.encode(), f'"module":"{m}'.encode())
        for m in (DANGEROUS_MODULES if modules else ())
    ]
    while seen < cap:
        chunk = chunks.read(min(1024 * 1024, cap - seen))
        if not chunk:
            break
        seen += len(chunk)
        window = tail + chunk
        if not out.lambda_layers and any(m in window for m in _LAMBDA_MARKERS):
            out.lambda_layers.append("Lambda (marker in the bytes)")
        for name, spaced, tight in markers:
            ref = f"{name} (module marker found by a byte search)"
            if ref not in out.dangerous_modules and (
                spaced + b'"' in window
                or tight + b'"' in window
                or spaced + b"." in window
                or tight + b"." in window
            ):
                out.dangerous_modules.append(ref)
        tail = window[-64:]


def read_keras_archive(path: str | Path, *, cap: int = MAX_KERAS_CONFIG) -> KerasConfig:
    """A Keras v3 archive's model config: parsed up to `cap` bytes; a larger config.json is
    searched bytewise (MAX_H5_SCAN bytes) for the same markers, with a note."""
    out = KerasConfig()
    raw = meta = None
    try:
        with open(path, "rb") as fh, open_zip(fh, "the Keras archive") as zf:
            try:
                info = zf.getinfo("config.json")
            except KeyError:
                raise HeaderError("the archive has no config.json") from None
            if info.file_size > cap:
                out.source = f"config.json, {info.file_size} bytes (byte search)"
                out.notes.append(
                    f"config.json is {info.file_size} bytes (limit {cap} parsed): searched "
                    f"bytewise (first {MAX_H5_SCAN} bytes) for Lambda layers and modules only"
                )
                with zf.open(info) as member:
                    _search_markers(member, MAX_H5_SCAN, out, modules=True)
                return out
            with zf.open(info) as member:
                raw = member.read(cap + 1)[:cap]
            meta = _read_member(zf, "metadata.json", 1024 * 1024)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as exc:
        raise HeaderError(f"not a readable zip archive ({exc})") from None
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


def _read_member(zf: zipfile.ZipFile, name: str, cap: int) -> bytes | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > cap:
        return None
    with zf.open(info) as fh:
        return fh.read(cap + 1)[:cap]


def is_keras_h5(path: str | Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024 * 1024)
    except OSError:
        return False
    return head.startswith(HDF5_MAGIC) and (b"model_config" in head or b"keras_version" in head)


def _find(fh: IO[bytes], needle: bytes, cap: int) -> int:
    """The offset of `needle` in the first `cap` bytes of a file, read a chunk at a time."""
    fh.seek(0)
    tail, base = b"", 0
    while base < cap:
        chunk = fh.read(min(1024 * 1024, cap - base))
        if not chunk:
            return -1
        window = tail + chunk
        at = window.find(needle)
        if at != -1:
            return base - len(tail) + at
        tail = window[-len(needle) :]
        base += len(chunk)
    return -1


def scan_keras_h5(path: str | Path, *, cap: int = MAX_H5_SCAN) -> KerasConfig:
    """Bytewise search of a legacy HDF5 Keras file's first `cap` bytes for its model config
    (read a chunk at a time; the config decoded is at most MAX_H5_CONFIG bytes)."""
    out = KerasConfig(source=f"HDF5 bytes (first {cap} searched)")
    with open(path, "rb") as fh:
        start = _find(fh, b'{"class_name"', cap)
        if start != -1:
            fh.seek(start)
            text = fh.read(MAX_H5_CONFIG).decode("utf-8", "replace")
            try:
                doc, _end = json.JSONDecoder().raw_decode(text)
            except (ValueError, RecursionError):
                doc = None
            if doc is not None:
                _walk_keras(doc, out)
        fh.seek(0)
        _search_markers(fh, cap, out, modules=False)
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
    truncated_locations: bool = False
    notes: list[str] = field(default_factory=list)  # limits reached (see limits.py)
    uncounted: int = 0  # initializers whose shape was beyond the limits


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


def _packed_or_single(wire: _Wire, number_wire: int, val: Any, room: int) -> list[int]:
    """The dims of one field (a varint, or a packed run): at most `room` + 1 of them, so a
    run longer than any real shape costs no more than the limit."""
    if number_wire == _VARINT:
        return [int(val)]  # type: ignore[call-overload]
    start, length = val  # type: ignore[misc]
    here = wire.fh.tell()
    wire.fh.seek(start)
    out: list[int] = []
    while wire.fh.tell() < start + length and len(out) <= room:
        out.append(wire.varint())
    wire.fh.seek(here)
    return out


def _to_int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value  # varints carry int64 two's complement


def _tensor(wire: _Wire, span: tuple[int, int], info: OnnxInfo) -> None:
    here = wire.fh.tell()
    wire.fh.seek(span[0])
    dims: list[int] = []
    for number, kind, val in wire.fields_in(span[0] + span[1]):
        if number == 1 and kind in (_VARINT, _LEN) and len(dims) <= MAX_TENSOR_DIMS:
            room = MAX_TENSOR_DIMS - len(dims)
            dims += [_to_int64(d) for d in _packed_or_single(wire, kind, val, room)]
        elif number == 13 and kind == _LEN:
            key, value = wire.pair(val)  # type: ignore[arg-type]
            if key == "location":
                _location(info, value)
    wire.fh.seek(here)
    info.initializers += 1
    count = shape_product(dims)
    if count is None:
        info.uncounted += 1
    else:
        info.parameter_count = min(MAX_INT, info.parameter_count + count)


def _location(info: OnnxInfo, value: str) -> None:
    if value in info.external_locations:
        return
    if len(info.external_locations) >= MAX_ONNX_LOCATIONS:
        info.truncated_locations = True
        return
    info.external_locations.append(value)


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
    if info.truncated:
        info.notes.append(
            f"protobuf walk stopped at {MAX_ONNX_FIELDS} fields (limit): later tensors, "
            "nodes and external-data locations not seen"
        )
    if info.uncounted:
        info.notes.append(
            f"{info.uncounted} initializer(s) not counted: shape beyond {MAX_TENSOR_DIMS} "
            f"dimensions or {MAX_INT} elements"
        )
    if info.truncated_locations:
        info.notes.append(f"more than {MAX_ONNX_LOCATIONS} external-data locations: the first kept")
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
    if len(info.opsets) < 64:
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
