"""The published study figures that `aicensus report study` sets beside its own: a data file
(report/data/published.yaml) of studies with their sources and figures, validated on load.

A malformed file raises StudyDataError with one line naming the file, the entry and the field,
e.g. "published.yaml: figures[3]: field 'value': Expected `int | float`, got `str`".
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

from aicensus.errors import StudyDataError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


class Study(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str  # as shown in the comparison table
    citation: str
    date: str  # YYYY-MM-DD, or YYYY-MM when only the month is known
    url: str | None = None


class PublishedFigure(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    figure: str  # the id of one of our figures
    row: str  # the label of its row
    column: str  # the column compared
    value: int | float
    study: str  # a key of `studies`
    provenance: Literal["P", "S", "A", "D"]
    note: str = ""


class _File(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    studies: dict[str, Study]
    figures: list[PublishedFigure]


class Published(msgspec.Struct, kw_only=True, frozen=True):
    studies: dict[str, Study]
    figures: list[PublishedFigure]


def _at(error: msgspec.ValidationError) -> tuple[str, str]:
    """(where, why) of a msgspec error such as "Expected `str`, got `int` - at `$.figures[3].row`"."""
    text = str(error)
    found = re.search(r"\s*-\s*at\s*`\$\.?([^`]*)`$", text)
    path, why = (found.group(1), text[: found.start()]) if found else ("", text)
    named = re.search(r"field `([^`]+)`", why)
    if named:  # an unknown or missing field: the path is the object that holds it
        return (f"{path}: " if path else "") + f"field '{named.group(1)}'", why
    head, _, field = path.rpartition(".")
    if not path:
        return "", why
    return (f"{head}: " if head else "") + f"field '{field}'", why


def load_published(path: str | Path | None = None, figure_ids: set[str] | None = None) -> Published:
    """Read and validate the published figures (the packaged file when path is None).

    With figure_ids, every figure must name one of them."""
    if path is None:
        where = resources.files("aicensus.report") / "data" / "published.yaml"
        label = "published.yaml"
    else:
        where = Path(path)
        label = str(path)
    try:
        raw: Any = yaml.load(where.read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, UnicodeDecodeError) as error:
        raise StudyDataError(f"{label}: cannot read: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise StudyDataError(f"{label}:{line}: {problem}") from None
    try:
        data = msgspec.convert(raw, _File)
    except msgspec.ValidationError as error:
        at, why = _at(error)
        raise StudyDataError(f"{label}: {at}: {why}" if at else f"{label}: {why}") from None
    _check(label, data, figure_ids)
    return Published(studies=data.studies, figures=data.figures)


def _check(label: str, data: _File, figure_ids: set[str] | None) -> None:
    for key, study in data.studies.items():
        if not _DATE.match(study.date):
            raise StudyDataError(
                f"{label}: studies.{key}: field 'date': {study.date!r} is not YYYY-MM-DD or YYYY-MM"
            )
        if study.url is not None and not study.url.startswith("https://"):
            raise StudyDataError(f"{label}: studies.{key}: field 'url': not an https:// URL")
    for i, fig in enumerate(data.figures):
        if fig.study not in data.studies:
            raise StudyDataError(
                f"{label}: figures[{i}]: field 'study': {fig.study!r} is not one of the studies "
                f"({', '.join(data.studies)})"
            )
        if figure_ids is not None and fig.figure not in figure_ids:
            raise StudyDataError(
                f"{label}: figures[{i}]: field 'figure': {fig.figure!r} is not a study figure"
            )
        if isinstance(fig.value, bool):
            raise StudyDataError(f"{label}: figures[{i}]: field 'value': not a number")


@functools.cache
def default_published(figure_ids: frozenset[str] | None = None) -> Published:
    """The packaged published figures, loaded and validated once per process."""
    return load_published(None, set(figure_ids) if figure_ids is not None else None)
