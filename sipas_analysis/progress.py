"""Progress of long commands: one mechanism for the whole package.

A step prints a line when it starts (``[ 3/20] chỉ số / indices sipas-2024 …``) and, when it ends,
its time and what it produced (``         ✓ 2.4 s  4307 ước lượng / estimates``), so the screen
always names the step that is running; a loop of long steps (the waves of ``sipas make-sample``)
is one step per pass. Progress lines, warnings and the command's final summary go to
**one stream** (standard output), in the order they happen.

Warnings raised inside a step are collected and printed after it, each with the step's context
(the wave) and, where the step can tell, the units and indices concerned (:meth:`Step.explain`);
the same text goes to the step's ``warnings`` list for the caller.

Examples
--------
>>> import io
>>> out = io.StringIO()
>>> prog = Progress(2, stream=out, clock=iter([0.0, 0.0, 1.5, 1.5, 2.0]).__next__)
>>> with prog.step("đọc / loading a") as step:
...     step.done("10 dòng / rows")
>>> print(out.getvalue().splitlines()[1])
         ✓ 1.5 s  10 dòng / rows
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

__all__ = [
    "stream",
    "warning_line",
    "Step",
    "Progress",
    "quiet",
    "describe_cells",
]

#: Indentation of the lines printed under a step's start line.
_INDENT = " " * 9


def stream() -> IO[str]:
    """The stream of progress and results (standard output, looked up when used)."""
    return sys.stdout


def warning_line(text: str, category: str = "Warning", context: str = "") -> str:
    """One line of a warning for people: ``Cảnh báo / Warning [sipas-2024] (DesignWarning): …``."""
    where = f" [{context}]" if context else ""
    return f"Cảnh báo / Warning{where} ({category}): {text}"


@dataclass
class Step:
    """A running step: :meth:`done` sets the text printed with its time; warnings it raised."""

    message: str
    context: str = ""
    detail: str = ""
    seconds: float | None = None
    warnings: list[str] = field(default_factory=list)
    _explainers: list[Callable[[warnings.WarningMessage], str | None]] = field(default_factory=list)

    def done(self, detail: str) -> None:
        """What the step produced, printed after its time when it ends."""
        self.detail = detail

    def took(self, seconds: float) -> None:
        """The time to print for the step: the work's own (done in a worker process), not the
        time the step waited for it."""
        self.seconds = seconds

    def explain(self, explainer: Callable[[warnings.WarningMessage], str | None]) -> None:
        """Register a function giving the full text of a warning (naming units and indices), or
        None to keep the warning's own text; it is called when the step ends."""
        self._explainers.append(explainer)

    def _text(self, w: warnings.WarningMessage) -> str:
        for explainer in self._explainers:
            text = explainer(w)
            if text:
                return text
        return str(w.message)


class Progress:
    """Numbered steps of a job on one stream; silent when ``enabled`` is False.

    Parameters
    ----------
    total : int
        Number of steps announced (``[k/total]``).
    enabled : bool
        Print anything at all (warnings are then passed on to Python's warning machinery).
    stream : file, optional
        Where to print (default: standard output).
    clock : callable, optional
        Seconds (default :func:`time.perf_counter`).
    """

    def __init__(
        self,
        total: int,
        *,
        enabled: bool = True,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.total = total
        self.enabled = enabled
        self._stream = stream
        self.clock = clock
        self.count = 0
        self.start = clock()

    @property
    def out(self) -> IO[str]:
        return self._stream if self._stream is not None else stream()

    def line(self, text: str) -> None:
        """A line on the progress stream (flushed at once, so it stays in order)."""
        if self.enabled:
            print(text, file=self.out, flush=True)

    @contextlib.contextmanager
    def step(self, message: str, *, context: str = "") -> Iterator[Step]:
        """Announce a step, run the block, then print its time, detail and warnings.

        Warnings raised in the block are printed after the step, with ``context``. A failing
        block prints nothing more (the error is reported by the caller).
        """
        self.count += 1
        t0 = self.clock()
        self.line(f"[{self.count:>2}/{self.total}] {message} …")
        handle = Step(message, context)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            yield handle
        seconds = self.clock() - t0 if handle.seconds is None else handle.seconds
        self.line(f"{_INDENT}✓ {seconds:.1f} s  {handle.detail}".rstrip())
        seen: set[str] = set()
        for w in caught:
            text = handle._text(w)
            line = warning_line(text, w.category.__name__, context)
            if line in seen:
                continue
            seen.add(line)
            handle.warnings.append(line)
            if self.enabled:
                self.line(f"{_INDENT}{line}")
            else:
                warnings.warn_explicit(
                    f"[{context}] {text}" if context else text,
                    w.category,
                    w.filename,
                    w.lineno,
                )

    def elapsed(self) -> float:
        """Seconds since the job started."""
        return self.clock() - self.start


def quiet() -> Progress:
    """A progress that prints nothing (for library calls)."""
    return Progress(0, enabled=False)


def describe_cells(rows: Any, limit: int = 8) -> str:
    """The units and indices of some estimate rows, for a warning:
    ``Xã Mỹ Yên (27799): tthc_2, tthc_3; Huyện Đức Hòa (802), nhóm Nam: sipas`` (+N more)."""
    from sipas_analysis.report.labels import subgroup_label

    if rows is None or len(rows) == 0:
        return ""
    parts = []
    keys = ["unit_code", "unit_name"] + (["subgroup"] if "subgroup" in rows.columns else [])
    for key, group in rows.groupby(keys, sort=False, dropna=False):
        code, name = key[0], key[1]
        sub = subgroup_label(key[2]) if len(key) > 2 else ""
        where = f"{name} ({code})" + (f", nhóm / group {sub}" if sub else "")
        codes = list(dict.fromkeys(group["index_code"].astype(str)))
        parts.append(f"{where}: {', '.join(codes)}")
    more = len(parts) - limit
    text = "; ".join(parts[:limit])
    return text + (f"; … +{more}" if more > 0 else "")
