"""`aicensus audit`: parse arguments, call `api.audit` (and, with `--policy`,
`api.audit_policy`), render. Nothing else."""

from __future__ import annotations

import sys

import click

from aicensus import api
from aicensus.cli.app import Command, fail
from aicensus.cli.output import output_file

FAIL_ON = ("never", *api.SEVERITIES)
POLICY_FORMATS = ("table", "json")


def _summary_line(result: api.AuditResult, policy: api.PolicyReport | None = None) -> str:
    s = api.audit_summary(result)
    counts = s["findings"]
    assert isinstance(counts, dict)
    listing = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "none"
    return (
        f"aicensus: audit of {result.host}: {s['services']} AI services "
        f"({s['services_exposed']} reachable from the network), {s['stores']} model stores, "
        f"{s['files']} model files; findings: {listing}"
        + (
            f"; policy {api.terminal_safe(policy.name, 80)}: "
            f"{len(policy.denied_models)} models denied"
            if policy is not None
            else ""
        )
        + f"; {result.seconds:.1f}s"
    )


@click.command("audit", cls=Command)
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
    default=f"{api.DEFAULT_HASH_LIMIT // 1024**2}MiB",
    show_default=True,
    help="Without --hash, hash only files up to this size.",
)
@click.option(
    "--timeout", type=float, default=2.0, show_default=True, help="Seconds per probe request."
)
@click.option(
    "--format", "fmt", type=click.Choice(api.AUDIT_FORMATS), default="table", show_default=True
)
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
        fail(f"--policy works with --format {' or '.join(POLICY_FORMATS)}, not {fmt}")
    # A bad policy fails before the audit runs.
    policy = api.load_policy(policy_file) if policy_file is not None else None
    result = api.run_audit(
        targets,
        paths=paths,
        ports=ports,
        services=not no_services,
        stores=not no_stores,
        all_users=all_users,
        loopback_only=loopback_only,
        hash_all=hash_all,
        hash_limit=hash_limit,
        timeout=timeout,
        progress=progress,
    )
    verdict = api.audit_policy(result, policy, policy_file) if policy is not None else None
    with output_file(output) as out:
        api.write_audit(out, result, fmt, verbose=verbose, policy=verdict)
    click.echo(_summary_line(result, verdict), err=True)
    if fail_on != "never" and api.findings_at_least(result, fail_on):
        sys.exit(1)
