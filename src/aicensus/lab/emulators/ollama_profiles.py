"""Per-address Ollama profiles and the response bodies they serve.

A profile is what one Ollama install looks like from outside: its version, the
models it has pulled (and when), which of them are loaded, the server's time
zone and models directory. 127.0.0.1 (and any single-address run) gets the fixed
profile; every other loopback address gets one derived deterministically from
the address. Static bodies are encoded once per profile.

Version-dependent shapes (first Ollama release with the feature, from the
ollama/ollama history): HandleMethodNotAllowed 0.7.0, /v1/models 0.2.0,
/api/status 0.16.2, show `capabilities` 0.6.4 (`thinking` 0.9.0), show
`tensors` 0.6.1, /api/ps `context_length` 0.10.0, /api/tags `capabilities` and
details `context_length`/`embedding_length` 0.30.0.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
from dataclasses import dataclass, field
from functools import cache, cached_property

from aicensus.lab.emulators.common import GoMap, RawJSON, go_json, go_json_bytes, go_time_ns
from aicensus.lab.emulators.ollama_models import FIXED_MODELS, FIXED_RUNNING, LICENSES, MODELS
from aicensus.lab.emulators.ollama_models import ModelSpec as ModelSpec

DEFAULT_VERSION = "0.32.15"  # newest stable tag in the ollama/ollama history read (2026-08-19)

# (version, release date) pairs the derived profiles draw from.
VERSION_POOL: tuple[tuple[str, dt.date], ...] = (
    ("0.1.48", dt.date(2024, 6, 29)),
    ("0.3.14", dt.date(2024, 10, 22)),
    ("0.5.7", dt.date(2025, 1, 17)),
    ("0.6.8", dt.date(2025, 5, 3)),
    ("0.9.6", dt.date(2025, 7, 8)),
    ("0.11.10", dt.date(2025, 9, 4)),
    ("0.12.6", dt.date(2025, 10, 16)),
    ("0.13.5", dt.date(2025, 12, 10)),
    ("0.17.7", dt.date(2026, 2, 20)),
    ("0.30.11", dt.date(2026, 6, 30)),
    ("0.32.15", dt.date(2026, 8, 19)),
)

TIMEZONES: tuple[dt.timezone, ...] = tuple(
    dt.timezone(dt.timedelta(minutes=m)) for m in (0, 120, -420, 480, 330, -240, 60)
)
MODELS_DIRS = (
    "/root/.ollama/models",
    "/usr/share/ollama/.ollama/models",
    "/home/ubuntu/.ollama/models",
)
KEEP_ALIVE = dt.timedelta(minutes=5)
FOREVER = dt.timedelta(microseconds=(2**63 - 1) // 1000)  # keep_alive -1: now + MaxInt64 ns


@cache  # a handful of distinct versions, compared on every routed request
def version_tuple(version: str) -> tuple[int, ...]:
    core = version.lstrip("v").split("-", 1)[0]
    parts: list[int] = []
    for piece in core.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def at_least(version: str, minimum: str) -> bool:
    return version_tuple(version) >= version_tuple(minimum)


# --------------------------------------------------------------------------- names


def parse_name(text: str) -> tuple[str, str, str, str] | None:
    """(host, namespace, model, tag) like Ollama's model.ParseName, lower-cased; None if invalid."""
    text = text.strip().split("@", 1)[0]
    if not text:
        return None
    head, slash, last = text.rpartition("/")
    model, _, tag = last.partition(":")
    parts = [*(head.split("/") if slash else []), model]
    if len(parts) > 3 or any(not p for p in parts):
        return None
    host = parts[-3] if len(parts) == 3 else "registry.ollama.ai"
    namespace = parts[-2] if len(parts) >= 2 else "library"
    return (host.lower(), namespace.lower(), model.lower(), (tag or "latest").lower())


