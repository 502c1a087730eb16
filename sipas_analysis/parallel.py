"""Work in forked worker processes: results in order, errors raised in the parent as they were.

Used by ``sipas run`` to load the waves, compute their indices and render the briefs on every
core, and to write the workbook in the background while the briefs are rendered.

* :func:`run_each` calls a function on every item in forked workers (each takes the next item
  when it is free) and yields the results **in the order of the items**, so progress lines stay
  in order. The function and the items are inherited through ``fork`` (a closure will do); only
  the results travel back (pickled). Warnings raised in a worker are raised again in the parent
  when its result is taken, so a progress step reports them as before.
* :class:`Background` runs one function in a forked process while the parent goes on;
  :meth:`Background.result` waits for it.
* An exception in a worker is raised in the parent, when its turn comes, as the same exception
  (type, message and the attribute ``sipas_step`` naming the step of an unexpected error),
  chained to the worker's traceback (:class:`WorkerTraceback`); the other workers are stopped.
  An exception that cannot be pickled comes back as :class:`WorkerError` with its text.
* Workers ignore Ctrl+C: the parent gets it, stops (kills) its workers and cleans up as before.
  A worker leaves through ``os._exit`` (no ``atexit`` handler, no buffered output of the parent).

Forking is refused after :func:`forbid_fork` (a process forked after typst has typeset
anything hangs: :mod:`sipas_analysis.report.brief` calls it before it typesets): the work then
runs in the calling process, one item after the other, with the same results. With one core,
``SIPAS_WORKERS=1`` or without ``os.fork`` it runs in the calling process too.

Examples
--------
>>> [r.value for r in run_each(lambda x: x * x, [1, 2, 3])]
[1, 4, 9]
>>> job = Background(lambda: "done")
>>> job.result()
'done'
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.connection import Connection, Pipe, wait
from typing import Any, TypeVar

__all__ = [
    "Background",
    "WorkerError",
    "WorkerTraceback",
    "Timed",
    "default_workers",
    "fork_allowed",
    "forbid_fork",
    "run_each",
]

T = TypeVar("T")
R = TypeVar("R")

#: Why forking is refused in this process (None: it is allowed).
_forbidden: str | None = None


class WorkerError(RuntimeError):
    """An exception of a worker that could not be sent back as itself (its text is kept)."""


class WorkerTraceback(Exception):
    """The traceback of an exception raised in a worker (its ``__cause__`` in the parent)."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0]) if self.args else ""


class Timed:
    """A worker's result with the seconds its work took (:func:`run_each` returns these)."""

    __slots__ = ("value", "seconds")

    def __init__(self, value: Any, seconds: float) -> None:
        self.value = value
        self.seconds = seconds


def forbid_fork(reason: str) -> None:
    """From now on this process forks no worker (the work runs in it); ``reason`` is kept."""
    global _forbidden
    if _forbidden is None:
        _forbidden = reason


def fork_allowed() -> bool:
    """Whether this process may fork workers.

    Not after :func:`forbid_fork`, not without ``os.fork``, and not once ``typst`` is imported in
    this process by anyone (a notebook or a test that typeset a document itself, without
    :func:`sipas_analysis.report.brief.compile_pdf`): a process forked after typst has typeset
    anything hangs. The package imports typst only where it typesets, so a run's parent process
    still forks.
    """
    return _forbidden is None and hasattr(os, "fork") and not _typst_imported()


def _typst_imported() -> bool:
    """Whether the ``typst`` module is loaded in this process (it may have typeset already)."""
    return "typst" in sys.modules


