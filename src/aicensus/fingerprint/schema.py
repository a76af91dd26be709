"""The signature file format. One YAML file per product under aicensus/signatures/.

Strict by construction: unknown keys are load errors, and operators form a closed set with
no expressions, so a broken or hostile file can only fail validation.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec


class Probe(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    path: str
    method: str = "GET"
    json: dict[str, object] | None = None
    # "identify": may be sent to any service while looking for the product;
    # "identified": only once this product has matched (route checks, details).
    when: Literal["identify", "identified"] = "identify"
    # A matcher of this signature: while identifying, the probe is sent only once that
    # matcher's own probe has answered and the matcher did not fire (it would add nothing
    # then: e.g. Ollama's LocalAI check, needless when /api/version is not LocalAI's constant).
    unless: str | None = None
    # Keep only the first N body bytes: a version early in a large document (LiteLLM's 2 MB
    # /openapi.json names it in its first kilobyte) without reading the rest.
    max_body: Annotated[int, msgspec.Meta(ge=64)] | None = None
    # Seconds this request may take when the engine's per-request limits are shorter: an
    # answer the server builds on its first request (LiteLLM's 2 MB /openapi.json: 3.3 s on
    # an idle 2-core machine, past 10 s on a loaded one). The target's own limit still holds.
    wait: Annotated[float, msgspec.Meta(gt=0, le=30)] | None = None


class Conditions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """All given operators must hold. Header names are case-insensitive."""

    status: list[int] | None = None
    header: dict[str, str] | None = None  # header contains substring
    header_regex: dict[str, str] | None = None
    header_absent: list[str] | None = None
    body_contains: list[str] | None = None  # every string present
    body_any: list[str] | None = None  # at least one present
    body_regex: str | None = None
    body_prefix: str | None = None
    json_keys: list[str] | None = None  # dotted paths; "a[].b" looks in every list item
    json_equals: dict[str, object] | None = None  # path → value (any list item may match)


class Matcher(Conditions, forbid_unknown_fields=True, frozen=True, kw_only=True):
    name: str
    probe: str
    weight: float
    why: str  # which look-alike this rules out, or what it proves
    # The matcher fails if any of these blocks holds (each block: all its operators hold).
    not_: list[Conditions] = msgspec.field(default_factory=list, name="not")


class Extractor(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    probe: str
    json: str | None = None  # dotted path
    header: str | None = None
    regex: str | None = None  # first group, over the header value or the body


class ModelsSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    dialect: str
    probes: list[str]


class AuthDeclaration(Conditions, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A public answer in which the product itself says its login is switched off."""

    name: str
    probe: str
    why: str


class AuthSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How to tell open from protected. `gate` probes expose models or inference."""

    gate: list[str]
    protected: Conditions
    open: Conditions
    bypass: list[str] = []  # probes that stay reachable when the gate is protected → partial
    none_builtin: bool = False  # product has no auth of its own; protection means a proxy
    # Open whatever the gate says: e.g. Open WebUI's /api/config "features.auth": false
    # (WEBUI_AUTH=False) while a bare GET /api/models still answers 401 (anyone signs in as admin).
    declared_open: list[AuthDeclaration] = []


class LabLaunch(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """One real product process the --all lab starts, on a private port behind the recording
    relay. `command`, `env` and `files` may hold {placeholders} (LAB_PLACEHOLDERS)."""

    name: str  # the lab service name, unique across the lab (`--only` selects by it)
    command: list[str]
    variant: Literal["open", "key"] = "open"
    launcher: str | None = None  # another name `--only` selects it by (e.g. llama-server)
    port: int | None = None  # the public port; default: the signature's first port
    env: dict[str, str] = {}
    files: dict[str, str] = {}  # file name in the service's data dir → content
    requires: list[str] = []  # importable modules; <llama-server>, <gguf>: lab setup's
    # Pinned requirements (`name[extra]==version`): the product runs from a venv of its own
    # (aicensus.lab.venvs; {python} and {bin} are that venv's), made by `lab setup --all`.
    install: list[str] = []
    # How that venv is resolved: pip, or uv (where pip's resolver cannot finish, e.g. Langflow);
    # `exclude_newer` (uv's --exclude-newer, an ISO date) reproduces a resolution of that day.
    resolver: Literal["pip", "uv"] = "pip"
    exclude_newer: str | None = None
    # Too heavy for the test command (GBs of dependencies): started only when asked for
    # (`lab setup --all --heavy`, `lab up --all --heavy`, benchmarks/lab_accuracy.py --heavy).
    heavy: bool = False
    # Pinned npm packages (`name@version`): installed once under the user cache dir
    # (aicensus.lab.npm_installs) by `lab setup --all`; {node_modules} is where they lie.
    npm: list[str] = []
    # The version the product runs, for the lab's ground truth: a literal, or {dist:NAME}, the
    # version of distribution NAME (its pin in `install`/`npm`, else as installed for the lab).
    version: str | None = None
    health: str = "/"  # polled until the relayed server answers
    ready: Literal["any", "ok"] = "any"  # any status will do, or 200 only
    credential: str | None = None  # what `lab status` shows for a key variant (default key)
    note: str = ""


class LabSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How the --all lab runs the product: emulated from route tables, or real processes."""

    emulators: list[str] = []  # route tables: lab/emulators/products/<name>.yaml
    real: list[LabLaunch] = []
    own_emulator: bool = False  # served by its own emulator module (Ollama's), not a table


