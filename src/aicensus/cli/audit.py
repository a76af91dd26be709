"""`aicensus audit`: parse arguments, call `aicensus.audit.run_audit` (and, with `--policy`,
`aicensus.report.denied.audit_policy_report`), render. Nothing else."""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
from typing import IO, TYPE_CHECKING

import click

from aicensus.assess.finding import Severity
from aicensus.audit import DEFAULT_HASH_LIMIT, AuditError, run_audit
from aicensus.audit.records import AuditResult
from aicensus.audit.render import FORMATS, summary, write_json, write_table
from aicensus.errors import AicensusError
from aicensus.report.text import terminal_safe

if TYPE_CHECKING:
    from aicensus.report.denied import PolicyReport

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
FAIL_ON = ("never", "critical", "high", "medium", "low", "info")
POLICY_FORMATS = ("table", "json")


def parse_size(text: str) -> int:
    """'256MiB', '2G', '1000' → bytes."""
    m = _SIZE.match(text)
    if not m:
        raise AuditError(f"bad size {text!r}: expected a number with an optional unit (MiB, GB …)")
    unit = (m.group(2) or "").lower().removesuffix("b")
    scale = 1
    if unit:
        scale = (1024 if unit.endswith("i") else 1000) ** ("kmgt".index(unit[0]) + 1)
    return int(float(m.group(1)) * scale)


def _render(
    out: IO[str], result: AuditResult, fmt: str, verbose: bool, policy: PolicyReport | None
) -> None:
    if fmt == "json":
        write_json(out, result, policy)
    elif fmt == "cyclonedx":
        # Imported here: the CycloneDX validator costs a second at every start of the CLI.
        from aicensus.report.cyclonedx import write_audit_cyclonedx

        write_audit_cyclonedx(out, result)
    else:
        write_table(out, result, verbose=verbose, policy=policy)


def _rendered(result: AuditResult, fmt: str, verbose: bool, policy: PolicyReport | None) -> str:
    """The whole report as text, before any of it is written: a report that cannot be
    rendered leaves no half-written output behind."""
    buffer = io.StringIO()
    try:
        _render(buffer, result, fmt, verbose, policy)
    except AicensusError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise AuditError(f"cannot render the {fmt} report: {type(exc).__name__}: {exc}") from None
    return buffer.getvalue()


def _write_atomically(output: str, text: str) -> None:
    """Write to a temporary file beside `output`, then rename it over: `output` is either
    the complete report or untouched, never empty or truncated."""
    folder = os.path.dirname(os.path.abspath(output))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".aicensus-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise AuditError(f"cannot write {output}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, output)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise AuditError(f"cannot write {output}: {exc.strerror or exc}") from None


def _summary_line(result: AuditResult, policy: PolicyReport | None = None) -> str:
    s = summary(result)
    counts = s["findings"]
    assert isinstance(counts, dict)
    listing = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "none"
    return (
        f"aicensus: audit of {result.host}: {s['services']} AI services "
        f"({s['services_exposed']} reachable from the network), {s['stores']} model stores, "
        f"{s['files']} model files; findings: {listing}"
        + (
            f"; policy {terminal_safe(policy.name, 80)}: {len(policy.denied_models)} models denied"
            if policy is not None
            else ""
        )
        + f"; {result.seconds:.1f}s"
    )


@click.command("audit")
@click.argument("targets", nargs=-1)
@click.option(
    "--path",
    "paths",
    multiple=True,
    help="A folder (walked) or file to inventory as well; repeatable.",
)
@click.option(
    "-p",
    "--ports",
    default=None,
    help="Limit the service check to these ports (list, ranges, presets such as 'ai'). "
    "Default: the 'ai' preset on loopback plus every listening socket of this machine.",
)
@click.option("--no-services", is_flag=True, help="Do not look for AI services.")
@click.option(
    "--no-stores",
    is_flag=True,
    help="Do not look in the usual model stores (Ollama, Hugging Face, LM Studio, GPT4All, "
    "llama.cpp); only --path.",
)
@click.option("--all-users", is_flag=True, help="Also look in every user's home (as root).")
@click.option(
    "--loopback-only",
    is_flag=True,
    help="Probe loopback addresses only, never one of this machine's other addresses.",
)
@click.option("--hash", "hash_all", is_flag=True, help="sha256 every model file, whatever size.")
@click.option(
    "--hash-limit",
    default=f"{DEFAULT_HASH_LIMIT // 1024**2}MiB",
    show_default=True,
    help="Without --hash, hash only files up to this size.",
)
@click.option(
    "--timeout", type=float, default=2.0, show_default=True, help="Seconds per probe request."
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "-o", "--output", default=None, help="Write the report to this file instead of stdout."
)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default="never",
    show_default=True,
    help="Exit with status 1 when a finding of this severity or worse is found.",
)
@click.option(
    "--policy",
    "policy_file",
    metavar="FILE",
    default=None,
    help="Judge every model found (served or on disk) by this YAML policy's model rules and "
    "show each denied one with its card summary and the top alternatives (table and json).",
)
@click.option("-v", "--verbose", is_flag=True, help="Table: evidence, info findings, notes.")
def audit_command(
    targets: tuple[str, ...],
    paths: tuple[str, ...],
    ports: str | None,
    no_services: bool,
    no_stores: bool,
    all_users: bool,
    loopback_only: bool,
    hash_all: bool,
    hash_limit: str,
    timeout: float,
    fmt: str,
    output: str | None,
    fail_on: str,
    policy_file: str | None,
    verbose: bool,
) -> None:
    """Audit this machine's AI estate: AI services and who can reach them, model stores,
    model files (provenance, licence, code-execution risks).

    Without TARGETS, the services of this machine are checked (its loopback and own addresses
    only); with TARGETS (hosts, CIDR, as for `aicensus scan`) those are scanned over the
    network instead. Model files are always this machine's.

    Example: aicensus audit --path ~/models --format cyclonedx -o ai-bom.json
    """
    progress = (
        (lambda msg: click.echo(f"aicensus: {msg}", err=True)) if sys.stderr.isatty() else None
    )
    if policy_file is not None and fmt not in POLICY_FORMATS:
        click.echo(
            f"aicensus: error: --policy works with --format {' or '.join(POLICY_FORMATS)}, "
            f"not {fmt}",
            err=True,
        )
        sys.exit(2)
    policy: PolicyReport | None = None
    try:
        loaded = None
        if policy_file is not None:
            from aicensus.assess.policy import load_policy

            loaded = load_policy(policy_file)  # a bad policy fails before the audit runs
        result = run_audit(
            targets,
            paths=paths,
            ports=ports,
            services=not no_services,
            stores=not no_stores,
            all_users=all_users,
            loopback_only=loopback_only,
            hash_all=hash_all,
            hash_limit=parse_size(hash_limit),
            timeout=timeout,
            progress=progress,
        )
        if loaded is not None:
            from aicensus.report.denied import audit_policy_report

            policy = audit_policy_report(result, loaded, policy_file)
        text = _rendered(result, fmt, verbose, policy)
        if output:
            _write_atomically(output, text)
        else:
            sys.stdout.write(text)
    except AicensusError as exc:
        click.echo(f"aicensus: error: {exc}", err=True)
        sys.exit(2)
    click.echo(_summary_line(result, policy), err=True)
    if fail_on != "never":
        threshold = Severity(fail_on).rank
        if any(f.severity.rank >= threshold for f in result.findings):
            sys.exit(1)