def default_workers() -> int:
    """Workers to use: ``SIPAS_WORKERS`` if set, else the cores this process may run on."""
    env = os.environ.get("SIPAS_WORKERS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------
# In the worker
# ---------------------------------------------------------------------------------------------


def _call(func: Callable[[], Any]) -> tuple:
    """Run ``func`` and pack what goes back: ("ok", value, seconds, warnings) or an error."""
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            value = func()
        seen = [(w.message, w.category, w.filename, w.lineno) for w in caught]
        return ("ok", value, time.perf_counter() - t0, seen)
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, raised there
        return ("error", exc, traceback.format_exc(), None)


def _send(conn: Connection, packed: tuple) -> None:
    """Send ``(item, kind, ...)``; an exception that would not come back whole goes as text."""
    if packed[1] == "ok":
        try:
            conn.send_bytes(pickle.dumps(packed, protocol=pickle.HIGHEST_PROTOCOL))
            return
        except Exception as exc:  # noqa: BLE001 - an unpicklable result
            packed = (packed[0], "error", exc, traceback.format_exc(), None)
    try:
        data = pickle.dumps(packed, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)  # an exception class may not rebuild from its arguments
    except Exception:  # noqa: BLE001
        exc = packed[2]
        plain = WorkerError(f"{type(exc).__name__}: {exc}")
        step_name = getattr(exc, "sipas_step", None)
        if step_name is not None:
            plain.sipas_step = step_name  # type: ignore[attr-defined]
        data = pickle.dumps((packed[0], "error", plain, packed[3], None))
    conn.send_bytes(data)


def _child(conn: Connection, work: Callable[[int], Any]) -> None:
    """The worker's loop: read an item number, send its packed result; stop on -1 or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    status = 0
    try:
        while True:
            try:
                i = conn.recv()
            except EOFError:
                break
            if i is None:
                break
            _send(conn, (i, *_call(lambda i=i: work(i))))
    except BaseException:  # noqa: BLE001 - nothing may escape a forked child
        status = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


def _fork(work: Callable[[int], Any]) -> tuple[int, Connection]:
    """Fork one worker running :func:`_child`; its pid and the parent's end of the pipe."""
    parent_end, child_end = Pipe(duplex=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child (coverage does not follow forks)
        parent_end.close()
        _child(child_end, work)
    child_end.close()
    return pid, parent_end


def _stop(pids: Iterable[int], conns: Iterable[Connection], *, kill: bool) -> None:
    """End the workers: politely (None, then wait) or at once (SIGKILL); reap them."""
    pids = list(pids)
    for conn in conns:
        with contextlib.suppress(OSError, ValueError):
            if not kill:
                conn.send(None)
            conn.close()
    for pid in pids:
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


# ---------------------------------------------------------------------------------------------
# In the parent
# ---------------------------------------------------------------------------------------------


def _unpack(packed: tuple) -> Timed:
    """The value of a packed result, its warnings raised here; a worker's exception raised."""
    kind, value, extra, caught = packed
    if kind == "error":
        if isinstance(extra, str):
            value.__cause__ = WorkerTraceback(extra.rstrip())
        raise value
    for message, category, filename, lineno in caught or ():
        warnings.warn_explicit(message, category, filename, lineno)
    return Timed(value, extra)


def _serial(func: Callable[[T], R], items: list[T]) -> Iterator[Timed]:
    for item in items:
        t0 = time.perf_counter()
        value = func(item)
        yield Timed(value, time.perf_counter() - t0)


def run_each(
    func: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int | None = None,
    start_order: Sequence[int] | None = None,
) -> Iterator[Timed]:
    """``func(item)`` for every item, in forked workers; :class:`Timed` results in item order.

    Parameters
    ----------
    func : callable
        Called in a worker with one item; inherited through ``fork`` (need not be picklable).
        Its result must be picklable.
    items : iterable
        The items (inherited too).
    workers : int, optional
        Number of workers (default :func:`default_workers`, at most one per item). With one,
        or when forking is not allowed (:func:`fork_allowed`), everything runs here, in item
        order (``start_order`` is then not used).
    start_order : sequence of int, optional
        The positions of the items in the order the workers take them (a permutation of
        ``range(len(items))``), e.g. the longest first so that no worker is left with a long
        item at the end; the results still come in item order. Default: item order.

    Yields
    ------
    Timed
        ``.value`` (the result) and ``.seconds`` (the time the call took in its worker), item
        by item in order; the warnings a call raised are raised again as its result is taken.

    Raises
    ------
    BaseException
        The exception of the first item (in order) whose call failed, as raised in the worker
        (see the module notes). The workers are stopped when the iteration ends, fails or is
        abandoned.
    """
    items = list(items)
    order = list(range(len(items))) if start_order is None else [int(i) for i in start_order]
    if sorted(order) != list(range(len(items))):
        raise ValueError(f"start_order must be a permutation of the {len(items)} item positions")
    n = min(default_workers() if workers is None else max(1, workers), len(items))
    if n <= 1 or not fork_allowed():
        yield from _serial(func, items)
        return
    work = lambda i: func(items[i])  # noqa: E731 - inherited by the workers
    pids: list[int] = []
    conns: dict[Connection, int] = {}
    done: dict[int, tuple] = {}
    next_item = 0  # position in ``order`` of the next item to hand out
    clean = False
    try:
        for _ in range(n):
            pid, conn = _fork(work)
            pids.append(pid)
            conns[conn] = pid
            conn.send(order[next_item])
            next_item += 1
        for want in range(len(items)):
            while want not in done:
                ready = wait(list(conns))
                for conn in ready:
                    try:
                        packed = pickle.loads(conn.recv_bytes())
                    except (EOFError, OSError):
                        raise WorkerError(
                            f"a worker process (pid {conns[conn]}) ended unexpectedly"
                        ) from None
                    done[packed[0]] = packed[1:]
                    if next_item < len(items):
                        conn.send(order[next_item])
                        next_item += 1
            if want == len(items) - 1:  # all in: the workers end now, not when the caller
                _stop(pids, conns, kill=False)  # happens to drop the iterator
                pids, conns, clean = [], {}, True
            yield _unpack(done.pop(want))
    finally:
        _stop(pids, conns, kill=not clean)


class Background:
    """``func()`` in a forked process while the caller goes on; :meth:`result` waits for it.

    Without fork (see :func:`fork_allowed`) ``func`` runs at once, here. Used as a context
    manager, a job still running when the block fails is killed.
    """

    def __init__(self, func: Callable[[], Any]) -> None:
        self._packed: tuple | None = None
        self._pid: int | None = None
        self._conn: Connection | None = None
        if fork_allowed() and default_workers() > 1:
            self._pid, self._conn = _fork(lambda _i: func())
            self._conn.send(0)
        else:
            packed = _call(func)
            self._packed = packed if packed[0] == "ok" else ("error", packed[1], None, None)

    def result(self) -> Any:
        """Wait for the job; its value (its warnings raised here), or its exception raised."""
        if self._packed is None:
            assert self._conn is not None and self._pid is not None
            try:
                packed = pickle.loads(self._conn.recv_bytes())[1:]
            except (EOFError, OSError):
                self.cancel()
                raise WorkerError(
                    f"the background process (pid {self._pid}) ended unexpectedly"
                ) from None
            _stop([self._pid], [self._conn], kill=False)
            self._pid = self._conn = None
            self._packed = packed
        return _unpack(self._packed).value

    def cancel(self) -> None:
        """Kill the job if it still runs (its result is lost)."""
        if self._pid is not None:
            _stop([self._pid], [self._conn] if self._conn else [], kill=True)
            self._pid = self._conn = None

    def __enter__(self) -> Background:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.cancel()
