"""Open WebUI: /api/models (OpenAI-like, auth-gated) and its /ollama/api/tags proxy.

The proxied tags are the Ollama backends' models, reached through Open WebUI; no
per-model POST follows, since Open WebUI does not serve /api/show at its root.
"""

from __future__ import annotations

from aicensus.enumerate.base import Dialect, Exchanges, as_str, ok_json
from aicensus.enumerate.dialects.ollama import OllamaDialect
from aicensus.records import ModelRecord

MAX_MODELS = 10_000


class OpenWebUIDialect(Dialect):
    name = "openwebui"

    def parse(self, exchanges: Exchanges) -> list[ModelRecord]:
        # OllamaDialect reads the "tags" probe (here /ollama/api/tags); this signature has no "ps".
        models = {m.name: m for m in OllamaDialect().parse(exchanges)}
        doc = ok_json(exchanges.get("models"))
        data = doc.get("data") if isinstance(doc, dict) else None
        for card in data[:MAX_MODELS] if isinstance(data, list) else []:
            name = as_str(card.get("id")) if isinstance(card, dict) else None
            if name is not None and name not in models:
                models[name] = ModelRecord(name=name, remote=card.get("owned_by") == "openai")
        return list(models.values())
