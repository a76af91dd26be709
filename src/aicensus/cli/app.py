"""The `aicensus` command line: every command is option parsing, one call of `aicensus.api`,
and rendering. The CLI imports only `aicensus.api`, `aicensus.errors`, `aicensus.records`
and its own modules.

The one error path of the whole CLI is here: every command and group is built with the
classes below, so an AicensusError raised anywhere (the library's, or the CLI's own for an
option it refuses) is one line `aicensus: error: MESSAGE` on stderr and exit status 2, never a
traceback — also when a command is invoked on its own, as the tests do.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from aicensus.cli.text import printable
from aicensus.errors import AicensusError, Terminated
from aicensus.version import __version__


def fail(message: str) -> NoReturn:
    """Stop the command with the CLI's one-line error (exit 2)."""
    raise AicensusError(message)


def _guarded(invoke: Callable[[click.Context], Any], ctx: click.Context) -> Any:
    try:
        return invoke(ctx)
    except AicensusError as exc:
        # A message may quote a file or a server; a terminal must not act on it.
        click.echo(f"aicensus: error: {printable(exc)}", err=True)
        sys.exit(2)
    except Terminated as exc:
        click.echo(f"aicensus: {exc}; resume with --resume", err=True)
        sys.exit(128 + exc.signum)
    except KeyboardInterrupt:
        click.echo("aicensus: interrupted", err=True)
        sys.exit(130)


class Command(click.Command):
    """A command whose library errors become one line and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        return _guarded(super().invoke, ctx)


class Group(click.Group):
    """A group with the same error path; its subcommands are `Command`s and `Group`s."""

    command_class = Command
    group_class = type  # subgroups are of this class too

    def invoke(self, ctx: click.Context) -> Any:
        return _guarded(super().invoke, ctx)


AicensusGroup = Group  # the name the top-level group had


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aicensus")
def cli() -> None:
    """Find exposed AI model servers, identify their software and models, and attribute them."""


def _register() -> None:
    from aicensus.cli import (  # noqa: F401 - ingest_formats and lab_synth attach subcommands
        advisories,
        audit,
        ingest_formats,
        lab,
        lab_synth,
        models,
        packs,
        policy,
        report,
        scan,
        serve,
        study,
    )

    cli.add_command(audit.audit_command)
    cli.add_command(advisories.advisories_group)
    cli.add_command(scan.scan_command)
    cli.add_command(scan.ingest_group)
    cli.add_command(scan.signatures_group)
    cli.add_command(models.models_group)
    cli.add_command(lab.lab_group)
    report.report_command.add_command(study.study_command)
    report.report_command.add_command(report.honeypots_command)
    report.report_command.add_command(packs.compliance_command)
    cli.add_command(report.report_command)
    cli.add_command(study.export_group)
    cli.add_command(policy.policy_group)
    cli.add_command(serve.serve_command)


def main() -> None:
    _register()
    cli(prog_name="aicensus")


if __name__ == "__main__":
    main()
