"""aicensus: find exposed AI model servers and attribute the models they serve.

The public library is `aicensus.api` (docs/library.md); its names are re-exported here and
imported on first use (PEP 562), so `import aicensus` alone loads nothing else (a lab
emulator or a record import does not load the scanner, the store and every stage). The
names, `__all__` included, are those of `aicensus.api.__all__` (tests/api pins them):

    import aicensus
    aicensus.whois("llama3.1:8b")[0].attribution.developer    # 'Meta'
"""

from __future__ import annotations

import importlib
from typing import Any

from aicensus.version import __version__ as __version__


def __getattr__(name: str) -> Any:
    # `__all__` too is looked up here, so the list has one home: aicensus.api.__all__. Other
    # private names (tools probe `__test__`, `__wrapped__` …) must not load the library.
    if name.startswith("_") and name != "__all__":
        raise AttributeError(f"module 'aicensus' has no attribute {name!r}")
    api = importlib.import_module("aicensus.api")
    if name == "__all__":
        return list(api.__all__)
    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'aicensus' has no attribute {name!r}")


def __dir__() -> list[str]:
    api = importlib.import_module("aicensus.api")
    return sorted([*globals(), *api.__all__])
