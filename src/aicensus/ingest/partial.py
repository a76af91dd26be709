"""Recorded data with less than a live scan: what a lone Ollama model list still says.

A live scan of an Ollama sends `/`, `/api/version`, `/api/tags` and `/api/ps`; a recording
(a responses file, a zgrab2 `--endpoint /api/tags` run) often holds only one of them, and the
signature (banner 0.6, tags 0.3) then stays below its threshold. In the wild the commonest such
record is `{"models":[]}`: an Ollama with nothing pulled.

So, for recorded services only, and only when the recorded responses identify nothing: on
Ollama's own port (11434), a 200 from `GET /api/tags` or `GET /api/ps` whose JSON body is an
object with the single key `models`, a list whose entries (if any) each carry a name and a
`digest`, as Ollama's ListModelResponse / ProcessModelResponse do, is read as Ollama with a
lower confidence (0.5, the signature's threshold) and the evidence saying why. The narrow shape
keeps look-alikes out: llama.cpp's /api/tags adds `object` and `data`, KoboldCpp's entries have
no digest, and any other port is left alone. `/api/ps` entries are the running models.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from aicensus import pipeline
from aicensus.enumerate.dialects.ollama import OllamaDialect
from aicensus.fingerprint.schema import Signature
from aicensus.records import (
    AuthState,
    Evidence,
    Exchange,
    ProductClaim,
    RecordedService,
    ServiceObservation,
)

OLLAMA_PORT = 11434
CONFIDENCE = 0.5
_PATHS = {"/api/tags": "tags", "/api/ps": "ps"}


def _model_list(exchange: Exchange) -> bool:
    """Whether a response is exactly Ollama's model-list shape."""
    if exchange.status != 200 or exchange.method != "GET":
        return False
    doc = exchange.json()
    if not isinstance(doc, dict) or set(doc) != {"models"} or not isinstance(doc["models"], list):
        return False
    return all(
        isinstance(m, dict) and (m.get("name") or m.get("model")) and m.get("digest")
        for m in doc["models"]
    )


def ollama_claim(service: RecordedService) -> ProductClaim | None:
    """Ollama from a lone /api/tags or /api/ps in Ollama's exact shape on port 11434."""
    if service.claim is not None or service.target.port != OLLAMA_PORT:
        return None
    found = {
        _PATHS[ex.path]: ex for ex in service.exchanges if ex.path in _PATHS and _model_list(ex)
    }
    if not found:
        return None
    paths = " and ".join(f"/api/{name}" for name in sorted(found))
    probe = "recorded:ollama-model-list"
    marker = (
        f"only {paths} recorded: a JSON object with the single key models, in Ollama's shape, "
        f"on Ollama's port {OLLAMA_PORT}"
    )
    return ProductClaim(
        product="ollama",
        confidence=CONFIDENCE,
        probe=probe,
        label="an Ollama model list",
        models=OllamaDialect().parse(found),
        evidence=[Evidence(kind="match", probe=probe, marker=marker, weight=CONFIDENCE)],
        auth=AuthState.OPEN,
        auth_evidence=[
            Evidence(kind="auth", probe=probe, marker=f"{paths} answered 200 without credentials")
        ],
    )


def observe(service: RecordedService, sigs: Sequence[Signature]) -> ServiceObservation:
    """`pipeline.observe_recorded`, then, if nothing was identified, the model-list rule."""
    obs = pipeline.observe_recorded(service, sigs)
    if obs.product is not None:
        return obs
    claim = ollama_claim(service)
    if claim is None:
        return obs
    return pipeline.observe_recorded(msgspec.structs.replace(service, claim=claim), sigs)
