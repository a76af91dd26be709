"""`aicensus scan` and `aicensus ingest`: parse arguments, call the library, render."""

from __future__ import annotations

import inspect
import json
import sys
import time
from typing import IO, Literal

import click

from aicensus import api
from aicensus.cli.app import Command, Group
from aicensus.cli.text import printable
from aicensus.records import ScanStatus, ServiceObservation

_ENGINE_DEFAULTS = api.EngineConfig()
_STORE_BATCH = inspect.signature(api.scan).parameters["batch_size"].default  # the library's


class Progress:
    """A one-line progress bar on a terminal's stderr; silent when stderr is piped."""

    def __init__(self, total: int, stream: IO[str] | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.done = 0
        self.found = 0
        self.started = time.monotonic()
        self._last = 0.0

    def update(self, obs: ServiceObservation) -> None:
        self.done += 1
        self.found += obs.status == ScanStatus.IDENTIFIED
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.2 or self.done == self.total):
            self._last = now
            rate = self.done / max(now - self.started, 1e-6)
            pct = 100 * self.done / self.total if self.total else 100
            self.stream.write(
                f"\r{self.done}/{self.total} ({pct:.0f}%)  {self.found} found  {rate:.0f}/s "
            )
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


REPORTED = (ScanStatus.IDENTIFIED, ScanStatus.SUSPECTED_HONEYPOT)


class Emitter:
    """Streams jsonl as results come; buffers for json and table."""

    def __init__(self, fmt: str, show_all: bool, explain: bool, with_log: bool) -> None:
        self.fmt = fmt
        self.show_all = show_all
        self.explain = explain
        self.with_log = with_log
        self.kept: list[ServiceObservation] = []

    def __call__(self, obs: ServiceObservation) -> None:
        if not self.show_all and obs.status not in REPORTED:
            return
        if self.fmt == "jsonl":
            api.write_observation(sys.stdout, obs, with_log=self.with_log)
            sys.stdout.flush()
        else:
            self.kept.append(obs)

    def finish(self) -> None:
        self.kept.sort(key=lambda o: (o.ip, o.port))
        if self.fmt == "table" and not self.kept:
            click.echo("No AI services found.")
        elif self.fmt != "jsonl":
            api.write_observations(
                sys.stdout, self.kept, self.fmt, explain=self.explain, with_log=self.with_log
            )


