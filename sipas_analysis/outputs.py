"""Atomic writes and safe output folders: an output appears whole or not at all, and only
where it may.

Every writer in the package goes through :func:`atomic_path`, which hands out a temporary path in
the destination folder and renames it over the target only when the block finishes without error.
A failed run therefore leaves no half-written outputs.

The output folder of ``sipas run`` (:func:`check_out_dir`, :func:`out_dir_lock`,
:func:`recover_leftovers`, :func:`publish`):

* it is replaced only when an earlier run made it (it holds the marker file :data:`MARKER` with
  that run's manifest), when it is empty, or when it does not exist; a folder holding an input
  file, a parent of the inputs, the project root, a home folder, the current folder or one of
  its parents is refused, as is any other folder with files in it;
* one run at a time per folder: a lock file next to it (``.NAME.lock``, ``flock``) makes a
  second run refuse at once, naming the process that holds it;
* the swap has no moment without an output folder: old -> ``.NAME.old-PID``, staging -> NAME,
  backup removed, with SIGINT/SIGTERM held back during the two renames; a leftover staging
  folder (a killed run) is removed and a leftover backup restored (when NAME is missing) or
  removed, with a note, when the next run starts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from sipas_analysis.errors import SipasError

__all__ = [
    "atomic_path",
    "write_csv",
    "OutputFolderError",
    "is_run_folder",
    "check_out_dir",
    "write_marker",
    "out_dir_lock",
    "staging_dir",
    "recover_leftovers",
    "publish",
    "Terminated",
    "terminate_as_exception",
]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; move it onto ``target`` on success.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "t.csv") as tmp:
    ...     pd.DataFrame({"a": [1]}).to_csv(tmp, index=False)
    >>> (d / "t.csv").exists()
    True
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600; give the finished file the usual permissions (0666 minus the umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_csv(df, target: str | os.PathLike[str], **kwargs) -> Path:
    """Write a DataFrame to CSV (UTF-8 with BOM, so Excel shows Vietnamese correctly), atomically."""
    kwargs.setdefault("index", False)
    kwargs.setdefault("encoding", "utf-8-sig")
    with atomic_path(target) as tmp:
        df.to_csv(tmp, **kwargs)
    return Path(target)


# ---------------------------------------------------------------------------------------------
# Output folders of a run
# ---------------------------------------------------------------------------------------------

#: File that marks a folder as the output of ``sipas run`` (it holds that run's manifest).
MARKER = ".sipas_run.json"
#: Entries of a run's output folder. A folder written by a version without the marker is taken
#: as a run's output when it holds only these and a ``manifest.json`` of this package.
RUN_ENTRIES = frozenset(
    {"tables", "validation", "figures", "briefs", "manifest.json", "logs", MARKER}
)


class OutputFolderError(SipasError):
    """The output folder cannot be used (it holds inputs, is a home folder, is in use, ...)."""


def _refuse(out_dir: Path, vi: str, en: str) -> OutputFolderError:
    return OutputFolderError(
        f"thư mục kết quả {out_dir} không dùng được: {vi} / output folder {out_dir} refused: "
        f"{en}. Chọn thư mục khác với --out / choose another folder with --out "
        "(e.g. --out reports)."
    )


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def is_run_folder(folder: Path) -> bool:
    """True when ``folder`` was written by ``sipas run`` (its marker, or an older run's layout)."""
    marker = folder / MARKER
    if marker.is_file():
        try:
            return json.loads(marker.read_text(encoding="utf-8")).get("made_by") == "sipas run"
        except (OSError, ValueError, AttributeError):
            return False
    entries = {p.name for p in folder.iterdir()}
    if "manifest.json" not in entries or not entries <= RUN_ENTRIES:
        return False
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("package") == "sipas_analysis"


def check_out_dir(
    out_dir: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str]] = (),
    *,
    project_root: str | os.PathLike[str] | None = None,
) -> Path:
    """The resolved output folder of a run, or :class:`OutputFolderError` saying why not.

    Parameters
    ----------
    out_dir : path
        The folder as the user gave it (``--out``).
    inputs : paths
        Every file the run reads (wave configs, data files, targets): the output folder may
        neither hold one nor be a parent of one.
    project_root : path, optional
        The project's root folder (default: the repository of the package).
    """
    from sipas_analysis.paths import REPO_ROOT

    given = Path(out_dir)
    target = given.resolve()
    root = Path(project_root).resolve() if project_root else REPO_ROOT.resolve()
    cwd = Path.cwd().resolve()
    home = Path.home().resolve()
    if given.name in ("", ".", "..") or _is_within(cwd, target):
        raise _refuse(
            target,
            "đây là thư mục đang làm việc hoặc thư mục cha của nó",
            "it is the current folder or one of its parents",
        )
    if _is_within(root, target):
        raise _refuse(
            target, "đây là thư mục gốc của dự án", "it is the project root or a parent of it"
        )
    if _is_within(home, target) or target.parent in (Path("/home"), Path("/")):
        raise _refuse(target, "đây là thư mục nhà (home)", "it is a home folder or a parent of it")
    for item in inputs:
        f = Path(item).resolve()
        if _is_within(f, target):
            raise _refuse(
                target,
                f"thư mục này chứa tệp đầu vào {f}",
                f"it holds the input file {f} (or is a parent of its folder)",
            )
    if target.exists() and not target.is_dir():
        raise _refuse(target, "đây là một tệp, không phải thư mục", "it is a file, not a folder")
    if target.is_dir() and any(target.iterdir()) and not is_run_folder(target):
        shown = ", ".join(sorted(p.name for p in target.iterdir())[:8])
        raise _refuse(
            target,
            f"thư mục có tệp không do `sipas run` tạo ra ({shown})",
            f"it holds files that no `sipas run` wrote ({shown}); a run replaces its output "
            f"folder as a whole, so it only replaces a folder marked by an earlier run "
            f"({MARKER})",
        )
    return target


