"""Forked workers (:mod:`sipas_analysis.parallel`): order, errors, warnings, no fork after typst."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import warnings

import pytest

from sipas_analysis import parallel
from sipas_analysis.errors import SipasError, step

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


@pytest.fixture(autouse=True)
def _fork_allowed(monkeypatch):
    """Each test starts as a process that may fork (another test may have typeset a brief:
    these workers never typeset); a guard set by typst during the test is kept afterwards."""
    before = parallel._forbidden
    parallel._forbidden = None
    monkeypatch.setattr(parallel, "_typst_imported", lambda: False)
    monkeypatch.setenv("SIPAS_WORKERS", "2")
    yield
    parallel._forbidden = parallel._forbidden or before


def test_results_come_in_item_order_from_other_processes():
    # the first items take longest, so they finish last: the results still come in order
    def work(x):
        time.sleep(0.05 * (6 - x))
        return x * 10, os.getpid()

    got = list(parallel.run_each(work, range(6)))
    assert [g.value[0] for g in got] == [0, 10, 20, 30, 40, 50]
    pids = {g.value[1] for g in got}
    assert os.getpid() not in pids and len(pids) == 2
    assert all(g.seconds >= 0.05 * (6 - i) * 0.9 for i, g in enumerate(got))


def test_items_start_in_the_given_order_and_come_back_in_item_order():
    # item 3 (long) is handed out first: one worker holds it while the other does 0, 1, 2
    def work(x):
        time.sleep(2.0 if x == 3 else 0.0)
        return x, os.getpid()

    got = list(parallel.run_each(work, range(4), workers=2, start_order=[3, 0, 1, 2]))
    assert [g.value[0] for g in got] == [0, 1, 2, 3]
    pids = [g.value[1] for g in got]
    assert len(set(pids[:3])) == 1 and pids[3] != pids[0]
    with pytest.raises(ValueError, match="permutation"):
        list(parallel.run_each(work, range(3), start_order=[0, 0, 1]))


def test_an_error_in_a_worker_is_raised_in_the_parent_with_its_message():
    def work(x):
        if x == 2:
            with step("tính chỉ số / computing the indices", "waves/sipas-2024.yaml"):
                raise ValueError("the item sipas_q7 has no answers")
        return os.getpid()

    got = []
    with pytest.raises(ValueError, match="sipas_q7 has no answers") as info:
        for r in parallel.run_each(work, range(5)):
            got.append(r.value)
    assert len(got) == 2  # the items before it, in order
    assert os.getpid() not in got
    exc = info.value
    assert exc.sipas_step == ("tính chỉ số / computing the indices", "waves/sipas-2024.yaml")
    assert isinstance(exc.__cause__, parallel.WorkerTraceback)
    assert "the item sipas_q7 has no answers" in str(exc.__cause__)


def test_a_sipas_error_keeps_its_class_and_an_unpicklable_one_its_text():
    class Local(Exception):  # defined in a function: cannot be pickled
        pass

    def work(x):
        if x == 0:
            raise SipasError("bad config waves/x.yaml")
        raise Local("local trouble")

    with pytest.raises(SipasError, match="bad config waves/x.yaml"):
        list(parallel.run_each(work, [0, 1]))
    with pytest.raises(parallel.WorkerError, match="Local: local trouble"):
        list(parallel.run_each(work, [1, 1]))


def test_warnings_of_a_worker_are_raised_again_in_the_parent():
    def work(x):
        warnings.warn(f"few answers in {x}", UserWarning, stacklevel=1)
        return x

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [r.value for r in parallel.run_each(work, ["a", "b"])] == ["a", "b"]
    assert [str(w.message) for w in caught] == ["few answers in a", "few answers in b"]


def test_background_job_runs_in_another_process_and_raises_its_error():
    job = parallel.Background(lambda: os.getpid())
    assert job.result() not in (None, os.getpid())

    def fail():
        raise SipasError("the workbook could not be written")

    with pytest.raises(SipasError, match="workbook could not be written"):
        parallel.Background(fail).result()


def test_no_fork_after_typst(tmp_path):
    """After a brief is typeset, the work runs in this process (a fork would hang)."""
    from sipas_analysis.report.brief import BriefContent, Headline, render_brief

    def where(_x):
        return os.getpid()

    assert os.getpid() not in {r.value for r in parallel.run_each(where, range(3))}
    content = BriefContent(
        area_name="Thành phố Tân An",
        wave="2025",
        headlines=[Headline("sipas", 82.5, 80.0, 85.0)],
        key_findings=["Chỉ số SIPAS năm 2025 đạt 82,5%."],
    )
    render_brief(content, tmp_path / "b.pdf")
    assert not parallel.fork_allowed()
    assert {r.value for r in parallel.run_each(where, range(3))} == {os.getpid()}
    assert parallel.Background(lambda: os.getpid()).result() == os.getpid()


def test_a_fresh_process_forks_no_worker_after_typst(tmp_path):
    """The guard without pytest around it: typeset, then run_each, in a new process."""
    script = textwrap.dedent(
        f"""
        import os
        from sipas_analysis import parallel
        from sipas_analysis.report.brief import BriefContent, Headline, render_brief
        render_brief(BriefContent(area_name="Xã A", wave="2025",
                     headlines=[Headline("sipas", 80.0, 75.0, 85.0)], key_findings=["Đạt 80%."]), {str(tmp_path / "a.pdf")!r})
        pids = {{r.value for r in parallel.run_each(lambda x: os.getpid(), range(4))}}
        print(pids == {{os.getpid()}})
        """
    )
    env = dict(os.environ, SIPAS_WORKERS="2")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_a_process_that_typeset_with_typst_itself_forks_no_worker(tmp_path):
    """typst used directly (a notebook, a test), not through compile_pdf: no fork either."""
    src = tmp_path / "a.typ"
    src.write_text("Xin chào", encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import os, typst
        from sipas_analysis import parallel
        typst.compile({str(src)!r})
        pids = {{r.value for r in parallel.run_each(lambda x: os.getpid(), range(4))}}
        print(pids == {{os.getpid()}}, parallel.fork_allowed())
        """
    )
    env = dict(os.environ, SIPAS_WORKERS="2")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]


def test_one_worker_or_one_item_runs_here(monkeypatch):
    monkeypatch.setenv("SIPAS_WORKERS", "1")
    assert [r.value for r in parallel.run_each(lambda x: os.getpid(), range(3))] == [
        os.getpid()
    ] * 3
    monkeypatch.setenv("SIPAS_WORKERS", "2")
    assert [r.value for r in parallel.run_each(lambda x: os.getpid(), [0])] == [os.getpid()]


def test_abandoned_iteration_stops_the_workers():
    def work(x):
        time.sleep(0.2)
        return os.getpid()

    it = parallel.run_each(work, range(10))
    pid = next(it).value
    it.close()  # the caller stops early (an error of its own, Ctrl+C)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no such child any more


def test_the_workers_end_with_the_last_result():
    """A caller that takes exactly as many results as items leaves no idle worker behind."""
    it = parallel.run_each(lambda x: os.getpid(), range(4))
    pids = {next(it).value for _ in range(4)}
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
