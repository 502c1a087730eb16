"""Error types that carry what an analyst needs to fix bad input: file, column, rows, values.

The command-line interface catches :class:`SipasError` and prints its message without a Python
traceback (exit 2). Any other exception is a bug: the interface prints a bilingual message naming
the step and the file being worked on (recorded by :func:`step`), writes the traceback to a log
file for a bug report, and exits 3 (:data:`EXIT_BUG`). Code never uses bare ``assert`` for user
input.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence

#: Exit codes of the ``sipas`` command.
EXIT_OK, EXIT_INVALID, EXIT_INPUT, EXIT_BUG = 0, 1, 2, 3

__all__ = [
    "ConfigError",
    "InputError",
    "SipasError",
]


class SipasError(Exception):
    """Base class for every error about the user's input or configuration."""


class InputError(SipasError):
    """A problem in an input file, named precisely.

    Parameters
    ----------
    message : str
        What is wrong, in plain words.
    file : str, optional
        The file (as the user named it).
    column : str, optional
        The column or field concerned.
    rows : sequence of int, optional
        Row numbers as in the source file (1-based, header = row 1 for spreadsheets/CSV).
    values : iterable, optional
        The offending values.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        rows: Sequence[int] | None = None,
        values: Iterable[object] | None = None,
    ) -> None:
        self.file = file
        self.column = column
        self.rows = list(rows) if rows is not None else None
        self.values = list(values) if values is not None else None
        self.reason = message
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.file:
            parts.append(f"file {self.file}")
        if self.column:
            parts.append(f"column {self.column!r}")
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:20])
            more = f" (+{len(self.rows) - 20} more)" if len(self.rows) > 20 else ""
            parts.append(f"rows {shown}{more}")
        where = ("; ".join(parts) + ": ") if parts else ""
        text = where + self.reason
        if self.values:
            shown = ", ".join(repr(v) for v in self.values[:10])
            more = f" (+{len(self.values) - 10} more)" if len(self.values) > 10 else ""
            text += f" [values: {shown}{more}]"
        return text


class ConfigError(SipasError):
    """A wave configuration or instrument definition file is malformed."""


@contextlib.contextmanager
def step(name: str, file: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """Name the step (and the file) of the block for the message of an unexpected error.

    An exception leaving the block carries the innermost step as ``exc.sipas_step`` =
    ``(name, file)``; :class:`SipasError` passes through unchanged.

    Examples
    --------
    >>> try:
    ...     with step("đọc / reading", "a.csv"):
    ...         1 / 0
    ... except ZeroDivisionError as exc:
    ...     exc.sipas_step
    ('đọc / reading', 'a.csv')
    """
    try:
        yield
    except BaseException as exc:
        if not isinstance(exc, SipasError) and getattr(exc, "sipas_step", None) is None:
            with contextlib.suppress(AttributeError, TypeError):
                exc.sipas_step = (name, None if file is None else str(file))
        raise
