"""Read a GGUF file's header with the `gguf` library's reader, bounded.

`gguf.GGUFReader` memory-maps the file, so only the pages the header occupies are read; the
tensor data is never touched. Two guards make it safe on hostile or huge files:

* the counts in the fixed header (key/value pairs, tensors) are checked against the file size
  before the reader walks them;
* arrays longer than `SMALL_ARRAY` (tokenizer vocabularies, merges, scores) are skipped, not
  decoded: their size is computed from their lengths (a pass of `struct.unpack_from` over the
  mapped bytes), which makes a 256k-token vocabulary cost milliseconds instead of seconds, and
  a length that runs past the end of the file is an error instead of a long loop.

Strings are decoded up to a cap (`MAX_STRING`, `MAX_TEMPLATE` for chat templates).
"""

from __future__ import annotations

import contextlib
import struct
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, LlamaFileType

from aicensus.audit.formats import shape_product
from aicensus.audit.limits import (
    MAX_GGUF_ARRAY_ITEMS,
    MAX_GGUF_KV,
    MAX_GGUF_TENSORS,
    MAX_INT,
    LimitExceeded,
)
from aicensus.errors import GGUFHeaderError

GGUF_MAGIC = b"GGUF"
SMALL_ARRAY = 256  # arrays longer than this are skipped (vocabularies), not decoded
MAX_STRING = 64 * 1024  # characters kept of an ordinary string value
MAX_TEMPLATE = 1024 * 1024  # characters kept of a chat template (analysed in full up to this)
MAX_GGUF_DIMS = 8  # dimensions of a tensor (ggml has 4)


@dataclass(frozen=True)
class _TensorInfo:
    shape: tuple[int, ...]
    tensor_type: int


