"""Censys host records: the Platform API (`host.services[]`, with the `ollama` service object)
and the older Search 2.0 host format, as JSON Lines, a JSON array, or saved API responses.

Accepted shapes, one per line (or as elements of an array):

* a Platform host: `{"ip": …, "services": [service, …]}`, also wrapped as
  `{"resource": host}`, `{"result": {"resource": host}}` or a search page
  `{"result": {"hits": [{"host_v1": {"resource": host}}, …]}}`;
* a single Platform service record: `{"ip": …, "port": …, "protocol": "HTTP", …}`;
* a Search 2.0 host: `{"ip": …, "services": [{"port", "service_name", "observed_at",
  "http": {"request": {"uri"}, "response": {"status_code", "headers", "body"}}}]}`.

Mapping (docs/measurement.md). One observation per service (ip, port), timed by the service's
`scan_time` (Platform) or `observed_at` (Search 2.0), else the host's `last_updated_at`:

* HTTP responses the record carries (Platform `endpoints[].http`, Search 2.0 `http.response`)
  are fingerprinted as a scan's responses would be;
* the Platform `ollama` object (`models[]`, `running_models[]`, `version`; each model with
  `name`, `model`, `digest`, `family`, `parent_model`, `size`, `size_vram`, `expires_at`) makes
  the service `ollama`, status `identified`, with that version and those models: `models` is
  `/api/tags`, and a model also in `running_models` (same name or digest) is `running`, with
  `size_vram` as `vram_bytes`. Censys read them without credentials, so auth is `open`. The
  schema has no quantization, parameter size or capabilities, so those stay empty unless the
  record also carries Ollama's own `details` object per model. Models are attributed (developer,
  country) like a scan's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from aicensus.enumerate.base import as_int, as_str
from aicensus.enumerate.dialects.ollama import model_from_entry
from aicensus.ingest.common import (
    BadRecord,
    Recorded,
    RecordError,
    check_ip,
    check_port,
    check_time,
    iter_json_file,
    merged,
    reason,
    skip,
)
from aicensus.records import (
    AuthState,
    Evidence,
    Exchange,
    ModelRecord,
    ProductClaim,
    RecordedService,
    Target,
)

SOURCE = "censys"
MAX_MODELS = 10_000


# ---------------------------------------------------------------- the ollama object


def ollama_models(obj: dict[str, object]) -> list[ModelRecord]:
    """Models of a Censys (or Shodan) `ollama` object, with running ones marked."""
    models: dict[str, ModelRecord] = {}
    for entry in _entries(obj.get("models")):
        record = _model(entry)
        if record is not None:
            models.setdefault(record.name, record)
    by_digest = {m.digest: m for m in models.values() if m.digest}
    for entry in _entries(obj.get("running_models")):
        record = _model(entry)
        if record is None:
            continue
        known = models.get(record.name) or (by_digest.get(record.digest) if record.digest else None)
        if known is None:
            known = models.setdefault(record.name, record)
        known.running = True
        known.vram_bytes = as_int(entry.get("size_vram"))
    return list(models.values())


def _entries(value: object) -> list[dict[str, object]]:
    if not isinstance(value, list):
        return []
    return [v for v in value[:MAX_MODELS] if isinstance(v, dict)]


def _model(entry: dict[str, object]) -> ModelRecord | None:
    record = model_from_entry(entry)
    if record is None:
        return None
    family = as_str(entry.get("family"), 64)
    if family and not record.family:
        record.family = family
        record.families = record.families or [family]
    return record


def ollama_claim(obj: dict[str, object], source: str) -> ProductClaim:
    """What an `ollama` object says: Ollama, its version and models, readable without
    credentials (the source read them). Models are attributed when the claim is applied."""
    probe = f"{source}:ollama"
    models = ollama_models(obj)
    return ProductClaim(
        product="ollama",
        confidence=0.9,
        probe=probe,
        label=f"labelled Ollama by {source}",
        version=as_str(obj.get("version"), 64),
        models=models if models or "models" in obj else None,
        evidence=[
            Evidence(kind="match", probe=probe,
                     marker=f"{source} service record has an ollama object", weight=0.9)
        ],
        auth=AuthState.OPEN,
        auth_evidence=[
            Evidence(kind="auth", probe=probe,
                     marker=f"{source} read the Ollama API (models/version) without credentials")
        ],
    )  # fmt: skip


# ---------------------------------------------------------------- records


def _unwrap(value: object) -> Iterator[dict[str, object]]:
    """The host or service objects inside one JSON value."""
    if not isinstance(value, dict):
        raise RecordError("expected a JSON object")
    result = value.get("result")
    if isinstance(result, dict):
        value = result
    hits = value.get("hits")
    if isinstance(hits, list):
        for hit in hits:
            if isinstance(hit, dict):
                yield from _unwrap(hit.get("host_v1") or hit)
        return
    resource = value.get("resource")
    yield resource if isinstance(resource, dict) else value


def _headers(raw: object) -> dict[str, str]:
    headers: dict[str, str] = {}
    if not isinstance(raw, dict):
        return headers
    for name, value in raw.items():
        if name.startswith("_"):
            continue
        if isinstance(value, dict):
            value = value.get("headers")
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if isinstance(value, str):
            headers[str(name).replace("_", "-")] = value
    return headers


def _exchange(path: object, http: object) -> Exchange | None:
    if not isinstance(http, dict):
        return None
    response = http.get("response") if isinstance(http.get("response"), dict) else http
    assert isinstance(response, dict)
    request = http.get("request") if isinstance(http.get("request"), dict) else {}
    assert isinstance(request, dict)
    status = response.get("status_code")
    if not isinstance(status, int) or isinstance(status, bool):
        return None
    uri = as_str(path) or as_str(request.get("uri")) or as_str(http.get("uri")) or "/"
    if "://" in uri:
        uri = "/" + uri.split("://", 1)[1].partition("/")[2]
    body = response.get("body")
    return Exchange(
        method=str(request.get("method") or "GET").upper(),
        path=uri if uri.startswith("/") else f"/{uri}",
        status=status,
        headers=_headers(response.get("headers")),
        body=(body if isinstance(body, str) else "").encode("utf-8", errors="replace"),
    )


def _service_exchanges(service: dict[str, object]) -> list[Exchange]:
    exchanges: list[Exchange] = []
    endpoints = service.get("endpoints")
    if isinstance(endpoints, list):
        for endpoint in endpoints:
            if isinstance(endpoint, dict):
                ex = _exchange(endpoint.get("path"), endpoint.get("http"))
                if ex is not None:
                    exchanges.append(ex)
    ex = _exchange(None, service.get("http"))
    if ex is not None:
        exchanges.append(ex)
    return exchanges


def transport(service: dict[str, object]) -> str:
    """The service's transport: `tcp`, `udp` or `quic` (Censys lists QUIC apart from UDP)."""
    return str(service.get("transport_protocol") or "tcp").lower()