def write_marker(folder: Path, manifest: dict) -> Path:
    """Write the marker of a run's output folder (with the run's manifest), atomically."""
    record = {
        "made_by": "sipas run",
        "written": dt.datetime.now().isoformat(timespec="seconds"),
        "manifest": manifest,
    }
    target = folder / MARKER
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    return target


def _lock_path(out_dir: Path) -> Path:
    return out_dir.with_name(f".{out_dir.name}.lock")


@contextlib.contextmanager
def out_dir_lock(out_dir: Path) -> Iterator[Path]:
    """Hold the lock of an output folder for the block; a second holder is refused at once.

    The lock is an ``flock`` on ``.NAME.lock`` beside the folder (released by the system if the
    process dies); the file holds the pid and start time of the holder, and is removed when the
    block ends.
    """
    import fcntl

    path = _lock_path(out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "?"
            os.close(fd)
            raise OutputFolderError(
                f"một lần chạy khác đang ghi vào {out_dir} ({holder}); chờ nó xong hoặc chọn "
                f"--out khác / another run is writing into {out_dir} ({holder}); wait for it "
                "to finish or choose another --out."
            ) from None
        # the file may have been removed by the previous holder after we opened it: retry
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, {dt.datetime.now():%Y-%m-%d %H:%M:%S}".encode())
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def staging_dir(out_dir: Path) -> Path:
    """The staging folder of this process for ``out_dir`` (a hidden sibling)."""
    return out_dir.with_name(f".{out_dir.name}.staging-{os.getpid()}")


def _backup_dir(out_dir: Path) -> Path:
    return out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")


def recover_leftovers(out_dir: Path, *, note=None) -> list[str]:
    """Clean what killed runs left beside ``out_dir`` (call with the lock held).

    A staging folder is removed; a backup folder is moved back to ``out_dir`` when that is
    missing (a run killed between the two renames of the swap), else removed. Each action is
    reported through ``note`` (default: a line on stderr) and returned.
    """
    notes: list[str] = []
    parent = out_dir.parent
    if not parent.is_dir():
        return notes
    for leftover in sorted(parent.glob(f".{out_dir.name}.staging-*")):
        shutil.rmtree(leftover, ignore_errors=True)
        notes.append(
            f"đã xoá thư mục tạm của một lần chạy bị dừng / removed the staging folder of an "
            f"interrupted run: {leftover}"
        )
    for backup in sorted(parent.glob(f".{out_dir.name}.old-*")):
        if not out_dir.exists():
            os.replace(backup, out_dir)
            notes.append(
                f"đã khôi phục kết quả trước từ bản sao lưu / restored the previous outputs from "
                f"the backup {backup} -> {out_dir}"
            )
        else:
            shutil.rmtree(backup, ignore_errors=True)
            notes.append(f"đã xoá bản sao lưu cũ / removed a leftover backup: {backup}")
    for line in notes:
        (note or _note)(line)
    return notes


def _note(line: str) -> None:
    print(f"Ghi chú / Note: {line}", file=sys.stderr)


_SWAP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def publish(stage: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by the finished staging folder; there is always an output folder.

    old -> backup, stage -> out, backup removed. SIGINT and SIGTERM are held back during the
    two renames (delivered right after); if the second rename fails the backup is put back.
    """
    backup = _backup_dir(out_dir)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SWAP_SIGNALS)
    try:
        if out_dir.exists():
            os.replace(out_dir, backup)
        try:
            os.replace(stage, out_dir)
        except BaseException:
            if backup.exists() and not out_dir.exists():
                os.replace(backup, out_dir)
            raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    if backup.exists():
        shutil.rmtree(backup, ignore_errors=True)


class Terminated(SystemExit):
    """SIGTERM received: raised in the main thread so that cleanup code runs (exit 143)."""


@contextlib.contextmanager
def terminate_as_exception() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (so ``finally`` blocks run)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
