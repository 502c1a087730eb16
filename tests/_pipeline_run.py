"""One full run of every sample wave, shared by ``test_pipeline.py`` and ``test_briefs.py``.

The run (``pipeline.run_waves(pipeline.discover_configs(), ...)``, about 30 s) happens once per
test session. The slower by-products the two test files need are command-line runs started as
background processes, so that they use a second CPU core while the in-process run works:

* ``rerun``: ``sipas run --no-briefs`` of every wave into another folder (tables must be identical);
* ``cli_history``: ``sipas run --no-briefs waves/sipas-2024.yaml`` (adds the earlier SIPAS waves);
* ``rebrief``: ``sipas brief --tables OUT/tables`` (re-renders the latest wave's briefs);
* ``brief_2024``: ``sipas brief`` on the tables of ``cli_history`` (latest wave 2024: a wave with
  suppressed cells and commune-level weak points), started when ``cli_history`` has finished.

A job is started early only when a collected test uses its fixture, otherwise on first use.

Session fixtures imported into two test modules would run once per module (pytest keeps one
fixture definition per module), so the run is cached at module level here.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sipas_analysis import pipeline, waves
from sipas_analysis.paths import REPO_ROOT

#: Latest SIPAS wave of the sample (data/sample/README.md): the run's briefs are for this wave.
LATEST_SIPAS_WAVE = "2025"

#: Seconds a background job may take before the test fails.
JOB_TIMEOUT = 300


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
    """A ``sipas`` command run as a background process; output goes to files."""

    name: str
    args: list[str]
    out_dir: Path
    log_dir: Path
    after: Job | None = None
    proc: subprocess.Popen | None = None
    returncode: int | None = None
    _thread: threading.Thread | None = None
    _killed: bool = False

    def start(self) -> Job:
        """Start the process now, or (with ``after``) in a thread once ``after`` has finished."""
        if self.after is not None:
            if self._thread is None:
                self._thread = threading.Thread(target=self._start_after, daemon=True)
                self._thread.start()
            return self
        self._popen()
        return self

    def _start_after(self) -> None:
        assert self.after is not None
        self.after.wait()
        if not self._killed:
            self._popen()

    def _popen(self) -> None:
        if self.proc is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with (
                open(self.log_dir / f"{self.name}.out", "wb") as out,
                open(self.log_dir / f"{self.name}.err", "wb") as err,
            ):
                self.proc = subprocess.Popen(
                    self.args, cwd=REPO_ROOT, stdout=out, stderr=err, env=_child_env()
                )

    def wait(self) -> Job:
        """Wait for the job (starting it if needed) and return it."""
        self.start()
        if self._thread is not None:
            self._thread.join(timeout=JOB_TIMEOUT)
        if self.returncode is None:
            assert self.proc is not None, f"job {self.name} did not start"
            self.returncode = self.proc.wait(timeout=JOB_TIMEOUT)
        return self

    @property
    def stdout(self) -> str:
        return (self.log_dir / f"{self.name}.out").read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return (self.log_dir / f"{self.name}.err").read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        self._killed = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONIOENCODING"] = "utf-8"
    env.setdefault("MPLBACKEND", "Agg")
    return env


@dataclass
class SessionRun:
    """The shared run: its result, output folder, input checksums and background jobs."""

    result: pipeline.RunResult
    out: Path
    configs: list[Path]
    data_files: list[Path]
    data_sha256_before: dict[str, str]
    jobs: dict[str, Job] = field(default_factory=dict)

    def job(self, name: str) -> Job:
        """A finished background job (waits for it)."""
        return self.jobs[name].wait()

    def close(self) -> None:
        for job in self.jobs.values():
            job._killed = True
        for job in self.jobs.values():
            job.kill()


_CACHE: dict[str, object] = {}

#: Fixture name -> job name; a job starts early when a collected test uses its fixture.
JOB_FIXTURES = {
    "rerun_job": "rerun",
    "cli_history_job": "cli_history",
    "rebrief_job": "rebrief",
    "brief_2024_job": "brief_2024",
}


def _make_run(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    base = tmp_path_factory.mktemp("pipeline_run")
    logs = base / "logs"
    used = set()
    for item in request.session.items:
        used.update(getattr(item, "fixturenames", ()))
    early = {job for fixture, job in JOB_FIXTURES.items() if fixture in used}

    configs = pipeline.discover_configs()
    data_files = [waves.load_wave_config(p).file for p in configs]
    before = {str(p): sha256_file(p) for p in data_files}
    out = base / "out"
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
    }
    jobs["brief_2024"] = Job(
        "brief_2024",
        sipas_cli("brief", "--tables", str(base / "cli" / "tables"), "--out", str(base / "b24")),
        base / "b24",
        logs,
        after=jobs["cli_history"],
    )
    session = SessionRun(None, out, configs, data_files, before, jobs)  # type: ignore[arg-type]
    request.addfinalizer(session.close)
    for name in ("rerun", "cli_history", "brief_2024"):  # independent of the main run
        if name in early:
            jobs[name].start()
    session.result = pipeline.run_waves(configs, out, progress=False)
    for name in ("rebrief",):  # reads the main run's tables
        if name in early:
            jobs[name].start()
    return session


@pytest.fixture(scope="session")
def session_run(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """The full run of every sample wave (with briefs), made once per test session."""
    if "error" in _CACHE:
        pytest.fail(f"the shared pipeline run failed: {_CACHE['error']!r}")
    if "run" not in _CACHE:
        try:
            _CACHE["run"] = _make_run(tmp_path_factory, request)
        except BaseException as exc:
            _CACHE["error"] = exc
            raise
    return _CACHE["run"]


@pytest.fixture(scope="session")
def rerun_job(session_run: SessionRun) -> Job:
    """``sipas run --no-briefs`` of every wave into another folder, finished."""
    return session_run.job("rerun")


@pytest.fixture(scope="session")
def cli_history_job(session_run: SessionRun) -> Job:
    """``sipas run --no-briefs waves/sipas-2024.yaml``, finished."""
    return session_run.job("cli_history")


@pytest.fixture(scope="session")
def rebrief_job(session_run: SessionRun) -> Job:
    """``sipas brief --tables OUT/tables --out OTHER``, finished."""
    return session_run.job("rebrief")


@pytest.fixture(scope="session")
def brief_2024_job(session_run: SessionRun) -> Job:
    """``sipas brief`` on the tables of ``sipas run waves/sipas-2024.yaml``, finished."""
    return session_run.job("brief_2024")