def _ollama(service: dict[str, object]) -> dict[str, object] | None:
    """The service's `ollama` object: on the service (older records) or, as the Platform's
    `EndpointScan` schema puts it, on one of its endpoints (`services[].endpoints[].ollama`)."""
    found = service.get("ollama")
    if isinstance(found, dict):
        return found
    endpoints = service.get("endpoints")
    for endpoint in endpoints if isinstance(endpoints, list) else []:
        if isinstance(endpoint, dict) and isinstance(endpoint.get("ollama"), dict):
            return endpoint["ollama"]  # type: ignore[no-any-return]
    return None


def service_record(
    ip: str, service: dict[str, object], fallback_time: object
) -> RecordedService | None:
    """A TCP service as recorded by Censys; None for UDP and QUIC (not HTTP over TCP)."""
    if transport(service) != "tcp":
        return None
    port = check_port(service.get("port"))
    when = service.get("scan_time") or service.get("observed_at") or fallback_time
    if when is None:  # say which field is missing, not "bad timestamp 'None'"
        raise RecordError("no scan_time (nor observed_at, nor the host's last_updated_at)")
    at = check_time(when)
    protocol = str(service.get("protocol") or service.get("service_name") or "").upper()
    tls = service.get("tls") or service.get("cert") or protocol == "HTTPS"
    scheme = "https" if tls else "http"
    exchanges = _service_exchanges(service)
    ollama = _ollama(service)
    claim = ollama_claim(ollama, SOURCE) if ollama is not None else None
    if exchanges or claim is not None:
        return RecordedService(
            target=Target(ip, port),
            source=SOURCE,
            observed_at=at,
            scheme=scheme,
            exchanges=exchanges,
            claim=claim,
        )
    return RecordedService(
        target=Target(ip, port),
        source=SOURCE,
        observed_at=at,
        evidence=[Evidence(kind="source-label", probe="censys", marker=protocol or "service")],
        error="service listed by Censys; no HTTP response recorded",
    )


def _services(obj: dict[str, object], number: int, part: Recorded) -> list[RecordedService]:
    """A host's services; a bad service is reported (with the host's line) and skipped."""
    ip = check_ip(obj.get("ip") or obj.get("host_ip"))
    services = obj.get("services")
    if services is None and "port" in obj:
        services = [obj]
    if not isinstance(services, list):
        raise RecordError("no 'services' list and no 'port'")
    fallback = obj.get("last_updated_at") or obj.get("scan_time") or obj.get("observed_at")
    found = []
    for index, service in enumerate(services):
        try:
            if not isinstance(service, dict):
                raise RecordError("not an object")
            recorded = service_record(ip, service, fallback)
        except RecordError as exc:
            part.bad.append(BadRecord(line=number, reason=f"{ip} service {index}: {reason(exc)}"))
            continue
        if recorded is None:
            skip(part, f"{transport(service)} services")
        else:
            found.append(recorded)
    return found


def records(path: str | Path) -> Iterator[Recorded]:
    """The file's records one at a time, read as they are needed (memory stays flat)."""
    return (_record(number, value) for number, value in iter_json_file(path))


def read(path: str | Path) -> Recorded:
    return merged(records(path))


def _record(number: int, value: object) -> Recorded:
    """One line (or array element): its hosts' services, or why it was skipped."""
    part = Recorded(services=[], records=1)
    try:
        if isinstance(value, RecordError):
            raise value
        for obj in _unwrap(value):
            try:
                part.services.extend(_services(obj, number, part))
            except RecordError as exc:
                part.bad.append(BadRecord(line=number, reason=reason(exc)))
    except RecordError as exc:
        part.bad.append(BadRecord(line=number, reason=reason(exc)))
    return part
