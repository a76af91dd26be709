"""Registered dialects, by the name signatures use in `models.dialect`.

The registry sits above both `base` (the interface) and `dialects/` (the implementations), so
neither imports the other's importer: no import circle.
"""

from __future__ import annotations

from aicensus.enumerate.base import Dialect
from aicensus.enumerate.dialects.comfyui import ComfyUIDialect
from aicensus.enumerate.dialects.koboldcpp import KoboldCppDialect
from aicensus.enumerate.dialects.llamacpp import LlamaCppDialect
from aicensus.enumerate.dialects.lmstudio import LMStudioDialect
from aicensus.enumerate.dialects.mcp import McpDialect
from aicensus.enumerate.dialects.ollama import OllamaDialect
from aicensus.enumerate.dialects.openai import OpenAIDialect
from aicensus.enumerate.dialects.openwebui import OpenWebUIDialect
from aicensus.enumerate.dialects.sdwebui import SDWebUIDialect
from aicensus.enumerate.dialects.sglang import SGLangDialect
from aicensus.enumerate.dialects.tgi import TGIDialect
from aicensus.enumerate.dialects.triton import TritonDialect

DIALECTS: dict[str, Dialect] = {
    d.name: d
    for d in (
        OllamaDialect(), OpenAIDialect(), LlamaCppDialect(), TGIDialect(), SGLangDialect(),
        LMStudioDialect(), KoboldCppDialect(), TritonDialect(), OpenWebUIDialect(),
        SDWebUIDialect(), ComfyUIDialect(), McpDialect(),
    )
}  # fmt: skip


def get_dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise KeyError(
            f"unknown model dialect {name!r}; known: {', '.join(sorted(DIALECTS))}"
        ) from None
