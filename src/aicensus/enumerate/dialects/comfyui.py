"""ComfyUI: GET /models/checkpoints lists the checkpoint files it can load."""

from __future__ import annotations

import posixpath

from aicensus.enumerate.base import Dialect, Exchanges, ok_json
from aicensus.records import ModelRecord

MAX_MODELS = 10_000


class ComfyUIDialect(Dialect):
    name = "comfyui"

    def parse(self, exchanges: Exchanges) -> list[ModelRecord]:
        doc = ok_json(exchanges.get("checkpoints"))
        if not isinstance(doc, list):
            return []
        models: dict[str, ModelRecord] = {}
        for item in doc[:MAX_MODELS]:
            if not isinstance(item, str) or not item:
                continue
            name = item[:512]
            ext = posixpath.splitext(name.replace("\\", "/"))[1].lower().lstrip(".")
            record = ModelRecord(name=name, format=ext or None, capabilities=["image"])
            models.setdefault(name, record)
        return list(models.values())
