"""OpenAI-style GET /v1/models, with the extras vLLM and llama.cpp add to each entry."""

from __future__ import annotations

import posixpath

from aicensus.enumerate.base import (
    Dialect,
    Exchanges,
    as_int,
    as_str,
    human_params,
    ok_json,
    quant_from_name,
)
from aicensus.records import ModelRecord

MAX_MODELS = 10_000


def display_name(model_id: str) -> str:
    """A served file path becomes its file name; repo ids stay as they are."""
    if model_id.startswith(("/", "./", "~")) or model_id.lower().endswith(".gguf"):
        return posixpath.basename(model_id.rstrip("/")) or model_id
    return model_id


def model_from_card(card: dict[str, object]) -> ModelRecord | None:
    model_id = as_str(card.get("id"))
    if model_id is None:
        return None
    name = display_name(model_id)
    meta = card.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    n_params = as_int(meta.get("n_params"))
    return ModelRecord(
        name=name,
        format="gguf" if name.lower().endswith(".gguf") else None,
        size_bytes=as_int(meta.get("size")),
        parameter_count=n_params,
        parameter_size=human_params(n_params),
        quantization=as_str(meta.get("ftype"), 32) or quant_from_name(name),
        context_length=as_int(card.get("max_model_len")) or as_int(meta.get("n_ctx_train")),
    )


class OpenAIDialect(Dialect):
    name = "openai"

    def parse(self, exchanges: Exchanges) -> list[ModelRecord]:
        doc = ok_json(exchanges.get("models"))
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list):
            return []
        models: dict[str, ModelRecord] = {}
        for card in data[:MAX_MODELS]:
            record = model_from_card(card) if isinstance(card, dict) else None
            if record is not None:
                models.setdefault(record.name, record)
        return list(models.values())
