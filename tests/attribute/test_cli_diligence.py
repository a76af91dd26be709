"""`aicensus models card|alternatives` through click's CliRunner."""

from __future__ import annotations

import json

import click
from click.testing import CliRunner

from aicensus.cli.models import models_group


def _invoke(args: list[str]) -> click.testing.Result:
    try:
        from aicensus.cli import app

        app._register()
        return CliRunner().invoke(app.cli, ["models", *args])
    except ImportError:
        return CliRunner().invoke(models_group, args)


def test_card_acceptance_table() -> None:
    result = _invoke(["card", "deepseek-r1:70b"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "MODEL: DeepSeek-R1 distilled" in out and "developer         DeepSeek" in out
    assert "BASE MODEL (weights derive from it): Llama 3.3 70B [llama3.3]" in out
    assert "Meta Platforms, Inc." in out and "700 million" in out
    assert "github:meta-llama/llama-models models/llama3_3/LICENSE" in out
    assert "github:deepseek-ai/DeepSeek-V3 LICENSE-MODEL" in out


def test_card_json_and_markdown() -> None:
    result = _invoke(["card", "deepseek-r1:70b", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["model"]["developer"]["name"] == "DeepSeek"
    assert data["base"]["developer"]["name"] == "Meta"
    assert data["base"]["developer"]["country"]["source"]
    md = _invoke(["card", "qwen2.5:7b", "--format", "markdown"])
    assert md.exit_code == 0 and md.output.startswith("# Due diligence: `qwen2.5:7b`")


def test_card_unknown_name_is_one_line_and_exit_1() -> None:
    result = _invoke(["card", "some-private-model"])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "some-private-model" in result.output


def test_alternatives_acceptance_json() -> None:
    result = _invoke(["alternatives", "qwen2.5:7b", "--exclude-country", "CN", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["exclude_countries"] == ["CN"]
    alts = data["alternatives"]
    assert len(alts) >= 5
    assert all(a["country"] != "CN" and a["reason"] for a in alts)
    closeness = [a["closeness"] for a in alts]
    assert closeness == sorted(closeness, reverse=True)


def test_alternatives_table_and_options() -> None:
    result = _invoke(
        [
            "alternatives",
            "qwen2.5:7b",
            "--exclude-country",
            "CN,us",
            "--licence-class",
            "permissive",
            "--max-params",
            "8b",
            "-n",
            "3",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "excluding CN, US" in result.output
    assert " US " not in result.output and " CN " not in result.output
    bad = _invoke(["alternatives", "qwen2.5:7b", "--exclude-country", "China"])
    assert bad.exit_code == 2
    unknown = _invoke(["alternatives", "some-private-model"])
    assert unknown.exit_code == 1 and "some-private-model" in unknown.output