def output_options(func: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(
        [
            click.option(
                "--format",
                "fmt",
                type=click.Choice(api.OBSERVATION_FORMATS),
                default="table",
                show_default=True,
                help="Output format.",
            ),
            click.option(
                "--all",
                "show_all",
                is_flag=True,
                help="Also print targets where no AI service was identified.",
            ),
            click.option(
                "--explain", is_flag=True, help="Table: show the evidence for each result."
            ),
            click.option(
                "--evidence",
                "with_log",
                is_flag=True,
                help="JSON: include each service's request log.",
            ),
            click.option(
                "--db",
                default="aicensus.duckdb",
                show_default=True,
                help="DuckDB file to store results in.",
            ),
            click.option("--no-db", is_flag=True, help="Do not store results."),
        ]
    ):
        func = option(func)
    return func


@click.command("scan", cls=Command)
@click.argument("targets", nargs=-1)
@click.option(
    "-p",
    "--ports",
    default="ai",
    show_default=True,
    help="Ports: list, ranges and presets, e.g. 'ai', '11434,8000-8010'.",
)
@click.option(
    "-x",
    "--exclude",
    "excludes",
    multiple=True,
    help="Never touch these (same syntax as targets); always wins.",
)
@click.option("--rate", type=float, default=0.0, help="New connections per second (0 = unlimited).")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 100_000),
    default=_ENGINE_DEFAULTS.concurrency,
    show_default=True,
    help="Targets in progress at once.",
)
@click.option(
    "--per-host",
    type=click.IntRange(1, 16),
    default=_ENGINE_DEFAULTS.per_host_inflight,
    show_default=True,
    help="Requests in flight to one address: 1 saves a connection per host (less CPU on both "
    "sides) for about twice each host's time.",
)
@click.option("--connect-timeout", type=float, default=3.0, show_default=True)
@click.option("--read-timeout", type=float, default=5.0, show_default=True)
@click.option(
    "--timeout",
    "total_timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds for one request.",
)
@click.option(
    "--max-body",
    type=click.IntRange(1024),
    default=1024 * 1024,
    show_default=True,
    help="Bytes kept of a response body, after decompression.",
)
@click.option(
    "--target-timeout",
    type=click.FloatRange(0.1),
    default=60.0,
    show_default=True,
    help="Seconds for everything at one address and port; what was learned by then is kept.",
)
@click.option("--user-agent", default=api.DEFAULT_USER_AGENT, show_default=True)
@click.option("--seed", type=int, default=0, help="Seed of the pseudo-random visiting order.")
@click.option("--shard", default=None, help="i/N: scan only the i-th of N disjoint shares.")
@click.option(
    "--probe-scope",
    type=click.Choice(["all", "port"]),
    default="all",
    show_default=True,
    help="all: when no product listed for the port matches, try every product's identity "
    "probes (finds products on unusual ports; ~57 requests to a service nothing matches). "
    "port: only the products listed for the port (far fewer requests; misses the rest).",
)
@click.option(
    "--signatures",
    "signature_dir",
    default=None,
    help="Use the signature files in this directory instead of the built-in ones.",
)
@click.option(
    "--resume",
    is_flag=False,
    flag_value="latest",
    default=None,
    metavar="[SCAN_ID]",
    help="Continue an interrupted scan in --db: the latest unfinished one with these "
    "arguments (a new scan if there is none), or SCAN_ID with its stored arguments.",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=None,
    help="Processes that scan shares of the targets into the one store [default: the "
    "number of cores]; 1 scans in this process. Standard input (-) always uses 1.",
)
@click.option(
    "--cluster",
    metavar="ADDRESS",
    default=None,
    help="Scan shares of the targets as tasks on the Dask distributed scheduler at ADDRESS "
    "(tcp://host:8786; the aicensus[cluster] extra); results are stored here. See "
    "docs/cluster.md.",
)
@click.option("--batch-size", type=click.IntRange(1), default=_STORE_BATCH, hidden=True)
@click.option("--checkpoint-every", type=click.FloatRange(0), default=2.0, hidden=True)
@output_options
def scan_command(
    targets: tuple[str, ...],
    ports: str,
    excludes: tuple[str, ...],
    rate: float,
    concurrency: int,
    per_host: int,
    connect_timeout: float,
    read_timeout: float,
    total_timeout: float,
    max_body: int,
    target_timeout: float,
    user_agent: str,
    seed: int,
    shard: str | None,
    probe_scope: Literal["all", "port"],
    signature_dir: str | None,
    resume: str | None,
    workers: int | None,
    cluster: str | None,
    batch_size: int,
    checkpoint_every: float,
    fmt: str,
    show_all: bool,
    explain: bool,
    with_log: bool,
    db: str,
    no_db: bool,
) -> None:
    """Find AI services on TARGETS and identify their software, models and auth state.

    TARGETS are addresses, CIDR blocks, ranges (a-b), hostnames, @FILE (one per line;
    masscan -oL/-oJ and ZMap CSV are recognised) or - for standard input.

    Example: aicensus scan 127.0.0.1 --ports ai --format jsonl

    An interrupted scan (Ctrl-C, a crash, a kill) resumes where its last checkpoint left off:
    run the same command again with --resume, or give `--resume SCAN_ID` alone.
    """
    args: dict[str, object] = {
        "targets": list(targets),
        "ports": ports,
        "excludes": list(excludes),
        "seed": seed,
        "shard": shard,
    }
    resume_id, targets = _resume_target(resume, targets, args, db, no_db)
    if resume_id is not None and not targets:  # `--resume SCAN_ID` alone: its own arguments
        stored = api.scan_arguments(db, resume_id)
        args = {key: stored.get(key) for key in api.PLAN_ARGS}
        targets = tuple(map(str, stored.get("targets") or ()))
        excludes = tuple(map(str, stored.get("excludes") or ()))
        ports, seed = str(stored.get("ports") or "ai"), int(stored.get("seed") or 0)
        shard = None if stored.get("shard") is None else str(stored["shard"])
    if not targets:
        raise click.UsageError("Missing argument 'TARGETS...' (or give --resume SCAN_ID).")
    sigs = api.signatures(signature_dir)
    stdin_lines = sys.stdin if "-" in targets else None
    plan = api.plan_targets(
        targets, ports=ports, excludes=excludes, seed=seed, shard=shard, stdin_lines=stdin_lines
    )
    config = api.EngineConfig(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        total_timeout=total_timeout,
        target_timeout=target_timeout,
        max_body_bytes=max_body,
        rate=rate,
        concurrency=concurrency,
        per_host_inflight=per_host,
        user_agent=user_agent,
        probe_scope=probe_scope,
    )
    emitter = Emitter(fmt, show_all, explain, with_log)
    progress = Progress(plan.count)

    def on_observation(obs: ServiceObservation) -> None:
        progress.update(obs)
        emitter(obs)

    summary = api.scan(
        plan,
        config=config,
        db=None if no_db else db,
        sigs=sigs,
        on_observation=on_observation,
        args=args,
        batch_size=batch_size,
        checkpoint_seconds=checkpoint_every,
        resume=resume_id,
        workers=_workers(workers, cluster, targets),
        cluster=cluster,
    )
    progress.close()
    emitter.finish()
    _print_summary(summary)


