"""The one place that decides whether a request may be sent.

The scanner is read-only by construction: GET and HEAD to any path, and POST only to
the paths below with a body of the documented shape. Everything else raises
ReadOnlyViolation before a byte leaves the machine, whatever a signature file asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aicensus.errors import ReadOnlyViolation
from aicensus.records import ProbeRequest

SAFE_METHODS = frozenset({"GET", "HEAD"})


def _ollama_show_body(body: Mapping[str, object] | None) -> bool:
    # /api/show only reads a manifest; "model" is current, "name" is the pre-2024 field.
    if not body or not set(body) <= {"model", "name", "verbose"}:
        return False
    names_ok = all(isinstance(body[k], str) for k in ("model", "name") if k in body)
    return names_ok and isinstance(body.get("verbose", False), bool)


def _empty_body(body: Mapping[str, object] | None) -> bool:
    return not body


# path → validator of the JSON body. Each entry is a documented read-only POST.
READ_ONLY_POSTS: dict[str, Callable[[Mapping[str, object] | None], bool]] = {
    "/api/show": _ollama_show_body,  # Ollama: model details, template, system prompt
    "/v2/repository/index": _empty_body,  # Triton: model repository listing
}

# Paths whose names say they change state; refused even for GET, as a second guard.
_WRITE_WORDS = (
    "/api/pull", "/api/push", "/api/delete", "/api/create", "/api/copy", "/api/blobs",
    "/api/generate", "/api/chat", "/api/embed", "/models/load", "/models/unload", "/model/load",
    "/model/unload", "/lora/load", "/load_lora_adapter", "/unload_lora_adapter", "/sleep", "/wake_up",
    "/reset", "/shutdown", "/apply", "/env-dump", "/reboot", "/server-kill", "/download",
    "/completions", "/generate", "/prompt", "/collective_rpc",
)  # fmt: skip


def _is_write_path(path: str) -> bool:
    bare = path.split("?", 1)[0].rstrip("/")
    return any(bare == w or bare.endswith(w) for w in _WRITE_WORDS)


def check(probe: ProbeRequest) -> None:
    """Raise ReadOnlyViolation unless the probe is known to be read-only."""
    method = probe.method.upper()
    if not probe.path.startswith("/"):
        raise ReadOnlyViolation(f"refused {method} {probe.path!r}: path must start with '/'")
    if _is_write_path(probe.path):
        raise ReadOnlyViolation(
            f"refused {method} {probe.path}: the route changes or costs the target"
        )
    if method in SAFE_METHODS:
        if probe.json_body is not None:
            raise ReadOnlyViolation(f"refused {method} {probe.path}: a body on a {method}")
        return
    if method == "POST":
        validator = READ_ONLY_POSTS.get(probe.path)
        if validator is not None and validator(probe.json_body):
            return
        raise ReadOnlyViolation(
            f"refused POST {probe.path}: not on the read-only POST allowlist "
            f"({', '.join(sorted(READ_ONLY_POSTS))})"
        )
    raise ReadOnlyViolation(f"refused {method} {probe.path}: only GET, HEAD and allow-listed POSTs")