class _HeaderReader(GGUFReader):
    """GGUFReader that skips long arrays (and every array once MAX_GGUF_ARRAY_ITEMS elements
    have been decoded), and refuses lengths past the end of the file."""

    def __init__(self, path: Path) -> None:
        self.array_budget = MAX_GGUF_ARRAY_ITEMS
        self.arrays_skipped = 0
        super().__init__(path, "r")

    def _build_tensor_info(self, offs: int, count: int) -> tuple[int, list[Any]]:
        """The tensor infos, by struct over the mapped bytes: (shape, ggml type) each. The
        library builds numpy views per tensor; this keeps only what the audit reports."""
        little = (sys.byteorder == "little") == (self.byte_order == "I")
        order = "<" if little else ">"
        u32, u64 = struct.Struct(order + "I").unpack_from, struct.Struct(order + "Q").unpack_from
        view = memoryview(self.data)  # type: ignore[arg-type]
        size = len(view)
        infos = []
        try:
            for _ in range(count):
                offs += 8 + u64(view, offs)[0]  # the name
                n_dims = u32(view, offs)[0]
                if n_dims > MAX_GGUF_DIMS:
                    raise GGUFHeaderError(f"a tensor has {n_dims} dimensions (ggml allows 4)")
                shape = struct.unpack_from(f"{order}{n_dims}Q", view, offs + 4)
                offs += 4 + 8 * n_dims
                infos.append(_TensorInfo(shape, u32(view, offs)[0]))
                offs += 12  # type, data offset
        except struct.error:
            raise GGUFHeaderError("tensor infos run past the end of the file") from None
        if offs > size:
            raise GGUFHeaderError("tensor infos run past the end of the file")
        return offs, infos

    def _build_tensors(self, start_offs: int, fields: list[Any]) -> None:
        self.tensors = fields

    def _get_field_parts(
        self, orig_offs: int, raw_type: int
    ) -> tuple[int, list[Any], list[int], list[GGUFValueType]]:
        gtype = GGUFValueType(raw_type)
        size = int(self.data.size)
        if gtype == GGUFValueType.STRING:
            (length,) = self._u64(orig_offs)
            if orig_offs + 8 + length > size:
                raise GGUFHeaderError(f"string at offset {orig_offs} runs past the end of the file")
        elif gtype == GGUFValueType.ARRAY:
            skipped = self._skip_array(orig_offs, size)
            if skipped is not None:
                return skipped
        return super()._get_field_parts(orig_offs, raw_type)

    def _u64(self, offset: int) -> tuple[int]:
        if offset + 8 > self.data.size:
            raise GGUFHeaderError(f"header truncated at offset {offset}")
        # byte_order: "I" the host's order, "S" swapped.
        little = (sys.byteorder == "little") == (self.byte_order == "I")
        order = "<" if little else ">"
        return struct.unpack_from(order + "Q", self.data, offset)  # type: ignore[return-value, arg-type]

    def _strings_size(self, start: int, count: int, size: int) -> int:
        """The bytes `count` consecutive GGUF strings from `start` take (lengths only)."""
        little = (sys.byteorder == "little") == (self.byte_order == "I")
        unpack = struct.Struct("<Q" if little else ">Q").unpack_from
        view = memoryview(self.data)  # type: ignore[arg-type]
        pos, last = start, size - 8
        for _ in range(count):
            if pos > last:
                raise GGUFHeaderError(f"string array at offset {start} runs past the end")
            pos += 8 + unpack(view, pos)[0]
        return pos - start

    def _skip_array(
        self, offs: int, size: int
    ) -> tuple[int, list[Any], list[int], list[GGUFValueType]] | None:
        if offs + 12 > size:
            raise GGUFHeaderError(f"array header truncated at offset {offs}")
        raw_itype = self._get(offs, np.uint32)
        alen = self._get(offs + 4, np.uint64)
        count = int(alen[0])
        itype = GGUFValueType(int(raw_itype[0]))
        start = offs + 12
        scalar = self.gguf_scalar_to_np.get(itype)
        if scalar is not None:
            nbytes = count * np.dtype(scalar).itemsize
        elif itype == GGUFValueType.STRING:
            if count * 8 > size - start:
                raise GGUFHeaderError(f"array of {count} strings at offset {offs} is impossible")
            nbytes = self._strings_size(start, count, size)
        else:  # arrays of arrays: at least 12 bytes each (and none in a real model)
            if count * 12 > size - start:
                raise GGUFHeaderError(f"nested array at offset {offs} runs past the end")
            if count > self.array_budget:
                raise LimitExceeded(
                    f"array of {count} arrays (limit {MAX_GGUF_ARRAY_ITEMS} elements decoded): "
                    "header not read"
                )
            self.array_budget -= count
            return None
        if start + nbytes > size:
            raise GGUFHeaderError(f"array at offset {offs} runs past the end of the file")
        if count <= SMALL_ARRAY and count <= self.array_budget:
            self.array_budget -= count
            return None
        if count <= SMALL_ARRAY:
            self.arrays_skipped += 1
        return 12 + nbytes, [raw_itype, alen], [], [GGUFValueType.ARRAY, itype]


@dataclass
class GGUFHeader:
    version: int
    metadata: dict[str, object]  # scalar values and short arrays, strings capped
    skipped: dict[str, int]  # long arrays that were skipped: key → element count
    string_lengths: dict[str, int]  # full length of every string value
    tensor_count: int
    parameter_count: int
    tensor_types: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)  # limits reached (see limits.py)

    def text(self, key: str) -> str | None:
        value = self.metadata.get(key)
        if isinstance(value, str):
            value = value.strip()
            return value or None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return None

    def integer(self, key: str) -> int | None:
        value = self.metadata.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def templates(self) -> dict[str, str]:
        """Chat templates by name: `default` (tokenizer.chat_template) and named ones."""
        found: dict[str, str] = {}
        for key, value in self.metadata.items():
            if not isinstance(value, str):
                continue
            if key == "tokenizer.chat_template":
                found["default"] = value
            elif key.startswith("tokenizer.chat_template."):
                found[key.removeprefix("tokenizer.chat_template.")] = value
        return found

    def file_type(self) -> str | None:
        """The quantization: general.file_type by name, else the commonest tensor type."""
        code = self.integer("general.file_type")
        if code is not None:
            try:
                name = LlamaFileType(code).name
            except ValueError:
                name = None
            if name:
                for prefix in ("MOSTLY_", "ALL_"):
                    name = name.removeprefix(prefix)
                return name
        if self.tensor_types:
            return self.tensor_types.most_common(1)[0][0]
        return None


