"""Triton: POST /v2/repository/index (allow-listed, read-only) lists every model and its state."""

from __future__ import annotations

from aicensus.enumerate.base import Dialect, Exchanges, as_str, ok_json
from aicensus.records import ModelRecord

MAX_MODELS = 10_000


class TritonDialect(Dialect):
    name = "triton"

    def parse(self, exchanges: Exchanges) -> list[ModelRecord]:
        doc = ok_json(exchanges.get("index"))
        if not isinstance(doc, list):
            return []
        models: dict[str, ModelRecord] = {}
        for entry in doc[:MAX_MODELS]:
            if not isinstance(entry, dict):
                continue
            name = as_str(entry.get("name"))
            if name is None:
                continue
            known = models.setdefault(name, ModelRecord(name=name))
            # One entry per version; the model runs if any version is READY.
            known.running = known.running or entry.get("state") == "READY"
        return list(models.values())