# What a launch may name in braces; the lab fills them in (aicensus.lab.recipes).
LAB_PLACEHOLDERS = frozenset({
    "python", "bin", "address", "port", "public_port", "data", "api_key", "user", "password",
    "model", "model_name", "model_file", "llama_server", "llama_cpp_lib", "url", "lab_python",
    "node_modules",
})  # fmt: skip
PLACEHOLDER = re.compile(r"\{([a-z_]+)(?::([A-Za-z0-9_.-]+))?\}")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


def placeholders(text: str) -> list[tuple[str, str | None]]:
    """The (name, argument) pairs of every {name} / {name:arg} in `text`."""
    return [(m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(text)]


class Signature(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    id: str
    name: str
    description: str
    ports: list[int]
    references: list[str]
    probes: dict[str, Probe]
    matchers: list[Matcher]
    require: list[str] = []  # matcher names that must all fire
    threshold: float = 0.5  # minimum summed weight of fired matchers
    generic: bool = False  # only chosen when no specific product matches
    beats: list[str] = []  # products this one wins over when both match (look-alikes)
    version: list[Extractor] = []
    models: ModelsSpec | None = None
    auth: AuthSpec | None = None
    # Product knowledge beyond fingerprinting (see docs/products.md "Adding a product"):
    remediation: str | None = None  # how to make an exposed instance private again
    processes: list[str] = []  # process-name/command-line needles (the local audit)
    lab: LabSpec | None = None  # how the --all lab runs it (emulated or real)


def validate_references(sig: Signature) -> list[str]:
    """Cross-field checks msgspec cannot express; returns problems as 'field: message'."""
    problems: list[str] = []
    if not _SLUG.match(sig.id):
        problems.append(f"id: {sig.id!r} is not a slug (lower case, digits, '.', '-')")
    names = {m.name for m in sig.matchers}
    for i, m in enumerate(sig.matchers):
        if m.probe not in sig.probes:
            problems.append(f"matchers[{i}].probe: unknown probe {m.probe!r}")
        if not 0 < m.weight <= 1:
            problems.append(f"matchers[{i}].weight: must be in (0, 1]")
    for r in sig.require:
        if r not in names:
            problems.append(f"require: unknown matcher {r!r}")
    for i, ex in enumerate(sig.version):
        if ex.probe not in sig.probes:
            problems.append(f"version[{i}].probe: unknown probe {ex.probe!r}")
        # json (a regex may narrow its value), or a header, or the body (regex alone)
        if (ex.json is None) == (ex.header is None and ex.regex is None) and ex.regex is None:
            problems.append(f"version[{i}]: give either json, or header/regex")
        if ex.json is not None and ex.header is not None:
            problems.append(f"version[{i}]: give either json or header, not both")
    refs: list[tuple[str, list[str]]] = []
    if sig.models:
        refs.append(("models.probes", sig.models.probes))
    if sig.auth:
        refs += [("auth.gate", sig.auth.gate), ("auth.bypass", sig.auth.bypass)]
        refs.append(("auth.declared_open", [d.probe for d in sig.auth.declared_open]))
    for field, ids in refs:
        problems += [f"{field}: unknown probe {p!r}" for p in ids if p not in sig.probes]
    for pid, probe in sig.probes.items():
        if probe.unless is not None and probe.unless not in names:
            problems.append(f"probes.{pid}.unless: unknown matcher {probe.unless!r}")
        if probe.method not in ("GET", "HEAD", "POST"):
            problems.append(f"probes.{pid}.method: {probe.method!r} is not GET, HEAD or POST")
        if probe.method == "POST" and probe.when != "identified":
            # A POST is read-only on its own product only (engine/readonly.py POST_OWNERS).
            problems.append(f"probes.{pid}.when: a POST goes only to an identified product")
    return problems


def validate_knowledge(sig: Signature) -> list[str]:
    """Checks of the remediation, process and lab sections; problems as 'field: message'."""
    problems: list[str] = []
    if sig.remediation is not None and not sig.remediation.strip():
        problems.append("remediation: empty")
    problems += [
        f"processes[{i}]: give a lower-case name, at least 3 characters"
        for i, needle in enumerate(sig.processes)
        if len(needle) < 3 or needle != needle.lower() or not needle.strip()
    ]
    if sig.lab is None:
        return problems
    problems += [
        f"lab.emulators[{i}]: {name!r} is not a table name"
        for i, name in enumerate(sig.lab.emulators)
        if not _SLUG.match(name)
    ]
    for i, launch in enumerate(sig.lab.real):
        problems += _launch_problems(f"lab.real[{i}]", launch, sig)
    return problems


def _launch_problems(field: str, launch: LabLaunch, sig: Signature) -> list[str]:
    problems: list[str] = []
    if not _SLUG.match(launch.name):
        problems.append(f"{field}.name: {launch.name!r} is not a slug")
    if not launch.command:
        problems.append(f"{field}.command: empty")
    if launch.port is None and not sig.ports:
        problems.append(f"{field}.port: needed (the signature lists no ports)")
    if not launch.health.startswith("/"):
        problems.append(f"{field}.health: {launch.health!r} must start with /")
    texts = [*launch.command, *launch.env.values(), *launch.files.values()]
    texts += [launch.credential or ""]
    for text in texts:
        for name, arg in placeholders(text):
            if name not in LAB_PLACEHOLDERS:
                problems.append(f"{field}: unknown placeholder {{{name}}}")
            elif (name == "url") != (arg is not None):
                problems.append(
                    f"{field}: {{{name}}} takes {'a' if name == 'url' else 'no'} argument"
                )
    for fname in launch.files:
        if "/" in fname or fname.startswith("."):
            problems.append(f"{field}.files: {fname!r} must be a plain file name")
    return problems + _install_problems(field, launch) + _npm_problems(field, launch)


_NPM_PINNED = re.compile(r"^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*@[0-9][0-9A-Za-z.+-]*$")


def _npm_problems(field: str, launch: LabLaunch) -> list[str]:
    """npm installs are cached by their specs: each an exact `name@version`; {node_modules}
    only means something for a launch that has them."""
    problems = [
        f"{field}.npm: {spec!r} is not pinned as name@version"
        for spec in launch.npm
        if not _NPM_PINNED.match(spec)
    ]
    texts = [*launch.command, *launch.env.values(), *launch.files.values()]
    if not launch.npm and any("{node_modules}" in t for t in texts):
        problems.append(f"{field}: {{node_modules}} needs an `npm:` list")
    return problems


_PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?==[A-Za-z0-9.+!_-]+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _install_problems(field: str, launch: LabLaunch) -> list[str]:
    """An own venv's requirements are pinned (the venv is cached by them) and its modules are
    not checked in the lab's interpreter (`requires` keeps only <llama-server>, <gguf>)."""
    problems = [
        f"{field}.install: {req!r} is not pinned as name==version (or name[extra]==version)"
        for req in launch.install
        if not _PINNED.match(req)
    ]
    names = [req.split("[")[0].split("==")[0].lower().replace("_", "-") for req in launch.install]
    if len(set(names)) != len(names):
        problems.append(f"{field}.install: a distribution listed twice")
    if launch.resolver != "pip" and not launch.install:
        problems.append(f"{field}.resolver: {launch.resolver} resolves an `install:` list")
    if launch.exclude_newer is not None and launch.resolver != "uv":
        problems.append(f"{field}.exclude_newer: uv's option, needs `resolver: uv`")
    if launch.exclude_newer is not None and not _ISO_DATE.match(launch.exclude_newer):
        problems.append(f"{field}.exclude_newer: {launch.exclude_newer!r} is not YYYY-MM-DD")
    if launch.install and (modules := [r for r in launch.requires if not r.startswith("<")]):
        problems.append(
            f"{field}.requires: {modules} are looked up in the lab's interpreter, not in the "
            "launch's own venv (`install`): leave them out"
        )
    return problems
