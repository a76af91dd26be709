"""The published study figures are a data file with their sources, validated on load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aicensus.errors import AicensusError, StudyDataError
from aicensus.report.published import load_published
from aicensus.report.study import FIGURE_ORDER, published

PACKAGED = Path(__file__).parents[2] / "src" / "aicensus" / "report" / "data" / "published.yaml"


def test_the_packaged_figures_name_real_figures_and_dated_sources() -> None:
    data = published()
    assert len(data.figures) >= 30
    assert {f.figure for f in data.figures} <= set(FIGURE_ORDER)
    for key, study in data.studies.items():
        assert study.citation and study.date[:2] == "20", key
    used = {f.study for f in data.figures}
    assert used == set(data.studies)  # no study without a figure, no figure without a study
    sentinel = data.studies["sentinellabs-censys-2026"]
    assert sentinel.url and "sentinelone.com" in sentinel.url and sentinel.date == "2026-01-29"
    by_row = {(f.figure, f.row, f.column, f.study): f.value for f in data.figures}
    assert by_row[("scale", "unique hosts", "value", "sentinellabs-censys-2026")] == 175_108
    once = ("persistence", "seen once", "share of hosts", "sentinellabs-censys-2026")
    assert by_row[once] == 0.36


def _write(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(PACKAGED.read_text(encoding="utf-8"))
    change(raw)
    path = tmp_path / "published.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _set(where: str, key: str, value: object):  # type: ignore[no-untyped-def]
    def change(raw: dict) -> None:  # type: ignore[type-arg]
        target = raw["figures"][3] if where == "figure" else raw["studies"]["cisco-shodan-2025"]
        target[key] = value

    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_set("figure", "value", "many"), "figures[3]: field 'value'"),
        (_set("figure", "study", "nobody-2020"), "figures[3]: field 'study': 'nobody-2020'"),
        (_set("figure", "figure", "no_such_figure"), "figures[3]: field 'figure'"),
        (_set("figure", "provenance", "X"), "figures[3]: field 'provenance'"),
        (_set("figure", "typo", 1), "figures[3]: field 'typo'"),
        (_set("study", "date", "September 2025"), "studies.cisco-shodan-2025: field 'date'"),
        (_set("study", "url", "http://example.com"), "field 'url': not an https:// URL"),
        (lambda raw: raw.pop("studies"), "field 'studies'"),
    ],
)
def test_a_malformed_file_is_one_line_naming_the_entry(  # type: ignore[no-untyped-def]
    tmp_path: Path, change, expected: str
) -> None:
    path = _write(tmp_path, change)
    with pytest.raises(StudyDataError) as raised:
        load_published(path, set(FIGURE_ORDER))
    message = str(raised.value)
    assert isinstance(raised.value, AicensusError)
    assert "\n" not in message and message.startswith(str(path)), message
    assert expected in message, message


def test_not_yaml_and_missing_file_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("studies: [unclosed\n", encoding="utf-8")
    with pytest.raises(StudyDataError, match=r"bad\.yaml: line \d+"):
        load_published(bad)
    with pytest.raises(StudyDataError, match="cannot read"):
        load_published(tmp_path / "absent.yaml")