def namespace_of(name: str) -> str:
    """`owned_by` in the OpenAI routes: the name's namespace, case kept."""
    head, slash, _ = name.strip().rpartition("/")
    if not slash:
        return "library"
    return head.rsplit("/", 1)[-1]


# --------------------------------------------------------------------------- profile


@dataclass(frozen=True)
class Running:
    keep_forever: bool
    context_length: int
    vram_fraction: float  # 1.0 all on GPU, 0.0 CPU only


@dataclass
class Profile:
    address: str
    version: str
    models: tuple[ModelSpec, ...]  # most recently modified first, as /api/tags lists them
    modified: dict[str, tuple[dt.datetime, int]]  # name -> (time, nanoseconds)
    running: dict[str, Running]
    tz: dt.timezone
    models_dir: str
    cloud_disabled: bool = False
    fixed: bool = False
    _ps_cache: tuple[float, bytes] = field(default=(0.0, b""), repr=False)
    _show_cache: dict[str, bytes] = field(default_factory=dict, repr=False)

    # ---- helpers
    def has(self, minimum: str) -> bool:
        return at_least(self.version, minimum)

    def find(self, name: str) -> ModelSpec | None:
        key = parse_name(name)
        if key is None:
            return None
        return self._by_key.get(key)

    @cached_property
    def _by_key(self) -> dict[tuple[str, str, str, str], ModelSpec]:
        out: dict[tuple[str, str, str, str], ModelSpec] = {}
        for model in self.models:
            key = parse_name(model.name)
            if key is not None:
                out[key] = model
        return out

    def modified_at(self, model: ModelSpec) -> str:
        moment, nanos = self.modified[model.name]
        return go_time_ns(moment, nanos)

    def created(self, model: ModelSpec) -> int:
        return int(self.modified[model.name][0].timestamp())

    def capabilities(self, model: ModelSpec) -> list[str]:
        caps = list(model.capabilities)
        if not self.has("0.9.0"):
            caps = [c for c in caps if c != "thinking"]
        return caps

    def details(self, model: ModelSpec, *, lengths: bool = False) -> dict[str, object]:
        out: dict[str, object] = {
            "parent_model": model.parent_model,
            "format": "gguf",
            "family": model.family,
            "families": list(model.families),
            "parameter_size": model.parameter_size,
            "quantization_level": model.quant,
        }
        if lengths:
            out["context_length"] = model.context_length
            out["embedding_length"] = model.embedding_length
        return out

    # ---- static bodies
    @cached_property
    def version_body(self) -> bytes:
        return go_json_bytes({"version": self.version})

    @cached_property
    def status_body(self) -> bytes:
        source = "env" if self.cloud_disabled else "none"
        return go_json_bytes({"cloud": {"disabled": self.cloud_disabled, "source": source}})

    @cached_property
    def tags_body(self) -> bytes:
        return go_json_bytes({"models": [self._tags_entry(m) for m in self.models]})

    def _tags_entry(self, model: ModelSpec) -> dict[str, object]:
        new = self.has("0.30.0")
        entry: dict[str, object] = {
            "name": model.name,
            "model": model.name,
            "modified_at": self.modified_at(model),
            "size": model.size,
            "digest": model.digest,
            "details": _details_json(self, model, new),
        }
        if new:
            entry["capabilities"] = self.capabilities(model)
        return entry

    @cached_property
    def v1_models_body(self) -> bytes:
        data = [self.v1_model(m.name, m) for m in self.models] or None
        return go_json_bytes({"object": "list", "data": data}) + b"\n"

    def v1_model(self, requested: str, model: ModelSpec) -> dict[str, object]:
        return {
            "id": requested,
            "object": "model",
            "created": self.created(model),
            "owned_by": namespace_of(requested),
        }

    def show_body(self, model: ModelSpec) -> bytes:
        """The /api/show body for one of this profile's models (encoded once).

        Everything but the last field, `modified_at`, depends only on the model, the models
        directory and the version's features, so that head is encoded once for all profiles
        that share them (go_json writes a dict's fields in order: the body is the head's
        encoding without its closing brace, then the last field)."""
        body = self._show_cache.get(model.name)
        if body is None:
            key = (model, self.models_dir, self.has("0.6.1"), self.has("0.6.4"), self.has("0.9.0"))
            head = _SHOW_HEADS.get(key)
            if head is None:
                head = go_json_bytes(self._show_head(model))[:-1]
                if len(_SHOW_HEADS) < _SHARED_LIMIT:
                    _SHOW_HEADS[key] = head
            last = b',"modified_at":' + go_json_bytes(self.modified_at(model)) + b"}"
            body = self._show_cache[model.name] = head + last
        return body

    def _show(self, model: ModelSpec) -> dict[str, object]:
        out = self._show_head(model)
        out["modified_at"] = self.modified_at(model)
        return out

    def _show_head(self, model: ModelSpec) -> dict[str, object]:
        """/api/show's fields but the last (`modified_at`), in Ollama's order."""
        out: dict[str, object] = {
            "license": LICENSES[model.license],
            "modelfile": self._modelfile(model),
        }
        if model.parameters:
            out["parameters"] = "\n".join(f"{k:<30} {_go_sharp_v(v)}" for k, v in model.parameters)
        out["template"] = model.template
        if model.system:
            out["system"] = model.system
        out["details"] = self.details(model)
        out["model_info"] = _encoded(model, "model_info")
        if model.projector:
            out["projector_info"] = _encoded(model, "projector_info")
        if self.has("0.6.1"):
            out["tensors"] = _encoded(model, "tensors")
        if self.has("0.6.4"):
            out["capabilities"] = self.capabilities(model)
        return out

    def _modelfile(self, model: ModelSpec) -> str:
        lines = [
            '# Modelfile generated by "ollama show"',
            "# To build a new Modelfile based on this, replace FROM with:",
            f"# FROM {model.name}",
            "",
            f"FROM {self.models_dir}/blobs/sha256-{model.layer_digest}",
            f'TEMPLATE """{model.template}"""',
        ]
        if model.system:
            lines.append(f'SYSTEM """{model.system}"""')
        lines += [f"PARAMETER {k} {_plain(v)}" for k, v in model.parameters]
        lines.append(f'LICENSE """{LICENSES[model.license]}"""')
        return "\n".join(lines) + "\n"

    # ---- dynamic body
    def ps_body(self) -> bytes:
        now = time.time()
        stamp, body = self._ps_cache
        if body and now - stamp < 1.0:
            return body
        body = go_json_bytes({"models": self._ps_entries(now)})
        self._ps_cache = (now, body)
        return body

    def _ps_entries(self, now: float) -> list[dict[str, object]]:
        entries: list[tuple[dt.datetime, dict[str, object]]] = []
        current = dt.datetime.fromtimestamp(now, self.tz)
        for model in self.models:
            run = self.running.get(model.name)
            if run is None:
                continue
            expires = current + (FOREVER if run.keep_forever else _remaining(model.name, now))
            entries.append((expires, self._ps_entry(model, run, expires)))
        entries.sort(key=lambda pair: pair[0], reverse=True)
        return [entry for _, entry in entries]

    def _ps_entry(self, model: ModelSpec, run: Running, expires: dt.datetime) -> dict[str, object]:
        kv_bytes = 2 * model.block_count * run.context_length * model.embedding_length // 4
        total = model.size + kv_bytes + 300 * 1024 * 1024
        entry: dict[str, object] = {
            "name": model.name,
            "model": model.name,
            "size": total,
            "digest": model.digest,
            "details": self.details(model),
            "expires_at": go_time_ns(expires, expires.microsecond * 1000 + 417),
            "size_vram": int(total * run.vram_fraction),
        }
        if self.has("0.10.0"):
            entry["context_length"] = run.context_length
        return entry


