"""The CLI's shared parts: one error path for every command (also invoked on its own), the
atomic file writer and the table printer."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from aicensus.cli.app import Command, Group
from aicensus.cli.lab import lab_group
from aicensus.cli.output import output_file, print_table
from aicensus.cli.policy import policy_group
from aicensus.cli.report import report_command
from aicensus.errors import AicensusError, StoreError


def _errors(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_a_library_error_is_one_line_and_exit_2_in_every_command(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = tmp_path / "none.duckdb"
    for command, args in (
        (report_command, ["--db", str(missing)]),
        (policy_group, ["validate", str(tmp_path / "nope.yaml")]),
        (policy_group, ["check", "--policy", str(tmp_path / "nope.yaml")]),
    ):
        result = runner.invoke(command, args)
        assert result.exit_code == 2, (args, result.output)
        lines = _errors(result)
        assert len(lines) == 1 and lines[0].startswith("aicensus: error: "), lines
        assert "Traceback" not in result.output


def test_nested_groups_and_their_commands_share_the_error_path() -> None:
    @click.group(cls=Group)
    def outer() -> None:
        pass

    @outer.group()
    def inner() -> None:
        pass

    @inner.command()
    def boom() -> None:
        raise StoreError("store x.duckdb is held by another process")

    assert isinstance(inner, Group) and isinstance(boom, Command)
    result = CliRunner().invoke(outer, ["inner", "boom"])
    assert result.exit_code == 2
    assert _errors(result) == ["aicensus: error: store x.duckdb is held by another process"]


def test_a_failed_pip_install_in_lab_setup_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(cmd: list[str], check: bool) -> None:
        raise subprocess.CalledProcessError(1, cmd)

    monkeypatch.setattr(subprocess, "run", fail)
    result = CliRunner().invoke(lab_group, ["setup", "--all"])
    assert result.exit_code == 2
    assert _errors(result)[-1].startswith("aicensus: error: pip install failed")


def test_output_file_replaces_only_a_complete_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), output_file(str(target)) as out:
        out.write("half of a new report")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    with output_file(str(target)) as out:
        out.write("new\n")
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_output_file_that_cannot_be_written_names_it(tmp_path: Path) -> None:
    where = tmp_path / "no-such-dir" / "report.html"
    with pytest.raises(AicensusError, match=f"cannot write {where}: "), output_file(str(where)):
        pass


def test_print_table_pads_clips_and_prints_details(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(
        ("NAME", "WHO"),
        [("a" * 12, "x"), ("b", "y")],
        clip=6,
        details=[["evidence one"], []],
    )
    assert capsys.readouterr().out.splitlines() == [
        "NAME    WHO",
        "aaaaa…  x",
        "    evidence one",
        "b       y",
    ]
