"""LM Studio: native /api/v1/models (>= 0.4) and /api/v0/models (>= 0.3.6), then /v1/models."""

from __future__ import annotations

from aicensus.enumerate.base import (
    Dialect,
    Exchanges,
    as_int,
    as_str,
    ok_json,
    parse_param_size,
)
from aicensus.enumerate.dialects.openai import OpenAIDialect
from aicensus.records import ModelRecord

MAX_MODELS = 10_000


def _entries(doc: object, key: str) -> list[dict[str, object]]:
    items = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return []
    return [e for e in items[:MAX_MODELS] if isinstance(e, dict)]


def model_from_v1(entry: dict[str, object]) -> ModelRecord | None:
    name = as_str(entry.get("key"))
    if name is None:
        return None
    quant = entry.get("quantization")
    flags = entry.get("capabilities")
    flags = flags if isinstance(flags, dict) else {}
    caps = [k for k in ("vision", "trained_for_tool_use") if flags.get(k) is True]
    kind = as_str(entry.get("type"), 32)
    params = as_str(entry.get("params_string"), 32)
    instances = entry.get("loaded_instances")
    return ModelRecord(
        name=name,
        format=as_str(entry.get("format"), 32),
        family=as_str(entry.get("publisher"), 64),
        architecture=as_str(entry.get("architecture"), 64),
        size_bytes=as_int(entry.get("size_bytes")),
        parameter_size=params,
        parameter_count=parse_param_size(params),
        quantization=as_str(quant.get("name"), 32) if isinstance(quant, dict) else None,
        context_length=as_int(entry.get("max_context_length")),
        capabilities=([kind] if kind else []) + caps,
        running=isinstance(instances, list) and len(instances) > 0,
    )


def model_from_v0(entry: dict[str, object]) -> ModelRecord | None:
    name = as_str(entry.get("id"))
    if name is None:
        return None
    kind = as_str(entry.get("type"), 32)
    return ModelRecord(
        name=name,
        format=as_str(entry.get("compatibility_type"), 32),
        family=as_str(entry.get("publisher"), 64),
        architecture=as_str(entry.get("arch"), 64),
        quantization=as_str(entry.get("quantization"), 32),
        context_length=as_int(entry.get("max_context_length")),
        capabilities=[kind] if kind else [],
        running=entry.get("state") == "loaded",
    )


class LMStudioDialect(Dialect):
    name = "lmstudio"

    def parse(self, exchanges: Exchanges) -> list[ModelRecord]:
        models: dict[str, ModelRecord] = {}
        for entry in _entries(ok_json(exchanges.get("v1_models")), "models"):
            record = model_from_v1(entry)
            if record is not None:
                models.setdefault(record.name, record)
        if not models:
            for entry in _entries(ok_json(exchanges.get("v0_models")), "data"):
                record = model_from_v0(entry)
                if record is not None:
                    models.setdefault(record.name, record)
        if not models:
            return OpenAIDialect().parse(exchanges)
        return list(models.values())
