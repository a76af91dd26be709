"""llama.cpp: /v1/models for the list, /props for template, context and modalities."""

from __future__ import annotations

from aicensus.enumerate.base import Exchanges, as_int, digest_text, ok_json
from aicensus.enumerate.dialects.openai import OpenAIDialect, display_name
from aicensus.records import ModelRecord


class LlamaCppDialect(OpenAIDialect):
    name = "llamacpp"

    def parse(self, exchanges: Exchanges) -> list[ModelRecord]:
        models = super().parse(exchanges)
        props = ok_json(exchanges.get("props"))
        if not isinstance(props, dict):
            return models
        path = props.get("model_path")
        target = self._model_for_path(models, path if isinstance(path, str) else None)
        if target is None:
            return models
        target.chat_template = digest_text(props.get("chat_template"))
        settings = props.get("default_generation_settings")
        if isinstance(settings, dict):
            # The served window; the trained one from /v1/models meta wins when known.
            target.context_length = target.context_length or as_int(settings.get("n_ctx"))
        modalities = props.get("modalities")
        if isinstance(modalities, dict):
            target.capabilities = ["completion"] + [
                k for k in ("vision", "audio") if modalities.get(k) is True
            ]
        return models

    @staticmethod
    def _model_for_path(models: list[ModelRecord], path: str | None) -> ModelRecord | None:
        if path:
            name = display_name(path)
            for model in models:
                if model.name == name:
                    return model
        # One model per llama-server process unless it runs in router mode.
        return models[0] if len(models) == 1 else None
