"""Registered dialects, by the name signatures use in `models.dialect`."""

from aicensus.enumerate.base import Dialect
from aicensus.enumerate.dialects.llamacpp import LlamaCppDialect
from aicensus.enumerate.dialects.ollama import OllamaDialect
from aicensus.enumerate.dialects.openai import OpenAIDialect

DIALECTS: dict[str, Dialect] = {
    d.name: d for d in (OllamaDialect(), OpenAIDialect(), LlamaCppDialect())
}
