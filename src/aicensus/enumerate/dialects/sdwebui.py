"""AUTOMATIC1111 / Forge: GET /sdapi/v1/sd-models lists the installed checkpoints."""

from __future__ import annotations

import posixpath

from aicensus.enumerate.base import Dialect, Exchanges, as_str, ok_json
from aicensus.records import ModelRecord

MAX_MODELS = 10_000


def _format(filename: str | None) -> str | None:
    if not filename:
        return None
    ext = posixpath.splitext(filename.replace("\\", "/"))[1].lower().lstrip(".")
    return ext or None


class SDWebUIDialect(Dialect):
    name = "sdwebui"

    def parse(self, exchanges: Exchanges) -> list[ModelRecord]:
        doc = ok_json(exchanges.get("sd_models"))
        if not isinstance(doc, list):
            return []
        models: dict[str, ModelRecord] = {}
        for entry in doc[:MAX_MODELS]:
            if not isinstance(entry, dict):
                continue
            name = as_str(entry.get("model_name")) or as_str(entry.get("title"))
            if name is None:
                continue
            models.setdefault(
                name,
                ModelRecord(
                    name=name,
                    digest=as_str(entry.get("sha256"), 128) or as_str(entry.get("hash"), 128),
                    format=_format(as_str(entry.get("filename"))),
                    capabilities=["image"],
                ),
            )
        return list(models.values())
