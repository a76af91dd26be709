"""aicensus: find exposed AI model servers and attribute the models they serve.

The public library is `aicensus.api` (docs/library.md); its names are re-exported here and
imported on first use, so `import aicensus` alone loads nothing else:

    import aicensus
    aicensus.whois("llama3.1:8b")[0].attribution.developer    # 'Meta'
"""

from __future__ import annotations

from typing import Any

from aicensus._public import PUBLIC_NAMES

__version__ = "0.1.0"
__all__ = list(PUBLIC_NAMES)


def __getattr__(name: str) -> Any:
    if name in PUBLIC_NAMES:
        from aicensus import api

        return getattr(api, name)
    raise AttributeError(f"module 'aicensus' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *PUBLIC_NAMES])
