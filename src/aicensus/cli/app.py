"""The `aicensus` command line: every command is a thin layer over the library."""

from __future__ import annotations

import sys

import click

from aicensus.errors import AicensusError, Terminated
from aicensus.version import __version__


class AicensusGroup(click.Group):
    """Turns library errors into one-line messages and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except AicensusError as exc:
            click.echo(f"aicensus: error: {exc}", err=True)
            sys.exit(2)
        except Terminated as exc:
            click.echo(f"aicensus: {exc}; resume with --resume", err=True)
            sys.exit(128 + exc.signum)
        except KeyboardInterrupt:
            click.echo("aicensus: interrupted", err=True)
            sys.exit(130)


@click.group(cls=AicensusGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
