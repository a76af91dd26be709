"""What every command shares for its output: the atomic file writer and the table printer."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import IO

import click

from aicensus.errors import AicensusError


@contextlib.contextmanager
def output_file(path: str | None) -> Iterator[IO[str]]:
    """Standard output when `path` is None; otherwise a temporary file beside `path` that
    replaces it only once completely written, so a failed or interrupted write never leaves
    half a report. A file that cannot be written is the CLI's one-line error."""
    if path is None:
        yield sys.stdout
        return
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(tmp, path)
    except OSError as exc:
        raise AicensusError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def print_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    clip: int | None = None,
    details: Sequence[Sequence[str]] | None = None,
) -> None:
    """Columns padded to their widest cell, two spaces apart, trailing blanks stripped.
    `clip` shortens longer cells with an ellipsis; `details[i]` are lines printed indented
    under row i (evidence)."""
    cells = [[_clip(c, clip) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(columns)]
    click.echo(_line(columns, widths))
    for i, row in enumerate(cells):
        click.echo(_line(row, widths))
        for extra in details[i] if details is not None else ():
            click.echo(f"    {extra}")


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def _clip(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"
