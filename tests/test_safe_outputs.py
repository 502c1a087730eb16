"""Output folders that lose nothing, no traceback ever, and the crash classes of issue 11.

Each defect of the issue is reproduced here: ``--out`` over a folder of inputs, ``.``/``..``, the
project root and a home folder; two runs into one folder; leftovers of killed runs; SIGTERM during
a run; an unexpected exception (exit 3 with a log); a control character in a cell (the validation
report used to crash half-way); an impossible date in a config; a missing commune column; a
one-respondent file; ``file:`` outside the project, a symbolic link, a file above the size limit
and an .xlsx zip bomb.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml
from test_validate import _write, base  # noqa: F401 - base is a pytest fixture

from sipas_analysis import cli, outputs, pipeline
from sipas_analysis.errors import EXIT_BUG
from sipas_analysis.outputs import OutputFolderError
from sipas_analysis.paths import REPO_ROOT, WAVES_DIR


def _cli(args, capsys) -> tuple[int, str]:
    code = cli.main(args)
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert "Traceback" not in text
    return code, text


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


# ---------------------------------------------------------------------------------------------
# Output folders
# ---------------------------------------------------------------------------------------------


def test_out_holding_the_inputs_is_refused_and_nothing_is_removed(base, tmp_path, capsys):  # noqa: F811
    config = _write(tmp_path, base, base.frame, "w")
    (tmp_path / "ghi_chu.txt").write_text("notes", encoding="utf-8")
    before = _tree(tmp_path)
    code, text = _cli(
        ["run", str(config), "--no-history", "--no-briefs", "--out", str(tmp_path)], capsys
    )
    assert code == 2
    assert "input file" in text and "tệp đầu vào" in text and "w.csv" in text or "w.yaml" in text
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("given", [".", ".."])
def test_out_dot_and_dotdot_are_refused(base, tmp_path, monkeypatch, capsys, given):  # noqa: F811
    work = tmp_path / "work"
    work.mkdir()
    config = _write(work, base, base.frame, "w")
    monkeypatch.chdir(work)
    before = _tree(tmp_path)
    code, text = _cli(["run", str(config), "--no-history", "--no-briefs", "--out", given], capsys)
    assert code == 2
    assert "current folder" in text and "thư mục đang làm việc" in text
    assert _tree(tmp_path) == before


def test_project_root_home_and_foreign_folders_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for folder, words in [
        (REPO_ROOT, "project root"),
        # the repository's parent may also be a parent of the working folder (a clone in /tmp)
        (REPO_ROOT.parent, "project root|current folder"),
        (Path.home(), "home folder"),
    ]:
        with pytest.raises(OutputFolderError, match=words):
            outputs.check_out_dir(folder)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "bao_cao.docx").write_bytes(b"x")
    with pytest.raises(OutputFolderError, match="bao_cao.docx"):
        outputs.check_out_dir(foreign)
    a_file = tmp_path / "f.txt"
    a_file.write_text("x")
    with pytest.raises(OutputFolderError, match="a file"):
        outputs.check_out_dir(a_file)
    # a parent of an input file
    data = tmp_path / "deep" / "data" / "w.csv"
    data.parent.mkdir(parents=True)
    data.write_text("x")
    with pytest.raises(OutputFolderError, match="input file"):
        outputs.check_out_dir(tmp_path / "deep", [data])


def test_new_empty_and_marked_folders_are_accepted(tmp_path):
    assert outputs.check_out_dir(tmp_path / "new") == (tmp_path / "new").resolve()
    (tmp_path / "empty").mkdir()
    assert outputs.check_out_dir(tmp_path / "empty").name == "empty"
    marked = tmp_path / "marked"
    marked.mkdir()
    (marked / "tables").mkdir()
    outputs.write_marker(marked, {"package": "sipas_analysis"})
    assert json.loads((marked / outputs.MARKER).read_text("utf-8"))["made_by"] == "sipas run"
    assert outputs.check_out_dir(marked) == marked.resolve()
    # an older run's folder (no marker): only run entries and a manifest of the package
    older = tmp_path / "older"
    (older / "tables").mkdir(parents=True)
    (older / "manifest.json").write_text(json.dumps({"package": "sipas_analysis"}), "utf-8")
    assert outputs.check_out_dir(older) == older.resolve()
    (older / "raw.csv").write_text("x")
    with pytest.raises(OutputFolderError):
        outputs.check_out_dir(older)


def test_a_second_run_into_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "reports"
    with outputs.out_dir_lock(out):
        holder = (tmp_path / ".reports.lock").read_text()
        assert f"pid {os.getpid()}" in holder
        with pytest.raises(OutputFolderError, match="another run is writing") as err:
            with outputs.out_dir_lock(out):
                pass
        assert "một lần chạy khác" in str(err.value) and holder in str(err.value)
    assert not (tmp_path / ".reports.lock").exists()
    with outputs.out_dir_lock(out):  # free again
        pass


def test_leftovers_of_killed_runs_are_recovered_with_a_note(tmp_path, capsys):
    out = tmp_path / "reports"
    stage = tmp_path / ".reports.staging-99999"
    backup = tmp_path / ".reports.old-99999"
    (stage / "tables").mkdir(parents=True)
    (backup / "tables").mkdir(parents=True)
    (backup / "tables" / "t.parquet").write_bytes(b"previous")
    # killed between the two renames of the swap: no output folder, only the backup
    notes = outputs.recover_leftovers(out)
    assert not stage.exists() and not backup.exists()
    assert (out / "tables" / "t.parquet").read_bytes() == b"previous"
    assert len(notes) == 2 and "restored" in notes[1]
    assert "Ghi chú / Note" in capsys.readouterr().err
    # a backup beside an existing output folder is removed
    backup.mkdir()
    assert "removed a leftover backup" in outputs.recover_leftovers(out)[0]
    assert not backup.exists() and out.exists()


def test_publish_never_leaves_no_output_folder(tmp_path, monkeypatch):
    out = tmp_path / "reports"
    out.mkdir()
    (out / "old.txt").write_text("old")
    stage = tmp_path / ".reports.staging-1"
    stage.mkdir()
    (stage / "new.txt").write_text("new")
    real = os.replace
    calls = []

    def failing(src, dst):
        calls.append((Path(src).name, Path(dst).name))
        if Path(src) == stage:
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        outputs.publish(stage, out)
    monkeypatch.setattr(os, "replace", real)
    assert (out / "old.txt").read_text() == "old"  # the backup was put back
    outputs.publish(stage, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]
    assert (out / "new.txt").read_text() == "new"


def test_sigterm_during_a_run_cleans_up_and_keeps_the_previous_outputs(tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"package": "sipas_analysis"}), "utf-8")
    before = _tree(out)
    cmd = [sys.executable, "-m", "sipas_analysis.cli", "run", str(WAVES_DIR / "papi-2022.yaml")]
    cmd += ["--no-history", "--no-briefs", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(tmp_path.glob(".reports.staging-*")):
        time.sleep(0.05)
    assert list(tmp_path.glob(".reports.staging-*")), "the run never started"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "Terminated" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]
    assert _tree(out) == before


# ---------------------------------------------------------------------------------------------
# Never a traceback: exit 3 with a log naming step and file
# ---------------------------------------------------------------------------------------------


def test_unexpected_error_exits_3_naming_step_and_file_with_a_log(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise KeyError("an internal bug")

    monkeypatch.setattr(pipeline, "wave_indices", broken)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    out = tmp_path / "reports"
    config = WAVES_DIR / "papi-2022.yaml"
    code, text = _cli(
        ["run", str(config), "--no-history", "--no-briefs", "--quiet", "--out", str(out)], capsys
    )
    assert code == EXIT_BUG == 3
    assert "Unexpected error (KeyError)" in text and "Lỗi ngoài dự kiến" in text
    assert "computing the indices" in text and "papi-2022.yaml" in text
    logs = list((tmp_path / "sipas_logs").glob("sipas_loi_*.log"))
    assert len(logs) == 1 and str(logs[0]) in text
    log = logs[0].read_text("utf-8")
    assert "Traceback" in log and "an internal bug" in log and "step: tính chỉ số" in log
    assert not out.exists() and not list(tmp_path.glob(".reports.*"))


def test_unexpected_error_log_goes_into_an_existing_output_folder(tmp_path, monkeypatch, capsys):
    from sipas_analysis import validate

    def broken(*args, **kwargs):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(validate, "write_report", broken)
    out = tmp_path / "val"
    out.mkdir()
    code, text = _cli(["validate", str(WAVES_DIR / "papi-2022.yaml"), "--out", str(out)], capsys)
    assert code == 3
    assert len(list((out / "logs").glob("sipas_loi_*.log"))) == 1


# ---------------------------------------------------------------------------------------------
# The crash classes of the issue, each with its precise message
# ---------------------------------------------------------------------------------------------


def test_control_character_in_a_cell_gives_a_whole_report(base, tmp_path, capsys):  # noqa: F811
    frame = base.frame.copy()
    frame[base.item_col] = frame[base.item_col].astype(object)
    frame.loc[3, base.item_col] = "x\x01y"
    config = _write(tmp_path, base, frame, "ctl")
    out = tmp_path / "val"
    out.mkdir()
    stale = {n: out / n for n in ("ctl_problems.csv", "ctl_problems.xlsx", "ctl_exclusions.csv")}
    for p in stale.values():
        p.write_bytes(b"old")
    code, text = _cli(["validate", str(config), "--out", str(out)], capsys)
    assert code == 1
    book = openpyxl.load_workbook(stale["ctl_problems.xlsx"])
    values = [
        c.value for row in book["Vấn đề"].iter_rows() for c in row if isinstance(c.value, str)
    ]
    assert any("x\\x01y" in v for v in values)  # shown as an escape, not dropped
    assert all(p.read_bytes() != b"old" for p in stale.values())


def test_impossible_date_in_a_config(base, tmp_path, capsys):  # noqa: F811
    config = _write(tmp_path, base, base.frame, "date")
    text = config.read_text("utf-8")
    config.write_text(
        text.replace("fieldwork:\n", "fieldwork:\n  end: 2022-13-45\n", 1)
        if "fieldwork:\n" in text
        else text + "fieldwork:\n  start: 2022-13-45\n",
        "utf-8",
    )
    code, printed = _cli(["validate", str(config), "--out", str(tmp_path / "v")], capsys)
    assert code == 2
    assert "2022-13-45 is not a real date" in printed and "không phải ngày có thật" in printed
    assert "line " in printed and "date.yaml" in printed


def test_missing_commune_column(base, tmp_path, capsys):  # noqa: F811
    config = _write(tmp_path, base, base.frame.drop(columns=[base.commune_col]), "nocommune")
    code, text = _cli(["validate", str(config), "--out", str(tmp_path / "v")], capsys)
    assert code == 1 and "missing_column" in text and base.commune_col in text
    out = tmp_path / "reports"
    code, text = _cli(
        ["run", str(config), "--no-history", "--no-briefs", "--quiet", "--out", str(out)], capsys
    )
    assert code == 1 and not out.exists()


def test_one_respondent_file(base, tmp_path, capsys):  # noqa: F811
    config = _write(tmp_path, base, base.frame.head(1), "one", checks={"min_respondents": 1})
    out = tmp_path / "reports"
    code, text = _cli(
        ["run", str(config), "--no-history", "--no-briefs", "--quiet", "--out", str(out)], capsys
    )
    assert code in (0, 1), text
    assert "Traceback" not in text


# ---------------------------------------------------------------------------------------------
# Paths and limits
# ---------------------------------------------------------------------------------------------


def test_file_outside_the_project_is_refused(base, tmp_path, capsys, monkeypatch):  # noqa: F811
    project = tmp_path / "a" / "b"
    project.mkdir(parents=True)
    outside = tmp_path / "secret.csv"
    base.frame.to_csv(outside, index=False)
    config = project / "w.yaml"
    cfg = {**base.config, "file": "../../secret.csv"}
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
    code, text = _cli(["validate", str(config), "--out", str(tmp_path / "v")], capsys)
    assert code == 2 and "outside the project" in text and "ngoài dự án" in text
    # allowed through the config's data_folders, or the environment
    cfg["data_folders"] = ["../.."]
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
    assert _cli(["validate", str(config), "--out", str(tmp_path / "v")], capsys)[0] == 0
    del cfg["data_folders"]
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
    monkeypatch.setenv("SIPAS_DATA_FOLDERS", str(tmp_path))
    assert _cli(["validate", str(config), "--out", str(tmp_path / "v")], capsys)[0] == 0


def test_symbolic_link_is_resolved_and_reported(base, tmp_path, capsys):  # noqa: F811
    real = tmp_path / "store" / "real.csv"
    real.parent.mkdir()
    base.frame.to_csv(real, index=False)
    (tmp_path / "link.csv").symlink_to(real)
    config = tmp_path / "w.yaml"
    config.write_text(
        yaml.safe_dump({**base.config, "file": "link.csv"}, allow_unicode=True), "utf-8"
    )
    from sipas_analysis.waves import read_wave

    wave = read_wave(config)
    assert wave.config.file == real.resolve()
    hit = wave.problems[wave.problems["check"] == "file_symlink"]
    assert len(hit) == 1 and str(real.resolve()) in hit.iloc[0]["message_en"]


def test_file_above_the_size_limit(base, tmp_path, capsys):  # noqa: F811
    config = _write(tmp_path, base, base.frame, "big", checks={"max_file_mb": 0.01})
    code, text = _cli(["validate", str(config), "--out", str(tmp_path / "v")], capsys)
    assert code == 2 and "above the limit of 0.01 MB" in text and "max_file_mb" in text


def test_xlsx_zip_bomb_is_refused_before_parsing(base, tmp_path, capsys):  # noqa: F811
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * 60_000_000)
    assert bomb.stat().st_size < 1_000_000
    config = tmp_path / "bomb.yaml"
    config.write_text(
        yaml.safe_dump({**base.config, "file": "bomb.xlsx"}, allow_unicode=True), "utf-8"
    )
    t0 = time.perf_counter()
    code, text = _cli(["validate", str(config), "--out", str(tmp_path / "v")], capsys)
    assert code == 2 and "unpacks to 60 MB" in text and "bomb.xlsx" in text
    assert time.perf_counter() - t0 < 20
    # not a zip at all: a clear message, no zipfile wording alone
    bomb.write_bytes(b"PK\x03\x04 not really a zip")
    code, text = _cli(["validate", str(config), "--out", str(tmp_path / "v")], capsys)
    assert code == 2 and "not a readable .xlsx workbook" in text


def test_csv_read_keeps_ragged_rows_and_blank_cells(base, tmp_path):  # noqa: F811
    """The two-pass CSV reader: rows longer than the header and whitespace cells as before."""
    from sipas_analysis.waves import read_wave

    path = _write(tmp_path, base, base.frame, "ragged")
    data = tmp_path / "ragged.csv"
    lines = data.read_text("utf-8").splitlines()
    lines[3] = lines[3] + ",extra,cells"
    data.write_text("\n".join(lines) + "\n", "utf-8")
    wave = read_wave(path)
    acc = wave.accounting
    assert acc["rows_read"] == len(base.frame) == acc["rows_kept"] + acc["rows_excluded"]
    assert pd.Series(wave.respondents["respondent_id"]).is_unique


# ---------------------------------------------------------------------------------------------
# Memory: compact linearisation scores (respondents as PSUs, many domains)
# ---------------------------------------------------------------------------------------------


def _respondent_psu_sample(n=1800, seed=4):
    import numpy as np

    rng = np.random.default_rng(seed)
    d = pd.DataFrame(
        {
            "stratum": rng.integers(0, 3, n),
            "weight": rng.uniform(0.5, 3.0, n),
            "commune": rng.integers(0, 24, n),
            "sex": rng.integers(1, 3, n),
        }
    )
    d["psu"] = range(n)  # every respondent its own PSU, as the auxiliary variance designs
    for j in range(6):
        x = rng.integers(1, 6, n).astype(float)
        x[rng.uniform(size=n) < 0.15] = np.nan
        d[f"q{j}"] = x
    return d


def test_compact_scores_give_the_same_estimates_and_refuse_cross_domain_covariances(
    monkeypatch,
):
    import numpy as np

    from sipas_analysis import estimate
    from sipas_analysis.errors import SipasError

    d = _respondent_psu_sample()
    items = [f"q{j}" for j in range(6)]
    levels = {"commune": "commune", "sex": ["stratum", "sex"], "total": None}

    def run(limit):
        monkeypatch.setattr(estimate.engine, "EXACT_SCORE_VALUES", limit)
        est = estimate.estimate_levels(d, items, levels, statistic=["top2", "mean"])
        comp = estimate.composite_mean(est, {"a": items[:3], "b": items[3:]})
        return est, estimate.composite_mean(comp, {"all": ["a", "b"]})

    full, full_c = run(10**12)
    small, small_c = run(0)
    # the PSU layout keeps every PSU row; the compact one a few rows per domain
    assert full.scores.shape[0] == len(d)
    assert small.scores.nnz * 10 < full.scores.nnz
    for a, b in ((full.table, small.table), (full_c.table, small_c.table)):
        assert a["flag"].tolist() == b["flag"].tolist()
        for col in ("estimate", "se", "ci_low", "ci_high", "deff"):
            if col in a.columns:
                np.testing.assert_allclose(b[col], a[col], rtol=1e-12, atol=1e-12)
    # a within-domain contrast is exact; one across domains is refused, never given as if the
    # two domains were independent
    rows = full.rows(level="commune", commune=3, statistic="top2")
    within = {"q0 - q1": {int(rows[0]): 1.0, int(rows[1]): -1.0}}
    np.testing.assert_allclose(
        small.linear_combination(within)["se"], full.linear_combination(within)["se"], rtol=1e-12
    )
    a, b = {"level": "commune", "commune": 3}, {"level": "commune", "commune": 4}
    assert np.isfinite(full.difference(a, b)["se"]).all()
    with pytest.raises(SipasError, match="covariance between domains"):
        small.difference(a, b)
