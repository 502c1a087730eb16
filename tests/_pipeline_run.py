"""Helpers of the shared run of every sample wave (the session fixtures are in ``conftest.py``).

``session_run`` runs ``pipeline.run_waves(pipeline.discover_configs(), ...)`` once per test session.
The slower by-products that ``test_pipeline.py`` and ``test_briefs.py`` need are ``sipas`` commands
started as child processes (:class:`Job`) before the in-process run, so that they use the second
CPU core meanwhile:

* ``rerun``: ``sipas run --no-briefs`` of every wave into another folder (tables must be identical);
* ``cli_history``: ``sipas run --no-briefs waves/sipas-2024.yaml`` (adds the earlier SIPAS waves);
* ``brief_2024``: ``sipas brief`` on the tables of ``cli_history`` (latest wave 2024: a wave with
  suppressed cells and commune-level weak points), started once ``cli_history`` has finished;
* ``rebrief``: ``sipas brief --tables OUT/tables`` (re-renders the latest wave's briefs), started
  after the in-process run whose tables it reads.

A job starts early only when a collected test uses its fixture, otherwise on first use.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sipas_analysis import pipeline
from sipas_analysis.paths import REPO_ROOT

#: Latest SIPAS wave of the sample (data/sample/README.md): the run's briefs are for this wave.
LATEST_SIPAS_WAVE = "2025"

#: Seconds a child process may take before the test fails (a run takes well under a minute).
JOB_TIMEOUT = 900

#: Fixture name -> job name; a job starts early when a collected test uses its fixture.
JOB_FIXTURES = {
    "rerun_job": "rerun",
    "cli_history_job": "cli_history",
    "rebrief_job": "rebrief",
    "brief_2024_job": "brief_2024",
}


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, computed here independently of the package."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree_checksums(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under a folder."""
    return {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def sipas_cli(*args: str) -> list[str]:
    """Command line of the ``sipas`` command run by the venv's Python."""
    return [sys.executable, "-m", "sipas_analysis.cli", *args]


@dataclass
class Job:
    """A ``sipas`` command run as a child process; its output goes to files in ``log_dir``."""

    name: str
    args: list[str]
    out_dir: Path
    log_dir: Path
    #: The job whose output this one reads (started only once that one has finished).
    after: Job | None = None
    proc: subprocess.Popen | None = None
    returncode: int | None = None

    def start(self) -> Job:
        """Start the process (once)."""
        if self.proc is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            env = dict(os.environ, PYTHONIOENCODING="utf-8")
            env.setdefault("MPLBACKEND", "Agg")
            with (
                open(self.log_dir / f"{self.name}.out", "wb") as out,
                open(self.log_dir / f"{self.name}.err", "wb") as err,
            ):
                self.proc = subprocess.Popen(
                    self.args, cwd=REPO_ROOT, stdout=out, stderr=err, env=env
                )
        return self

    @property
    def finished(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def wait(self) -> Job:
        """Wait for the job (starting it if needed) and return it."""
        self.start()
        assert self.proc is not None
        if self.returncode is None:
            self.returncode = self.proc.wait(timeout=JOB_TIMEOUT)
        return self

    @property
    def stdout(self) -> str:
        return (self.log_dir / f"{self.name}.out").read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return (self.log_dir / f"{self.name}.err").read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@dataclass
class SessionRun:
    """The shared run: its result, output folder, input checksums and child processes."""

    result: pipeline.RunResult | None
    out: Path
    configs: list[Path]
    data_files: list[Path]
    data_sha256_before: dict[str, str]
    jobs: dict[str, Job] = field(default_factory=dict)
    #: Jobs used by a collected test (started early).
    early: set[str] = field(default_factory=set)

    def job(self, name: str) -> Job:
        """A finished job (started now if it had not been, after the job it reads)."""
        job = self.jobs[name]
        if job.after is not None:
            job.after.wait()
        return job.wait()

    def start_ready(self) -> None:
        """Start the early jobs whose ``after`` job has finished (called between tests)."""
        for name in self.early:
            job = self.jobs[name]
            if job.proc is None and job.after is not None and job.after.finished:
                job.start()

    def close(self) -> None:
        for job in self.jobs.values():
            job.kill()


def make_jobs(base: Path, out: Path) -> dict[str, Job]:
    """The child processes of the shared run (not started)."""
    logs = base / "logs"
    jobs = {
        "rerun": Job(
            "rerun",
            sipas_cli("run", "--no-briefs", "--quiet", "--out", str(base / "rerun")),
            base / "rerun",
            logs,
        ),
        "cli_history": Job(
            "cli_history",
            sipas_cli("run", "--no-briefs", "--out", str(base / "cli"), "waves/sipas-2024.yaml"),
            base / "cli",
            logs,
        ),
        "rebrief": Job(
            "rebrief",
            sipas_cli("brief", "--tables", str(out / "tables"), "--out", str(base / "rebrief")),
            base / "rebrief",
            logs,
        ),
        "brief_2024": Job(
            "brief_2024",
            sipas_cli(
                "brief", "--tables", str(base / "cli" / "tables"), "--out", str(base / "b24")
            ),
            base / "b24",
            logs,
        ),
    }
    jobs["brief_2024"].after = jobs["cli_history"]
    return jobs
