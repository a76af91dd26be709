"""TGI: GET /info names the one served model; /v1/models is the fallback."""

from __future__ import annotations

from aicensus.enumerate.base import Exchanges, as_int, as_str, ok_json
from aicensus.enumerate.dialects.openai import OpenAIDialect, display_name
from aicensus.records import ModelRecord


class TGIDialect(OpenAIDialect):
    name = "tgi"

    def parse(self, exchanges: Exchanges) -> list[ModelRecord]:
        info = ok_json(exchanges.get("info"))
        model_id = as_str(info.get("model_id")) if isinstance(info, dict) else None
        if model_id is None:
            return super().parse(exchanges)
        assert isinstance(info, dict)
        pipeline = as_str(info.get("model_pipeline_tag"), 64)
        return [
            ModelRecord(
                name=display_name(model_id),
                digest=as_str(info.get("model_sha"), 128),
                # max_total_tokens bounds prompt + completion: the served window.
                context_length=as_int(info.get("max_total_tokens")) or None,
                capabilities=[pipeline] if pipeline else [],
                running=True,
            )
        ]
