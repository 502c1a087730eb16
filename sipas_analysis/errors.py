"""Error types that carry what an analyst needs to fix bad input: file, column, rows, values.

The command-line interface catches :class:`SipasError` and prints its message without a Python
traceback, exiting non-zero. Code never uses bare ``assert`` for user input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