def _workers(workers: int | None, cluster: str | None, targets: tuple[str, ...]) -> int:
    if cluster is not None:
        if workers is not None and workers > 1:
            raise click.UsageError("--workers and --cluster cannot be combined")
        return 1
    return 1 if "-" in targets else workers or api.default_workers()


def _resume_target(
    resume: str | None, targets: tuple[str, ...], args: dict[str, object], db: str, no_db: bool
) -> tuple[int | None, tuple[str, ...]]:
    """The scan id to resume (None: a new scan) and the targets. `--resume` takes an optional
    value, so in `--resume 10.0.0.0/8` the token is a target: it is put back in front."""
    if resume is None:
        return None, targets
    if resume != "latest" and not resume.isdigit():
        targets = (resume, *targets)
        args["targets"] = list(targets)
        resume = "latest"
    if no_db:
        raise click.UsageError("--resume needs the store: it cannot be used with --no-db")
    if resume != "latest":
        return int(resume), targets
    if not targets:
        raise click.UsageError("--resume without a SCAN_ID needs the TARGETS of the scan")
    found = api.resumable_scan(db, args)
    if found is None:
        click.echo(
            f"aicensus: no unfinished scan with these arguments in {db}; starting one", err=True
        )
    else:
        click.echo(f"aicensus: resuming scan {found}", err=True)
    return found, targets


def _print_summary(summary: api.ScanSummary) -> None:
    products = ", ".join(f"{k}={v}" for k, v in sorted(summary.by_product.items())) or "none"
    click.echo(
        f"aicensus: {summary.targets} targets, {summary.identified} AI services ({products}), "
        f"{summary.requests} requests in {summary.seconds:.1f}s"
        + (f" ({summary.resumed} from before the resume)" if summary.resumed else "")
        + (f"; stored as scan {summary.scan_id}" if summary.scan_id is not None else ""),
        err=True,
    )
    for bad in summary.bad_records[:20]:
        click.echo(f"aicensus: skipped line {bad.line}: {printable(bad.reason)}", err=True)
    if len(summary.bad_records) > 20:
        click.echo(f"aicensus: … and {len(summary.bad_records) - 20} more bad lines", err=True)


@click.group("ingest", cls=Group)
def ingest_group() -> None:
    """Bring recorded scan data into the store and fingerprint it offline."""


@click.group("signatures", cls=Group)
def signatures_group() -> None:
    """Inspect and validate fingerprint signature files."""


@signatures_group.command("validate")
@click.argument("directory", required=False)
def signatures_validate(directory: str | None) -> None:
    """Validate signature files (the built-in ones, or those in DIRECTORY)."""
    sigs = api.signatures(directory)
    click.echo(f"{len(sigs)} signatures valid: {', '.join(s.id for s in sigs)}")


@signatures_group.command("list")
@click.argument("directory", required=False)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per product")
def signatures_list(directory: str | None, as_json: bool) -> None:
    """List the products (built-in, or those in DIRECTORY): default ports, how the lab runs
    them, the process names the audit knows them by, and the name."""
    for sig in api.signatures(directory):
        facts = product_facts(sig)
        if as_json:
            click.echo(json.dumps(facts))
            continue
        ports = ",".join(map(str, sig.ports)) or "-"
        procs = ",".join(sig.processes) or "-"
        click.echo(f"{sig.id:22} {ports:12} {facts['lab']:14} {procs:24} {sig.name}")


def product_facts(sig: api.Signature) -> dict[str, object]:
    """What a signature file says about its product beyond fingerprinting."""
    lab = sig.lab
    how = "-"
    if lab is not None and lab.real:
        how = f"real ({len(lab.real)})"
    elif lab is not None and (lab.emulators or lab.own_emulator):
        how = "emulated"
    return {
        "id": sig.id,
        "name": sig.name,
        "ports": sig.ports,
        "lab": how,
        "lab_services": [r.name for r in lab.real] if lab else [],
        "emulator_tables": list(lab.emulators) if lab else [],
        "processes": sig.processes,
        "remediation": sig.remediation,
        "dialect": sig.models.dialect if sig.models else None,
    }