def is_gguf(path: str | Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == GGUF_MAGIC
    except OSError:
        return False


def _check_counts(path: Path) -> None:
    with open(path, "rb") as fh:
        head = fh.read(24)
    if len(head) < 24 or head[:4] != GGUF_MAGIC:
        raise GGUFHeaderError("not a GGUF file (no GGUF magic)")
    size = path.stat().st_size
    for order in ("<", ">"):
        version, tensors, kvs = struct.unpack(order + "IQQ", head[4:])
        if version & 0xFFFF:
            break
    if (tensors + kvs) * 12 > size:
        raise GGUFHeaderError(
            f"implausible header: {tensors} tensors and {kvs} key/value pairs in {size} bytes"
        )
    if kvs > MAX_GGUF_KV:
        raise LimitExceeded(f"{kvs} key/value pairs (limit {MAX_GGUF_KV}): header not read")
    if tensors > MAX_GGUF_TENSORS:
        raise LimitExceeded(f"{tensors} tensors (limit {MAX_GGUF_TENSORS}): header not read")


def _decode(field: Any, cap: int) -> tuple[object, int | None]:
    """(value, full string length or None) of one reader field."""
    types = field.types
    if not types:
        return None, None
    main = types[0]
    if main == GGUFValueType.STRING:
        raw = field.parts[-1]
        return bytes(raw[: cap * 4]).decode("utf-8", errors="replace")[:cap], int(raw.size)
    if main == GGUFValueType.ARRAY:
        if not field.data:
            return [], None
        sub = types[-1]
        if sub == GGUFValueType.STRING:
            return [
                bytes(field.parts[i][:4096]).decode("utf-8", errors="replace") for i in field.data
            ], None
        if sub == GGUFValueType.ARRAY:
            return None, None
        return [field.parts[i].tolist()[0] for i in field.data], None
    value = field.parts[-1].tolist()[0]
    if main == GGUFValueType.BOOL:
        value = bool(value)
    return value, None


def read_gguf_header(path: str | Path) -> GGUFHeader:
    """The header of a GGUF file. Raises GGUFHeaderError (or OSError) when it cannot be read."""
    path = Path(path)
    _check_counts(path)
    try:
        reader = _HeaderReader(path)
    except (GGUFHeaderError, LimitExceeded):
        raise
    except (ValueError, KeyError, IndexError, OverflowError, TypeError, struct.error) as exc:
        raise GGUFHeaderError(f"GGUF header cannot be read ({exc})") from None
    metadata: dict[str, object] = {}
    skipped: dict[str, int] = {}
    lengths: dict[str, int] = {}
    version = 0
    for key, fld in reader.fields.items():
        if key == "GGUF.version":
            version = int(fld.parts[-1][0])
            continue
        if key.startswith("GGUF."):
            continue
        if fld.types and fld.types[0] == GGUFValueType.ARRAY and not fld.data:
            skipped[key] = int(fld.parts[-1][0]) if fld.parts else 0
            continue
        cap = MAX_TEMPLATE if key.startswith("tokenizer.chat_template") else MAX_STRING
        value, length = _decode(fld, cap)
        if value is not None:
            metadata[key] = value
        if length is not None:
            lengths[key] = length
    types: Counter[str] = Counter()
    params, uncounted = 0, 0
    for tensor in reader.tensors:
        count = shape_product([int(d) for d in tensor.shape])
        if count is None:
            uncounted += 1
        else:
            params = min(MAX_INT, params + count)
        if len(tensor.shape) >= 2:
            with contextlib.suppress(ValueError):
                types[GGMLQuantizationType(tensor.tensor_type).name] += 1
    count = len(reader.tensors)
    notes = []
    if reader.arrays_skipped:
        notes.append(
            f"{reader.arrays_skipped} short arrays not decoded: over {MAX_GGUF_ARRAY_ITEMS} "
            "array elements in the header (limit)"
        )
    if uncounted:
        notes.append(f"{uncounted} tensor(s) not counted: more than {MAX_INT} elements")
    del reader  # drop the memory map now
    return GGUFHeader(
        version=version,
        metadata=metadata,
        skipped=skipped,
        string_lengths=lengths,
        tensor_count=count,
        parameter_count=params,
        tensor_types=types,
        notes=notes,
    )
