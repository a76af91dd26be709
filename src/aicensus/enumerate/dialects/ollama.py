"""Ollama: /api/tags (installed), /api/ps (loaded) and POST /api/show (details)."""

from __future__ import annotations

import msgspec

from aicensus.enumerate.base import (
    Dialect,
    Exchanges,
    as_int,
    as_str,
    digest_text,
    ok_json,
    parse_param_size,
    str_list,
)
from aicensus.records import Exchange, ModelRecord, ProbeRequest

MAX_MODELS = 10_000  # a hostile server may claim millions


class ShowResponse(msgspec.Struct):
    """The parts of POST /api/show we keep; `tensors` (often 20 KB) is skipped unparsed."""

    license: object = None
    template: object = None
    system: object = None
    capabilities: object = None
    model_info: object = None


_show_decoder = msgspec.json.Decoder(ShowResponse)


def decode_show(exchange: Exchange) -> ShowResponse | None:
    if exchange.status is None or not 200 <= exchange.status < 300:
        return None
    try:
        return _show_decoder.decode(exchange.body)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return None


def model_from_entry(entry: dict[str, object]) -> ModelRecord | None:
    name = as_str(entry.get("name")) or as_str(entry.get("model"))
    if name is None:
        return None
    details = entry.get("details")
    details = details if isinstance(details, dict) else {}
    param_size = as_str(details.get("parameter_size"), 32)
    return ModelRecord(
        name=name,
        digest=as_str(entry.get("digest"), 128),
        size_bytes=as_int(entry.get("size")),
        format=as_str(details.get("format"), 32),
        family=as_str(details.get("family"), 64),
        families=str_list(details.get("families")),
        parameter_size=param_size,
        parameter_count=parse_param_size(param_size),
        quantization=as_str(details.get("quantization_level"), 32),
        context_length=as_int(details.get("context_length")) or None,
        capabilities=str_list(entry.get("capabilities")),
        remote=bool(entry.get("remote_host") or entry.get("remote_model")),
    )


def _entries(doc: object) -> list[dict[str, object]]:
    models = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(models, list):
        return []
    return [m for m in models[:MAX_MODELS] if isinstance(m, dict)]


class OllamaDialect(Dialect):
    name = "ollama"

    def parse(self, exchanges: Exchanges) -> list[ModelRecord]:
        models: dict[str, ModelRecord] = {}
        for entry in _entries(ok_json(exchanges.get("tags"))):
            record = model_from_entry(entry)
            if record is not None:
                models.setdefault(record.name, record)
        for entry in _entries(ok_json(exchanges.get("ps"))):
            self._mark_running(models, entry)
        return list(models.values())

    @staticmethod
    def _mark_running(models: dict[str, ModelRecord], entry: dict[str, object]) -> None:
        record = model_from_entry(entry)
        if record is None:
            return
        known = models.setdefault(record.name, record)
        known.running = True
        known.vram_bytes = as_int(entry.get("size_vram"))
        known.context_length = as_int(entry.get("context_length")) or known.context_length

    def followups(self, models: list[ModelRecord]) -> list[tuple[ModelRecord, ProbeRequest]]:
        return [
            (m, ProbeRequest(method="POST", path="/api/show", json_body={"model": m.name}))
            for m in models
            if not m.remote
        ]

    def apply_followup(self, model: ModelRecord, exchange: Exchange) -> None:
        show = decode_show(exchange)
        if show is None:
            return
        model.capabilities = str_list(show.capabilities) or model.capabilities
        model.chat_template = digest_text(show.template)
        model.system_prompt = digest_text(show.system)
        licence = as_str(show.license, 100_000)
        if licence and licence.strip():
            model.licence_name = licence.strip().splitlines()[0][:120]
        if isinstance(show.model_info, dict):
            self._apply_model_info(model, show.model_info)

    @staticmethod
    def _apply_model_info(model: ModelRecord, info: dict[str, object]) -> None:
        arch = as_str(info.get("general.architecture"), 64)
        model.architecture = arch
        model.parameter_count = as_int(info.get("general.parameter_count")) or model.parameter_count
        if arch:
            ctx = as_int(info.get(f"{arch}.context_length"))
            model.context_length = model.context_length or ctx
