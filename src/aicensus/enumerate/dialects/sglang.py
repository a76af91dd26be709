"""SGLang: /v1/models (OpenAI cards), else /get_model_info's model_path."""

from __future__ import annotations

from aicensus.enumerate.base import Exchanges, as_str, ok_json
from aicensus.enumerate.dialects.openai import OpenAIDialect, display_name
from aicensus.records import ModelRecord


class SGLangDialect(OpenAIDialect):
    name = "sglang"

    def parse(self, exchanges: Exchanges) -> list[ModelRecord]:
        models = super().parse(exchanges)
        info = ok_json(exchanges.get("model_info"))
        if models or not isinstance(info, dict):
            return models
        path = as_str(info.get("model_path"))
        if path is None:
            return []
        caps = ["completion"] if info.get("is_generation") is True else []
        return [ModelRecord(name=display_name(path), capabilities=caps, running=True)]
