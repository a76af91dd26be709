"""The generic emulator's route tables: one YAML file per emulated product under
`products/`, each on top of its web framework's own answers (`frameworks.yaml`).

    table = load_table("vllm")          # Table: routes, auth rule, vars, framework
    table = load_table("acme", ("/my/signatures/emulators",))   # extra table directories

The format is documented in docs/lab.md ("The generic emulator"); answering a request from a
table is `aicensus.lab.emulators.answers`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from aicensus.lab.emulators.common import EmulatorConfigError, go_json

PRODUCTS_DIR = Path(__file__).with_name("products")
FRAMEWORKS_FILE = Path(__file__).with_name("frameworks.yaml")
VARIANTS = ("open", "key")
LAB_KEY = "aicensus-lab-key"
LAB_USER = "aicensus"
LAB_PASSWORD = "aicensus-lab-password"


@cache
def frameworks() -> dict[str, dict[str, Any]]:
    """What each web framework answers on its own (frameworks.yaml)."""
    data = yaml.safe_load(FRAMEWORKS_FILE.read_text())
    return {str(name): dict(spec) for name, spec in data.items()}


def _framework(name: str, path: Path) -> dict[str, Any]:
    try:
        return dict(frameworks()[name])
    except KeyError:
        known = ", ".join(frameworks())
        raise EmulatorConfigError(f"{path}: framework: unknown {name!r} (known: {known})") from None


@dataclass
class Route:
    methods: tuple[str, ...]
    pattern: str
    regex: re.Pattern[str]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = "text"  # json | text | html | raw | empty
    body: Any = None
    content_type: str | None = None
    variant: str | None = None  # only in this variant
    refused: bool = False  # write/compute route: never acts
    auth: str | None = None  # "public" | "guarded" overrides the table's rule
    refusal: dict[str, Any] | None = None  # this route's own auth refusal (else the table's)


@dataclass
class AuthRule:
    """How the `key` variant asks for credentials."""

    schemes: tuple[str, ...]  # bearer | x-api-key | api-key | basic
    scope: str  # "middleware": any path (unknown ones too); "route": routed paths only
    guarded: tuple[re.Pattern[str], ...]  # empty: every path
    public: tuple[re.Pattern[str], ...]
    refusal: dict[str, Any]
    key: str = LAB_KEY


@dataclass
class Table:
    product: str | None  # the signature id it should be identified as (None: a decoy)
    framework: dict[str, Any]
    server: str | None
    routes: list[Route]
    auth: AuthRule | None
    vars: dict[str, Any]
    headers: dict[str, str]
    match: str = "exact"  # "suffix": a route matches any path ending in its pattern
    strip_slash: bool = False
    catch_all: Route | None = None
    expect: Mapping[str, Any] = field(default_factory=dict)
    host_check: Mapping[str, Any] | None = None  # Host allow-list before routing (Jan)
    variants: tuple[str, ...] = VARIANTS
    default_port: int | None = None  # where the --all lab serves it


def _compile(pattern: str, match: str) -> re.Pattern[str]:
    out = []
    for piece in re.split(r"(/:[A-Za-z_]+|\*)", pattern):
        if piece == "*":
            out.append(".*")
        elif piece.startswith("/:"):
            out.append(f"/(?P<{piece[2:]}>[^/]+)")
        else:
            out.append(re.escape(piece))
    body = "".join(out)
    return re.compile(f".*{body}$" if match == "suffix" else f"^{body}$")


def _route(raw: Mapping[str, Any], match: str) -> Route:
    methods = raw.get("method", "GET")
    methods = tuple(m.upper() for m in ([methods] if isinstance(methods, str) else methods))
    kind, body = "empty", None
    for key in ("json", "text", "html", "raw"):
        if key in raw:
            kind, body = key, raw[key]
    return Route(
        methods=methods,
        pattern=raw["path"],
        regex=_compile(raw["path"], raw.get("match", match)),
        status=int(raw.get("status", 200)),
        headers={str(k): str(v) for k, v in (raw.get("headers") or {}).items()},
        kind=kind,
        body=body,
        content_type=raw.get("content_type"),
        variant=raw.get("variant"),
        refused=bool(raw.get("refused", False)),
        auth=raw.get("auth"),
        refusal=raw.get("refusal"),
    )


def _auth(raw: Mapping[str, Any] | None) -> AuthRule | None:
    if not raw:
        return None
    schemes = raw.get("schemes", ["bearer"])
    return AuthRule(
        schemes=tuple(schemes),
        scope=raw.get("scope", "middleware"),
        guarded=tuple(_compile(p, "exact") for p in raw.get("guarded", [])),
        public=tuple(_compile(p, "exact") for p in raw.get("public", [])),
        refusal=dict(raw["refusal"]),
        key=str(raw.get("key", LAB_KEY)),
    )


def table_path(product: str, extra_dirs: tuple[str, ...] = ()) -> Path:
    """Where the table `product` lives: the first of `extra_dirs` that has it (a signature
    directory's `emulators/`), else the built-in products/."""
    if not product or "/" in product or product.startswith("."):
        raise EmulatorConfigError(f"{product!r} is not an emulator table name")
    for folder in (*map(Path, extra_dirs), PRODUCTS_DIR):
        path = folder / f"{product}.yaml"
        if path.is_file():
            return path
    raise EmulatorConfigError(f"no emulator table for {product!r} ({PRODUCTS_DIR / product}.yaml)")


@cache
def load_table(product: str, extra_dirs: tuple[str, ...] = ()) -> Table:
    """The route table of `product` (a file name under products/, without .yaml)."""
    path = table_path(product, extra_dirs)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise EmulatorConfigError(f"{path}: {' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict):
        raise EmulatorConfigError(f"{path}: expected a mapping at the top level")
    if raw.get("merge"):
        return _merged(raw, path, extra_dirs)
    match = raw.get("match", "exact")
    framework = _framework(raw.get("framework", "fastapi"), path)
    for key in ("not_found", "method_not_allowed", "head_from_get"):
        if key in raw:  # the product's own handler for what its framework would answer
            framework[key] = raw[key]
    catch_all = _route({"path": "*", **raw["catch_all"]}, "exact") if raw.get("catch_all") else None
    return Table(
        product=raw.get("product"),
        framework=framework,
        server=raw.get("server", framework["server"]),
        routes=[_route(r, match) for r in raw.get("routes", [])],
        auth=_auth(raw.get("auth")),
        vars=dict(raw.get("vars") or {}),
        headers={**framework.get("headers", {}), **(raw.get("headers") or {})},
        match=match,
        strip_slash=bool(raw.get("strip_slash", False)),
        catch_all=catch_all,
        expect=raw.get("expect") or {},
        host_check=raw.get("host_check"),
        variants=tuple(raw.get("variants", VARIANTS if raw.get("auth") else ("open",))),
        default_port=raw.get("default_port"),
    )


def _merged(raw: Mapping[str, Any], path: Path, extra_dirs: tuple[str, ...]) -> Table:
    """A honeypot: the open-variant routes of many products in one table (first wins)."""
    framework = _framework(raw.get("framework", "fastapi"), path)
    routes: list[Route] = [_route(r, "exact") for r in raw.get("routes", [])]
    variables: dict[str, Any] = dict(raw.get("vars") or {})
    for other in raw["merge"]:
        table = load_table(other, extra_dirs)
        for r in table.routes:
            if r.variant in (None, "open"):
                # the product's headers travel with its routes (Server included)
                headers = dict(table.headers)
                if table.server:
                    headers.setdefault("Server", table.server)
                headers.update(r.headers)
                body = render(r.body, {**table.vars, **variables}) if r.kind == "json" else r.body
                if r.kind in ("text", "html", "raw") and isinstance(body, str):
                    body = substitute(body, {**table.vars, **variables})
                routes.append(
                    Route(
                        methods=r.methods,
                        pattern=r.pattern,
                        regex=_compile(r.pattern, "exact"),
                        status=r.status,
                        headers=headers,
                        kind=r.kind,
                        body=body,
                        content_type=r.content_type or content_type(table, r.kind),
                        refused=r.refused,
                    )
                )
    return Table(
        product=raw.get("product"),
        framework=framework,
        server=raw.get("server", framework["server"]),
        routes=routes,
        auth=None,
        vars=variables,
        headers=dict(raw.get("headers") or {}),
        expect=raw.get("expect") or {},
        variants=("open",),
        default_port=raw.get("default_port"),
    )


def available_products() -> list[str]:
    return sorted(p.stem for p in PRODUCTS_DIR.glob("*.yaml"))


# --------------------------------------------------------------------------- rendering

_VAR = re.compile(r"\$\{([a-z_]+)\}")


def substitute(text: str, values: Mapping[str, Any]) -> str:
    return _VAR.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)


def render(obj: Any, values: Mapping[str, Any]) -> Any:
    """Fill ${var} placeholders; a string that is exactly one placeholder keeps its type."""
    if isinstance(obj, str):
        whole = _VAR.fullmatch(obj)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return substitute(obj, values)
    if isinstance(obj, list):
        return [render(v, values) for v in obj]
    if isinstance(obj, dict):
        return {substitute(str(k), values): render(v, values) for k, v in obj.items()}
    return obj


def encode_json(obj: Any, style: str) -> bytes:
    if style == "go":
        return go_json(obj).encode()
    if style == "spaced":
        return json.dumps(obj).encode()
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def content_type(table: Table, kind: str) -> str | None:
    fw = table.framework
    return {
        "json": fw["json_type"],
        "text": fw["text_type"],
        "html": fw["html_type"],
    }.get(kind)
