"""KoboldCpp: one model per process, named by /v1/models or /api/v1/model."""

from __future__ import annotations

from aicensus.enumerate.base import Dialect, Exchanges, as_int, as_str, ok_json, quant_from_name
from aicensus.records import ModelRecord

PROTECTED = "koboldcpp/protected-model"  # what /api/v1/model says to a caller without the password


def _strip(name: str) -> str:
    return name.removeprefix("koboldcpp/") or name


class KoboldCppDialect(Dialect):
    name = "koboldcpp"

    def parse(self, exchanges: Exchanges) -> list[ModelRecord]:
        name = self._name(exchanges)
        if name is None:
            return []
        ctx = ok_json(exchanges.get("true_ctx"))
        context = as_int(ctx.get("value")) if isinstance(ctx, dict) else None
        return [
            ModelRecord(
                name=name,
                quantization=quant_from_name(name),
                context_length=context or None,
                running=True,
            )
        ]

    @staticmethod
    def _name(exchanges: Exchanges) -> str | None:
        listing = ok_json(exchanges.get("models"))
        data = listing.get("data") if isinstance(listing, dict) else None
        if isinstance(data, list):
            for card in data:
                model_id = as_str(card.get("id")) if isinstance(card, dict) else None
                if model_id and model_id != PROTECTED and model_id != "inactive":
                    return _strip(model_id)
        single = ok_json(exchanges.get("model"))
        result = as_str(single.get("result")) if isinstance(single, dict) else None
        if result and result != PROTECTED and result != "inactive":
            return _strip(result)
        return None