# Encoded parts that profiles share, built once for all of them (bounded: a handful of
# models × directories × version features).
_SHARED_LIMIT = 4096
_SHOW_HEADS: dict[tuple[object, ...], bytes] = {}
_DETAILS: dict[tuple[ModelSpec, bool], RawJSON] = {}


def _details_json(profile: Profile, model: ModelSpec, lengths: bool) -> RawJSON:
    """profile.details(model, lengths=...) encoded (it depends on the model alone)."""
    encoded = _DETAILS.get((model, lengths))
    if encoded is None:
        encoded = RawJSON(go_json(profile.details(model, lengths=lengths)))
        if len(_DETAILS) < _SHARED_LIMIT:
            _DETAILS[(model, lengths)] = encoded
    return encoded


def _remaining(name: str, now: float) -> dt.timedelta:
    """Time left of a 5-minute keep-alive, cycling so the model always looks recently used."""
    phase = int(hashlib.sha256(name.encode()).hexdigest()[:6], 16) % 300
    left = 300 - ((int(now) + phase) % 240)
    return dt.timedelta(seconds=left)


def _plain(value: object) -> str:
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def _go_sharp_v(value: object) -> str:
    """fmt's %#v for the JSON-decoded option values Ollama stores (strings, float64s)."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return _plain(value)


# --------------------------------------------------------------------------- GGUF views


@cache
def _encoded(model: ModelSpec, part: str) -> RawJSON:
    """The JSON of a profile-independent part of /api/show, encoded once per model."""
    build = {"model_info": model_info, "projector_info": projector_info, "tensors": tensors}
    return RawJSON(go_json(build[part](model)))


def _ff_length(model: ModelSpec) -> int:
    return max(256, round(model.embedding_length * 3.5 / 256) * 256)


def model_info(model: ModelSpec) -> GoMap:
    arch = model.arch
    info = GoMap(
        {
            "general.architecture": arch,
            "general.file_type": model.file_type,
            "general.parameter_count": model.parameter_count,
            "general.quantization_version": 2,
            f"{arch}.attention.head_count": model.head_count,
            f"{arch}.attention.head_count_kv": model.head_count_kv,
            f"{arch}.block_count": model.block_count,
            f"{arch}.context_length": model.context_length,
            f"{arch}.embedding_length": model.embedding_length,
            f"{arch}.feed_forward_length": _ff_length(model),
            "tokenizer.ggml.model": model.tokenizer[0],
            "tokenizer.ggml.pre": model.tokenizer[1],
            "tokenizer.ggml.token_type": [],
            "tokenizer.ggml.tokens": [],
            "tokenizer.ggml.bos_token_id": 1,
            "tokenizer.ggml.eos_token_id": 2,
        }
    )
    if model.tokenizer[0] == "gpt2":
        info["tokenizer.ggml.merges"] = []
    if model.rope_freq_base is not None:
        info[f"{arch}.rope.freq_base"] = model.rope_freq_base
        info[f"{arch}.attention.layer_norm_rms_epsilon"] = 1e-06 if "qwen" in arch else 1e-05
    info.update(dict(model.extra_info))
    return info


def projector_info(model: ModelSpec) -> GoMap:
    return GoMap(
        {
            "general.architecture": "clip",
            "general.file_type": 1,
            "general.parameter_count": 311898624,
            "clip.has_vision_encoder": True,
            "clip.vision.block_count": 23,
            "clip.vision.embedding_length": 1024,
            "clip.vision.image_size": 336,
            "clip.vision.patch_size": 14,
            "clip.projector_type": "mlp",
        }
    )


def tensors(model: ModelSpec) -> list[dict[str, object]]:
    emb = model.embedding_length
    kv = emb // max(model.head_count, 1) * model.head_count_kv
    ff = _ff_length(model)
    weight = {"Q4_K_M": "Q4_K", "F16": "F16"}.get(model.quant, "Q4_0")
    vocab = 151936 if model.tokenizer[1].startswith("qwen") else 128256
    out: list[dict[str, object]] = [
        {"name": "token_embd.weight", "type": weight, "shape": [emb, vocab]}
    ]
    for i in range(model.block_count):
        b = f"blk.{i}"
        out += [
            {"name": f"{b}.attn_norm.weight", "type": "F32", "shape": [emb]},
            {"name": f"{b}.attn_q.weight", "type": weight, "shape": [emb, emb]},
            {"name": f"{b}.attn_k.weight", "type": weight, "shape": [emb, kv]},
            {"name": f"{b}.attn_v.weight", "type": "Q6_K", "shape": [emb, kv]},
            {"name": f"{b}.attn_output.weight", "type": weight, "shape": [emb, emb]},
            {"name": f"{b}.ffn_norm.weight", "type": "F32", "shape": [emb]},
            {"name": f"{b}.ffn_gate.weight", "type": weight, "shape": [emb, ff]},
            {"name": f"{b}.ffn_up.weight", "type": weight, "shape": [emb, ff]},
            {"name": f"{b}.ffn_down.weight", "type": "Q6_K", "shape": [ff, emb]},
        ]
    out.append({"name": "output_norm.weight", "type": "F32", "shape": [emb]})
    return out


# --------------------------------------------------------------------------- builders


def _moment(
    rng: random.Random, tz: dt.timezone, before: dt.date, span_days: int
) -> tuple[dt.datetime, int]:
    base = dt.datetime.combine(before, dt.time(12, 0), tz)
    moment = base - dt.timedelta(seconds=rng.randrange(3600, span_days * 86400))
    return moment.replace(microsecond=0), rng.randrange(1, 10**9)


def _newest_first(
    names: tuple[str, ...] | list[str], modified: dict[str, tuple[dt.datetime, int]]
) -> tuple[ModelSpec, ...]:
    return tuple(sorted((MODELS[n] for n in names), key=lambda m: modified[m.name], reverse=True))


def fixed_profile(address: str, version: str = DEFAULT_VERSION) -> Profile:
    """The documented profile served on 127.0.0.1 and by single-address runs."""
    tz = TIMEZONES[0]
    rng = random.Random("aicensus-lab-fixed")
    anchor = dt.date(2025, 10, 1)
    modified = {
        name: _moment(rng, tz, anchor - dt.timedelta(days=9 * i), 5)
        for i, name in enumerate(FIXED_MODELS)
    }
    models = _newest_first(FIXED_MODELS, modified)
    running = {n: Running(False, 4096, 1.0) for n in FIXED_RUNNING}
    return Profile(address, version, models, modified, running, tz, MODELS_DIRS[0], fixed=True)


def derived_profile(address: str, version: str | None = None) -> Profile:
    """A deterministic profile for `address`: same address, same answers, every run."""
    rng = random.Random(hashlib.sha256(f"aicensus-lab/ollama/{address}".encode()).digest())
    chosen_version, released = rng.choice(VERSION_POOL)
    version = version or chosen_version
    tz = rng.choice(TIMEZONES)
    eligible = sorted(n for n, m in MODELS.items() if at_least(version, m.min_version))
    names = rng.sample(eligible, rng.randint(1, min(4, len(eligible))))
    modified = {n: _moment(rng, tz, released, 200) for n in names}
    models = _newest_first(names, modified)
    running: dict[str, Running] = {}
    for name in names:
        if rng.random() < 0.35 and len(running) < 2:
            ctx = rng.choice((2048, 4096, 8192, 32768))
            running[name] = Running(rng.random() < 0.3, ctx, rng.choice((1.0, 1.0, 0.0, 0.62)))
    return Profile(
        address, version, models, modified, running, tz, rng.choice(MODELS_DIRS),
        cloud_disabled=rng.random() < 0.2,
    )  # fmt: skip


def profile_for(address: str, *, single: bool, version: str | None = None) -> Profile:
    """The profile an emulator answering on `address` serves."""
    if single or address == "127.0.0.1":
        return fixed_profile(address, version or DEFAULT_VERSION)
    return derived_profile(address, version)
