"""Progress lines and messages: a line when a step starts, its time when it ends, warnings that
name wave, unit and index, everything on one stream in order; bilingual help of every option."""

from __future__ import annotations

import io
import re
import warnings

import pandas as pd

from sipas_analysis import cli, pipeline, progress

_VI = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệịỉĩọỏốồổỗộớờởỡợụủứừửữựỳỷỹỵ]", re.IGNORECASE)


def test_step_prints_start_then_time_then_warnings_on_one_stream():
    out = io.StringIO()
    ticks = iter([0.0, 10.0, 12.5])
    prog = progress.Progress(2, stream=out, clock=lambda: next(ticks))
    with prog.step("chỉ số / indices a.yaml", context="sipas-2024") as step:
        out.write("inside\n")  # what the step prints comes between its two lines
        warnings.warn("3 cells", UserWarning, stacklevel=1)
        step.explain(lambda w: f"explained: {w.message}")
        step.done("42 ước lượng / estimates")
    lines = out.getvalue().splitlines()
    assert lines[0] == "[ 1/2] chỉ số / indices a.yaml …"
    assert lines[1] == "inside"
    assert lines[2].strip() == "✓ 2.5 s  42 ước lượng / estimates"
    assert lines[3].strip() == "Cảnh báo / Warning [sipas-2024] (UserWarning): explained: 3 cells"
    assert step.warnings == [lines[3].strip()]


def test_quiet_progress_passes_warnings_on_with_their_context():
    prog = progress.Progress(1, enabled=False, stream=io.StringIO())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with prog.step("x", context="papi-2023"):
            warnings.warn("something", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["[papi-2023] something"]


def test_single_psu_warning_names_units_and_indices():
    est = pd.DataFrame(
        {
            "unit_code": ["27865", "27865", "802"],
            "unit_name": ["Thị trấn Thạnh Hóa", "Thị trấn Thạnh Hóa", "Huyện Đức Hòa"],
            "subgroup": ["", "", "sex=2"],
            "index_code": ["dv_pakn_1", "dv_pakn_2", "sipas"],
            "index_level": ["item", "item", "overall"],
            "flag_detail": ["small_n;single_psu", "single_psu", "single_psu"],
        }
    )
    explain = pipeline.explain_single_psu(est)
    w = warnings.WarningMessage("3 estimate cell(s) lie inside a single PSU", UserWarning, "", 0)
    text = explain(w)
    assert "Thị trấn Thạnh Hóa (27865): dv_pakn_1, dv_pakn_2" in text
    assert text.startswith("2 ô")  # the item cells (composites inherit the flag)
    other = warnings.WarningMessage("something else", UserWarning, "", 0)
    assert explain(other) is None
    assert progress.describe_cells(est.iloc[2:]) == (
        "Huyện Đức Hòa (802), nhóm / group Giới tính: Nữ: sipas"
    )


def test_every_option_has_bilingual_help():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    missing = []
    for name, command in sub.choices.items():
        for action in command._actions:
            if action.dest == "help":
                continue
            text = action.help or ""
            if " / " not in text or not _VI.search(text):
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
        command.format_help()  # a help text that argparse cannot format fails here
    assert not missing, f"options without Vietnamese / English help: {missing}"


def test_every_command_has_bilingual_description():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    helps = {a.dest: a.help for a in sub._choices_actions}
    assert set(helps) == set(cli.COMMANDS)
    missing = [
        name
        for name, text in helps.items()
        if " / " not in text
        or not _VI.search(text.split(" / ")[0])
        or sub.choices[name].description != text
    ]
    assert not missing, f"commands without Vietnamese / English description: {missing}"
