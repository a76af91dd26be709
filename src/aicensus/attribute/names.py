"""Pure helpers that take model names apart: Ollama names, Hugging Face ids, GGUF file names."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_TOKEN = re.compile(r"[a-z]+|\d+(?:\.\d+)*")
_HF_PREFIXES = ("https://huggingface.co/", "http://huggingface.co/", "huggingface.co/", "hf.co/")
_OLLAMA_PREFIXES = ("https://ollama.com/", "ollama.com/", "registry.ollama.ai/")
_SHARD = re.compile(r"-\d{5}-of-\d{5}$")


_SIZE_UNITS = frozenset({"b", "m", "k", "t"})


def tokens(text: str) -> tuple[str, ...]:
    """Lower-cased letter runs and number runs: 'Qwen2.5-7B' -> ('qwen', '2.5', '7', 'b')."""
    return tuple(_TOKEN.findall(text.lower()))


def name_tokens(text: str) -> tuple[str, ...]:
    """Tokens without parameter sizes ('7b', '22m', '1t'), which sit anywhere inside model names:
    'Wizard-Vicuna-13B-Uncensored' -> ('wizard', 'vicuna', 'uncensored'). A number glued to a single
    letter ('command-r7b', 'a3b') is part of the name and stays."""
    toks = tokens(text)
    out: list[str] = []
    i = 0
    while i < len(toks):
        # a number glued to a single letter ('command-r7b', 'a3b', '8x7b') is part of the name
        glued = i > 0 and len(toks[i - 1]) == 1 and toks[i - 1].isalpha()
        if i + 1 < len(toks) and toks[i][0].isdigit() and toks[i + 1] in _SIZE_UNITS and not glued:
            i += 2
            continue
        out.append(toks[i])
        i += 1
    return tuple(out)


@dataclass(frozen=True, slots=True)
class NameRef:
    """One model name taken apart.

    kind is 'library' (official Ollama name), 'repo' (``owner/model``: an Ollama community upload
    or a Hugging Face id), 'hf' (an explicit ``hf.co/owner/repo`` pull) or 'file' (a GGUF file name).
    For 'hf' the tag is a quantisation, not an Ollama tag.
    """

    raw: str
    kind: str
    model: str
    owner: str | None = None
    tag: str | None = None
    cloud: bool = False


@functools.lru_cache(maxsize=65_536)  # the same names recur in every inventory; NameRef is frozen
def parse_name(name: str) -> NameRef:
    raw = name.strip()
    if raw.lower().endswith(".gguf"):
        return NameRef(raw=raw, kind="file", model=gguf_stem(raw))
    body, kind = _strip_host(raw)
    path, tag = _split_tag(body)
    parts = [p for p in path.split("/") if p]
    if not parts:
        return NameRef(raw=raw, kind="library", model="", tag=tag)
    if len(parts) >= 2 and parts[-2] == "library" and kind != "hf":
        parts = parts[-1:]
    if len(parts) == 1:
        return NameRef(
            raw=raw, kind="library", model=parts[0], tag=tag, cloud=is_cloud_tag(tag, parts[0])
        )
    owner, model = parts[-2], parts[-1]
    kind = kind or "repo"
    return NameRef(
        raw=raw, kind=kind, model=model, owner=owner, tag=tag, cloud=is_cloud_tag(tag, model)
    )


def _strip_host(raw: str) -> tuple[str, str | None]:
    low = raw.lower()
    for prefix in _HF_PREFIXES:
        if low.startswith(prefix):
            return raw[len(prefix) :], "hf"
    for prefix in _OLLAMA_PREFIXES:
        if low.startswith(prefix):
            return raw[len(prefix) :], None
    return raw, None


def _split_tag(body: str) -> tuple[str, str | None]:
    head, sep, tail = body.rpartition(":")
    if not sep or "/" in tail:
        return body, None
    return head, (tail or None)


def is_cloud_tag(tag: str | None, model: str = "") -> bool:
    """True for Ollama names that proxy to ollama.com's hosted inference (no local weights)."""
    tag = (tag or "").lower()
    return tag == "cloud" or tag.endswith("-cloud") or model.lower().endswith("-cloud")


def is_cloud_name(name: str) -> bool:
    """True when an Ollama model name (``glm-5:cloud``, ``gpt-oss:120b-cloud``) runs remotely."""
    ref = parse_name(name)
    return ref.kind != "file" and ref.cloud


def gguf_stem(filename: str) -> str:
    """'models/google_gemma-3-4b-it-Q4_K_M-00001-of-00002.gguf' -> 'google_gemma-3-4b-it-Q4_K_M'."""
    stem = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if stem.lower().endswith(".gguf"):
        stem = stem[: -len(".gguf")]
    return _SHARD.sub("", stem)


def normalise_org(text: str) -> str:
    """GGUF general.organization ('Meta Llama', 'Deepseek Ai') -> HF-style id ('meta-llama')."""
    return re.sub(r"[\s_]+", "-", text.strip().lower())


def split_owner_prefix(repo: str, known: frozenset[str]) -> tuple[str, str] | None:
    """Re-uploaders often prefix the original owner: 'google_gemma-3-4b-it', 'huihui-ai.QwQ-32B'."""
    for sep in ("_", "."):
        owner, found, rest = repo.partition(sep)
        if found and rest and owner.lower() in known:
            return owner, rest
    return None


def hf_repo_from_url(url: str) -> tuple[str, str] | None:
    """'https://huggingface.co/Qwen/Qwen2.5-7B' -> ('Qwen', 'Qwen2.5-7B')."""
    low = url.lower()
    for prefix in _HF_PREFIXES:
        if low.startswith(prefix):
            parts = [p for p in url[len(prefix) :].split("/") if p]
            if len(parts) >= 2:
                return parts[0], parts[1]
    return None
