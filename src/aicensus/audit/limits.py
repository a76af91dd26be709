"""The limits every model-file reader keeps, so that no file can exhaust the audit.

Each reader is bounded in time and memory by the limits named here (docs/audit.md#limits
lists them with their reasons). A file that exceeds one is not an error: the reader stops or
skips the part beyond it, and the file carries a note saying which limit and what was not
read (`ModelFile.notes`, reported as the AIC-FILE-READ-LIMIT finding). Real model files stay
far inside every limit; the numbers are set by what the largest published models need.
"""

from __future__ import annotations

from aicensus.errors import LimitExceeded

# Every integer the audit reports fits a signed 64-bit JSON integer.
MAX_INT = 2**63 - 1

# safetensors
MAX_SAFETENSORS_HEADER = 32 * 1024 * 1024  # bytes of JSON header read (the format allows 100 MB)
MAX_SAFETENSORS_TENSORS = 200_000
MAX_TENSOR_DIMS = 64  # dimensions of one tensor's shape (safetensors, ONNX; GGUF has 4)

# GGUF
MAX_GGUF_KV = 1_024  # key/value pairs (real files have under 100)
MAX_GGUF_TENSORS = 65_536  # tensor infos (real files have a few thousand at most)
MAX_GGUF_ARRAY_ITEMS = 4_096  # array elements decoded in all (longer arrays are skipped)

# pickles
MAX_PICKLE_BYTES = 256 * 1024 * 1024  # stream positions examined (payloads are skipped)
MAX_PICKLE_OPCODES = 1_000_000  # opcodes walked per file, all its pickles together
MAX_PICKLE_MEMO_BYTES = 16 * 1024 * 1024  # memoised strings kept to resolve STACK_GLOBAL
MAX_PICKLE_STRING = 4_096  # characters of a string argument decoded (longer: skipped)
MAX_PICKLE_LINE = 64 * 1024  # bytes of a protocol-0 text argument (GLOBAL, INT …)
MAX_ZIP_ENTRIES = 65_536  # entries of a zip archive (PyTorch, Keras)
MAX_ZIP_PICKLES = 64  # pickle members of one zip checkpoint analysed

# Keras
MAX_KERAS_CONFIG = 4 * 1024 * 1024  # config.json parsed; larger: searched bytewise
MAX_H5_SCAN = 64 * 1024 * 1024  # bytes of an HDF5 file (or large config) searched
MAX_H5_CONFIG = 4 * 1024 * 1024  # bytes of an HDF5 model_config decoded

# ONNX
MAX_ONNX_FIELDS = 1_000_000  # protobuf fields walked
MAX_ONNX_DEPTH = 16  # nested graphs (If/Loop bodies)
MAX_ONNX_LOCATIONS = 1_000  # external-data locations kept

__all__ = ["LimitExceeded"]  # raised by the readers (defined in aicensus.errors)
