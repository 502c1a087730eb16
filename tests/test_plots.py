"""Tests of sipas_analysis.plots: every chart builds from a small hand-made tidy table and saves.

The tables below are written by hand (they follow the estimates table of docs/tables.md);
expected values are the table's own numbers (what must be drawn) or positions worked out by hand
(the diverging bars), never output of the plotting code.
"""

from __future__ import annotations

import gc
import io
import warnings
import weakref
import xml.etree.ElementTree as ET

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection, PolyCollection, QuadMesh
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from PIL import Image

from sipas_analysis import plots
from sipas_analysis.errors import InputError
from sipas_analysis.plots.common import chart_rc, fmt

VIETNAMESE_LETTERS = (
    "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ"
)

# ---------------------------------------------------------------------------------------------
# Hand-made tables
# ---------------------------------------------------------------------------------------------


def laid_out(fig):
    """Lay the chart out as saving or showing it does (in the charts' style)."""
    with mpl.rc_context(chart_rc()):
        fig.draw_without_rendering()
    return fig


def commune_estimates() -> pd.DataFrame:
    """One index, one wave: 5 communes + the area row. Intervals deliberately asymmetric."""
    return pd.DataFrame(
        {
            "survey": "sipas",
            "wave": "2024",
            "level": ["commune"] * 5 + ["area"],
            "unit_code": ["27955", "27958", "27961", "27964", "27967", "802"],
            "unit_name": [
                "Thị trấn Hậu Nghĩa",
                "Xã Đức Lập Thượng",
                "Xã Hựu Thạnh",
                "Xã Hòa Khánh Tây",
                "Xã Đức Hòa Thượng",
                "Huyện Đức Hòa",
            ],
            "index_code": "cong_chuc",
            "label_vi": "Công chức trực tiếp giải quyết công việc",
            "estimate": [81.3, 74.6, 88.2, 55.5, 90.1, 80.4],
            "se": [3.1, 5.2, 2.4, 9.9, 4.0, 1.6],
            "ci_low": [74.05, 63.15, 82.35, 35.25, 79.75, 77.05],
            "ci_high": [86.65, 83.45, 92.55, 73.95, 95.95, 83.45],
            "ci_level": 0.95,
            "n": [61, 24, 48, 7, 35, 175],
            "flag": ["ok", "small_n", "ok", "suppressed", "ok", "ok"],
        }
    )


def trend_estimates() -> pd.DataFrame:
    """Two areas over 2021–2026: instrument change before 2022, new geography from 2026."""
    waves = ["2021", "2022", "2023", "2024", "2025", "2026"]
    rows = []
    for unit, base in (("Huyện Đức Hòa", 78.0), ("Huyện Thạnh Hóa", 84.0)):
        for k, wave in enumerate(waves):
            est = base + k
            rows.append(
                {
                    "survey": "sipas",
                    "wave": wave,
                    "instrument": "sipas-2017" if wave == "2021" else "sipas-2022",
                    "boundary_vintage": "2025" if wave == "2026" else "pre2025",
                    "unit_name": unit,
                    "index_code": "sipas",
                    "label_vi": "Chỉ số SIPAS",
                    "estimate": est,
                    "ci_low": est - 3.0 - 0.1 * k,
                    "ci_high": est + 2.0 + 0.1 * k,
                    "ci_level": 0.95,
                    "n": 120,
                    "flag": "ok",
                }
            )
    return pd.DataFrame(rows)


def element_estimates() -> pd.DataFrame:
    rows = []
    values = {
        "Xã Đức Hòa Thượng": [81.2, 90.5, 77.0],
        "Xã Hựu Thạnh": [66.4, 85.1, 92.3],
        "Xã Hòa Khánh Tây": [70.0, 71.5, 79.9],
    }
    elements = ["Tiếp cận dịch vụ", "Thủ tục hành chính", "Kết quả cung ứng dịch vụ"]
    flags = {("Xã Hựu Thạnh", "Thủ tục hành chính"): ("suppressed", 6)}
    flags[("Xã Hòa Khánh Tây", "Kết quả cung ứng dịch vụ")] = ("small_n", 22)
    for unit, vals in values.items():
        for element, v in zip(elements, vals, strict=True):
            flag, n = flags.get((unit, element), ("ok", 60))
            rows.append(
                {"survey": "sipas", "unit_name": unit, "label_vi": element, "estimate": v}
                | {"flag": flag, "n": n}
            )
    return pd.DataFrame(rows)


def answer_distribution() -> pd.DataFrame:
    shares = {
        "Công chức lịch sự, tôn trọng": [10.0, 20.0, 30.0, 25.0, 15.0],
        "Hướng dẫn kê khai hồ sơ một lần là hiểu": [2.0, 8.0, 10.0, 50.0, 30.0],
    }
    labels = ["Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"]
    rows = [
        {"label_vi": item, "answer_code": code, "answer_label_vi": labels[code - 1], "share": s}
        for item, values in shares.items()
        for code, s in zip(range(1, 6), values, strict=True)
    ]
    return pd.DataFrame(rows)


def papi_benchmarks() -> pd.DataFrame:
    labels = [
        "Tham gia của người dân ở cấp cơ sở",
        "Công khai, minh bạch",
        "Trách nhiệm giải trình với người dân",
        "Kiểm soát tham nhũng trong khu vực công",
        "Thủ tục hành chính công",
        "Cung ứng dịch vụ công",
        "Quản trị môi trường",
        "Quản trị điện tử",
    ]
    province = [4.48, 5.08, 4.41, 7.10, 7.46, 7.02, 3.41, 2.75]
    median = [5.00, 5.44, 4.97, 6.83, 7.36, 7.27, 3.59, 3.51]
    best = [5.81, 6.29, 5.60, 8.19, 7.66, 7.89, 4.94, 5.00]
    df = pd.DataFrame(
        {
            "year": 2019,
            "index_code": [f"d{k}" for k in range(8, 0, -1)],  # shuffled on purpose
            "label_vi": labels[::-1],
            "province_value": province[::-1],
            "national_median": median[::-1],
            "national_max": best[::-1],
            "quartile_group_vi": "Nhóm đạt điểm thấp",
            "rank": [58, 45, 61, 25, 20, 50, 38, 40],  # D8 … D1
            "n_provinces": 63,
        }
    )
    total = {"year": 2019, "index_code": "papi", "label_vi": "Tổng PAPI"}
    total |= {"province_value": 41.70, "national_median": 43.73, "national_max": 46.74}
    total |= {"quartile_group_vi": "Nhóm đạt điểm thấp", "rank": 52, "n_provinces": 63}
    older = df.assign(year=2018, province_value=df["province_value"] + 0.3)
    return pd.concat([older, df, pd.DataFrame([total])], ignore_index=True)


def ipa_table() -> pd.DataFrame:
    # means: importance 0.6, performance 80 -> one element in each quadrant
    return pd.DataFrame(
        {
            "index_code": ["tiep_can", "tthc", "cong_chuc", "ket_qua"],
            "label_vi": ["Tiếp cận", "Thủ tục hành chính", "Công chức", "Kết quả"],
            "importance": [0.8, 0.7, 0.5, 0.4],
            "performance": [70.0, 90.0, 72.0, 88.0],
            "quadrant": ["x", "x", "x", "x"],
        }
    )


#: chart name -> (function, table builder, extra keyword arguments)
SPECS = {
    "trend": (plots.trend_chart, trend_estimates, {}),
    "dot_whisker": (plots.dot_whisker_chart, commune_estimates, {"subtitle": "Đợt 2024"}),
    "heatmap": (plots.heatmap_chart, element_estimates, {}),
    "diverging": (plots.diverging_bars_chart, answer_distribution, {}),
    "papi": (plots.papi_dimension_chart, papi_benchmarks, {}),
    "ipa": (plots.importance_performance_chart, ipa_table, {}),
}
CHARTS = {name: (lambda f=f, t=t, kw=kw: f(t(), **kw)) for name, (f, t, kw) in SPECS.items()}


def by_gid(fig, gid, kind=object):
    return [a for a in fig.findobj() if a.get_gid() == gid and isinstance(a, kind)]


def all_text(fig) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(Text))


@pytest.fixture(scope="module")
def built():
    """Each chart built once from its table; the tables are kept to check they were not mutated."""
    out = {}
    for name, (func, make_table, kwargs) in SPECS.items():
        table = make_table()
        out[name] = (func(table, **kwargs), table, make_table())
    return out


@pytest.fixture(scope="module")
def figures(built):
    return {name: fig for name, (fig, _, _) in built.items()}


# ---------------------------------------------------------------------------------------------
# Every chart: builds, saves PNG + SVG, A4-readable, no missing glyphs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CHARTS))
def test_chart_saves_png_and_svg(name, tmp_path, figures):
    fig = figures[name]
    written = plots.save_figure(fig, tmp_path / "figures" / name)
    assert [p.name for p in written] == [f"{name}.png", f"{name}.svg"]
    for path in written:
        assert path.exists() and path.stat().st_size > 1000
    with Image.open(written[0]) as img:
        img.verify()
    with Image.open(written[0]) as img:
        assert img.format == "PNG"
        assert img.size[0] == round(6.3 * plots.style()["figure"]["dpi"])
    assert ET.parse(written[1]).getroot().tag.endswith("svg")
    assert b"<text" not in written[1].read_bytes()  # glyphs as outlines: no font needed to show it
    # atomic writes leave no temporary files behind
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        f"{name}.png",
        f"{name}.svg",
    ]


@pytest.mark.parametrize("name", list(CHARTS))
def test_chart_is_a4_readable(name, figures):
    fig = figures[name]
    width, height = fig.get_size_inches()
    assert width == pytest.approx(6.3)
    assert height <= 9.7
    sizes = [
        t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()
    ]
    assert sizes and min(sizes) >= 8


@pytest.mark.parametrize("name", list(CHARTS))
def test_vietnamese_text_renders_without_missing_glyphs(name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = CHARTS[name]()
        fig.text(0.0, 0.0, VIETNAMESE_LETTERS + VIETNAMESE_LETTERS.upper(), fontsize=8)
        fig.canvas.draw()
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
    assert any(ch in all_text(fig) for ch in "ạảấầẩẫậđệịọốồổộớờởợụứừửữự")


def test_missing_glyph_check_can_fail():
    """Positive control: a private-use character has no glyph and must be reported."""
    fig = plots.dot_whisker_chart(commune_estimates())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.text(0.5, 0.5, "Xã \ue000")
        fig.canvas.draw()
    assert any("missing from font" in str(w.message) for w in caught)


def test_font_family_covers_vietnamese():
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties(family=plots.font_family()))
    charmap = FT2Font(path).get_charmap()
    letters = VIETNAMESE_LETTERS + VIETNAMESE_LETTERS.upper()
    assert [ch for ch in letters if ord(ch) not in charmap] == []


def test_no_figure_stays_open_after_save(tmp_path):
    plt.close("all")
    fig = plots.trend_chart(trend_estimates())
    ref = weakref.ref(fig)
    plots.save_figure(fig, tmp_path / "trend")
    assert plt.get_fignums() == []
    del fig
    gc.collect()
    assert ref() is None  # nothing (pyplot, caches) keeps the figure alive

    managed = plt.figure()  # a pyplot-managed figure is closed by save_figure
    plots.save_figure(managed, tmp_path / "managed.png", formats=("png",))
    assert plt.get_fignums() == []
    assert (tmp_path / "managed.png").exists() and not (tmp_path / "managed.png.png").exists()


def test_chart_displays_in_notebook_without_pyplot(figures):
    import io

    png = figures["papi"]._repr_png_()  # what IPython calls for the last expression of a cell
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(png)) as img:
        assert img.size[0] == round(6.3 * 110)


def test_save_figure_rejects_unknown_format(tmp_path):
    fig = plots.dot_whisker_chart(commune_estimates().head(2))
    with pytest.raises(InputError, match="unsupported"):
        plots.save_figure(fig, tmp_path / "x", formats=("jpg",))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", list(SPECS))
def test_charts_do_not_mutate_input(name, built):
    _, used, fresh = built[name]
    pd.testing.assert_frame_equal(used, fresh)


def test_numbers_use_vietnamese_format(figures):
    assert fmt(1234.5) == "1.234,5"
    assert fmt(-2.25, 2) == "\u22122,25"
    assert fmt(-0.01, 1) == "0,0"
    ax = figures["dot_whisker"].axes[0]
    assert ax.xaxis.get_major_formatter()(72.5, 0) == "72,5"
    texts = all_text(figures["dot_whisker"])
    assert "81,3" in texts and "74,6*" in texts and "81.3" not in texts


def test_missing_column_is_named():
    with pytest.raises(InputError) as err:
        plots.dot_whisker_chart(commune_estimates().drop(columns="ci_high"))
    assert err.value.column == "ci_high"


# ---------------------------------------------------------------------------------------------
# Dot and whisker: intervals drawn exactly as the table gives them
# ---------------------------------------------------------------------------------------------


def test_dot_whisker_endpoints_equal_table(figures):
    fig = figures["dot_whisker"]
    ax = fig.axes[0]
    (whiskers,) = by_gid(fig, "ci_whiskers", LineCollection)
    names = {tick.get_position()[1]: tick.get_text() for tick in ax.get_yticklabels()}
    table = commune_estimates().set_index("unit_name")
    drawn = {}
    for seg in whiskers.get_segments():
        (x0, y0), (x1, y1) = seg
        assert y0 == y1
        drawn[names[y0]] = (x0, x1)
    expected = {
        name: (table.loc[name, "ci_low"], table.loc[name, "ci_high"])
        for name in ["Thị trấn Hậu Nghĩa", "Xã Đức Lập Thượng", "Xã Hựu Thạnh", "Xã Đức Hòa Thượng"]
    }
    assert drawn == expected  # exact: the intervals are not recomputed (they are asymmetric)
    # dots: highest estimate at the top; area row is the reference line, not a dot
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Xã Đức Hòa Thượng",
        "Xã Hựu Thạnh",
        "Thị trấn Hậu Nghĩa",
        "Xã Đức Lập Thượng",
    ]
    (ref,) = by_gid(fig, "reference_line", Line2D)
    assert list(ref.get_xdata()) == [80.4, 80.4]
    (band,) = by_gid(fig, "reference_band")
    xs = band.get_transform().transform(band.get_path().vertices)
    xs = ax.transData.inverted().transform(xs)[:, 0]
    assert min(xs) == pytest.approx(77.05) and max(xs) == pytest.approx(83.45)


def test_dot_whisker_suppressed_absent_and_small_n_hollow(figures):
    fig = figures["dot_whisker"]
    (whiskers,) = by_gid(fig, "ci_whiskers", LineCollection)
    drawn_x = np.concatenate([np.ravel(s) for s in whiskers.get_segments()])
    dots = np.concatenate(
        [c.get_offsets()[:, 0] for c in fig.findobj(PathCollection) if len(c.get_offsets())]
    )
    for value in (55.5, 35.25, 73.95):  # the suppressed commune (n = 7)
        assert value not in drawn_x and value not in dots
    tick_names = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "Xã Hòa Khánh Tây" not in tick_names
    assert "55,5" not in all_text(fig)
    assert "Không hiển thị (n < 10): Xã Hòa Khánh Tây." in all_text(fig)
    (hollow,) = by_gid(fig, "estimates_small_n", PathCollection)
    assert list(hollow.get_offsets()[:, 0]) == [74.6]
    assert tuple(hollow.get_facecolor()[0]) == (1.0, 1.0, 1.0, 1.0)
    (filled,) = by_gid(fig, "estimates_ok", PathCollection)
    assert sorted(filled.get_offsets()[:, 0]) == [81.3, 88.2, 90.1]


def test_dot_whisker_n_below_10_is_suppressed_even_if_flag_says_ok():
    est = commune_estimates().assign(flag="ok")
    fig = plots.dot_whisker_chart(est)
    names = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "Xã Hòa Khánh Tây" not in names and "Xã Đức Lập Thượng" in names


def test_dot_whisker_rejects_duplicates_and_bad_flags():
    est = commune_estimates()
    with pytest.raises(InputError, match="several rows"):
        plots.dot_whisker_chart(pd.concat([est, est.iloc[[0]]]))
    with pytest.raises(InputError, match="unknown flag"):
        plots.dot_whisker_chart(est.assign(flag="maybe"))


# ---------------------------------------------------------------------------------------------
# Trend: lines and bands are not drawn across a comparability break
# ---------------------------------------------------------------------------------------------


def _line_xs(fig) -> list[np.ndarray]:
    return [np.asarray(line.get_xdata(), float) for line in by_gid(fig, "trend_line", Line2D)]


def test_trend_lines_break_at_comparability_breaks(figures):
    fig = figures["trend"]
    breaks = sorted(line.get_xdata()[0] for line in by_gid(fig, "comparability_break", Line2D))
    assert breaks == [2021.5, 2025.5]
    lines = _line_xs(fig)
    assert lines, "no trend lines drawn"
    for xs in lines:
        for b in breaks:
            assert (xs < b).all() or (xs > b).all(), f"line {xs} crosses the break at {b}"
    # each area: one line 2022–2025; 2021 and 2026 stand alone as points with whiskers
    assert sorted(tuple(xs) for xs in lines) == [(2022.0, 2023.0, 2024.0, 2025.0)] * 2
    for band in by_gid(fig, "ci_band", PolyCollection):
        xs = band.get_paths()[0].vertices[:, 0]
        assert xs.min() >= 2022.0 and xs.max() <= 2025.0
    assert len(by_gid(fig, "ci_whisker")) == 4
    text = all_text(fig)
    assert "Đổi bộ câu hỏi 2022" in text and "Sắp xếp địa giới 7/2025" in text


def test_trend_band_is_the_tables_interval(figures):
    (band, *_) = by_gid(figures["trend"], "ci_band", PolyCollection)
    vertices = {tuple(np.round(v, 6)) for v in band.get_paths()[0].vertices}
    est = trend_estimates()
    duc_hoa = est[
        (est.unit_name == "Huyện Đức Hòa") & est.wave.isin(["2022", "2023", "2024", "2025"])
    ]
    for w, lo, hi in zip(duc_hoa.wave.astype(float), duc_hoa.ci_low, duc_hoa.ci_high, strict=True):
        assert (w, round(lo, 6)) in vertices and (w, round(hi, 6)) in vertices


def test_trend_without_break_is_one_line():
    est = trend_estimates().assign(instrument="sipas-2022", boundary_vintage="pre2025")
    fig = plots.trend_chart(est)
    assert by_gid(fig, "comparability_break", Line2D) == []
    assert sorted(len(xs) for xs in _line_xs(fig)) == [6, 6]


def test_trend_explicit_break_and_suppressed_point():
    est = trend_estimates().assign(instrument="papi-2011", boundary_vintage="pre2025")
    est.loc[(est.unit_name == "Huyện Thạnh Hóa") & (est.wave == "2023"), "flag"] = "suppressed"
    fig = plots.trend_chart(est, breaks={"2024": "Đổi cách tính D1, D3, D5"})
    assert [line.get_xdata()[0] for line in by_gid(fig, "comparability_break", Line2D)] == [2023.5]
    assert "Đổi cách tính D1, D3, D5" in all_text(fig)
    xs = sorted(tuple(x) for x in _line_xs(fig))
    # Đức Hòa: 2021–2023 and 2024–2026; Thạnh Hóa: 2021–2022 (2023 hidden) and 2024–2026
    assert xs == [
        (2021.0, 2022.0),
        (2021.0, 2022.0, 2023.0),
        (2024.0, 2025.0, 2026.0),
        (2024.0, 2025.0, 2026.0),
    ]
    hidden = est.loc[(est.unit_name == "Huyện Thạnh Hóa") & (est.wave == "2023"), "estimate"].item()
    points = np.concatenate([np.asarray(line.get_ydata()) for line in by_gid(fig, "trend_line")])
    assert hidden not in points
    assert "Huyện Thạnh Hóa (2023)" in all_text(fig)


def test_trend_from_trends_table_breaks_where_not_comparable():
    trends = pd.DataFrame(
        {
            "survey": "papi",
            "unit_name": "Long An",
            "label_vi": "Tổng PAPI",
            "wave_from": ["2016", "2017", "2018"],
            "wave_to": ["2017", "2018", "2019"],
            "estimate_from": [36.1, 37.0, 42.0],
            "estimate_to": [37.0, 42.0, 41.7],
            "comparable": [True, False, True],
        }
    )
    fig = plots.trend_chart(trends)
    assert [line.get_xdata()[0] for line in by_gid(fig, "comparability_break", Line2D)] == [2017.5]
    assert sorted(tuple(x) for x in _line_xs(fig)) == [(2016.0, 2017.0), (2018.0, 2019.0)]
    assert by_gid(fig, "ci_band") == []  # a trends table has no CI of the levels


def test_trend_breaks_from_trends_table_only_for_the_index_drawn():
    est = trend_estimates().assign(
        instrument="papi-2011", boundary_vintage="pre2025", index_code="d1"
    )
    reason = "PAPI 2016 xây dựng lại nội dung trục 1, 3, 5: không so sánh được với trước 2016"
    trends = pd.DataFrame(
        {
            "index_code": ["d1", "d2"],
            "unit_name": "Huyện Đức Hòa",
            "wave_from": ["2023", "2021"],
            "wave_to": ["2024", "2022"],
            "comparable": [False, False],
            "break_reason_vi": [reason, reason],
        }
    )
    fig = plots.trend_chart(est, trends=trends)
    assert [line.get_xdata()[0] for line in by_gid(fig, "comparability_break", Line2D)] == [2023.5]
    labels = [t.get_text() for t in by_gid(fig, "comparability_break_label", Text)]
    assert [lbl.replace("\n", " ") for lbl in labels] == [
        "PAPI 2016 xây dựng lại nội dung trục 1, 3, 5"
    ]
    fig_d2 = plots.trend_chart(est.assign(index_code="d3"), trends=trends)
    assert by_gid(fig_d2, "comparability_break", Line2D) == []


def test_trend_rejects_several_indices():
    est = pd.concat([trend_estimates(), trend_estimates().assign(index_code="other")])
    with pytest.raises(InputError, match="several rows"):
        plots.trend_chart(est)


# ---------------------------------------------------------------------------------------------
# Heatmap
# ---------------------------------------------------------------------------------------------


def test_heatmap_values_and_suppressed_cells(figures):
    fig = figures["heatmap"]
    (mesh,) = by_gid(fig, "heatmap_cells", QuadMesh)
    data = mesh.get_array().reshape(3, 3)
    assert data.mask.tolist() == [
        [False, False, False],
        [False, True, False],  # Xã Hựu Thạnh / Thủ tục hành chính: suppressed
        [False, False, False],
    ]
    assert data[0].tolist() == [81.2, 90.5, 77.0]
    values = [t.get_text() for t in by_gid(fig, "cell_value", Text)]
    assert "85,1" not in values and len(values) == 8
    assert {"81,2", "66,4", "79,9*"} <= set(values)
    (hatch,) = by_gid(fig, "suppressed_cell", Rectangle)
    assert hatch.get_xy() == (1, 1) and hatch.get_hatch() == "///"
    assert "Ô gạch chéo: dưới 10 người trả lời, không công bố." in all_text(fig)
    # the hatching is really drawn: grey pixels inside the suppressed cell of the saved PNG
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    img = np.asarray(Image.open(buffer).convert("RGB")).astype(int)
    ax = fig.axes[0]
    (x0, y0), (x1, y1) = ax.transData.transform([(1.15, 1.85), (1.85, 1.15)])
    h = img.shape[0]
    cell = img[int(h - y1) : int(h - y0), int(x0) : int(x1)]
    grey = (np.abs(cell - 154).max(axis=2) < 40).mean()
    assert 0.05 < grey < 0.8, grey


def _hand_elements(values: dict[str, list[float]], parts=("Chính sách", "Dịch vụ", "Dịch vụ")):
    names = ["Giải trình", "Tiếp cận dịch vụ", "Thủ tục hành chính"]
    return pd.DataFrame(
        [
            {"unit_name": u, "label_vi": e, "estimate": v, "part_vi": p, "level": "commune"}
            for u, vals in values.items()
            for e, v, p in zip(names, vals, parts, strict=True)
        ]
    )


def test_heatmap_one_colour_scale_for_every_brief():
    """Two briefs with very different ranges: one value gets one colour in both."""
    low = plots.heatmap_chart(_hand_elements({"Xã A": [62.0, 70.0, 80.0], "Xã B": [75, 77, 79]}))
    high = plots.heatmap_chart(_hand_elements({"Xã C": [80.0, 95.0, 99.0], "Xã D": [88, 90, 92]}))
    for fig in (low, high):
        (mesh,) = by_gid(fig, "heatmap_cells", QuadMesh)
        assert (mesh.norm.vmin, mesh.norm.vmax) == (60.0, 100.0)
        assert "Thang màu cố định 60–100%" in all_text(fig)
    (m_low,) = by_gid(low, "heatmap_cells", QuadMesh)
    (m_high,) = by_gid(high, "heatmap_cells", QuadMesh)
    assert m_low.to_rgba(80.0) == m_high.to_rgba(80.0)
    # the worst cells are red, not a dark blue / navy
    r, g, b, _ = m_low.to_rgba(60.0)
    assert r > 0.6 and b < 0.3
    # PAPI points (1–10) get their own fixed scale, not the percentage one
    papi = plots.heatmap_chart(_hand_elements({"Xã A": [4.1, 5.2, 6.3]}).assign(survey="papi"))
    (mesh,) = by_gid(papi, "heatmap_cells", QuadMesh)
    assert (mesh.norm.vmin, mesh.norm.vmax) == (2.0, 8.0)
    assert "Thang màu cố định 2–8 điểm" in all_text(papi)


def test_heatmap_rows_sorted_summary_pinned_and_part_separator():
    # the table interleaves the parts: the chart gathers the columns of a part
    parts = ("Chính sách", "Dịch vụ", "Chính sách")
    df = pd.concat(
        [
            _hand_elements({"Xã A": [70.0, 71.0, 72.0], "Xã B": [90.0, 91.0, 92.0]}, parts),
            _hand_elements({"Huyện X": [80.0, 81.0, 82.0]}, parts).assign(level="area"),
            _hand_elements({"Xã C": [80.0, 85.0, 83.0]}, parts),
        ]
    )
    fig = plots.heatmap_chart(df, group="part_vi")
    ax = fig.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows == ["Xã B", "Xã C", "Xã A", "Huyện X"]  # means 91, 82.7, 71; the area last
    cols = [t.get_text().replace("\n", " ") for t in ax.get_xticklabels()]
    assert cols == ["Giải trình", "Thủ tục hành chính", "Tiếp cận dịch vụ"]
    (sep,) = by_gid(fig, "group_separator", Line2D)
    assert list(sep.get_xdata()) == [2, 2]
    (summary,) = by_gid(fig, "summary_separator", Line2D)
    assert list(summary.get_ydata()) == [3, 3]
    # areas without communes (the overview) are sorted; the whole survey area stays last
    areas = pd.concat(
        [
            _hand_elements({"Toàn vùng": [80.0, 80.0, 80.0]}).assign(level="total"),
            _hand_elements({"Huyện X": [70.0, 71.0, 72.0]}).assign(level="area"),
            _hand_elements({"Huyện Y": [90.0, 91.0, 92.0]}).assign(level="area"),
        ]
    )
    fig_areas = plots.heatmap_chart(areas)
    assert [t.get_text() for t in fig_areas.axes[0].get_yticklabels()] == [
        "Huyện Y",
        "Huyện X",
        "Toàn vùng",
    ]
    assert sorted(t.get_text() for t in by_gid(fig, "group_label", Text)) == [
        "Chính sách",
        "Dịch vụ",
    ]


# ---------------------------------------------------------------------------------------------
# Diverging bars
# ---------------------------------------------------------------------------------------------


def test_diverging_bar_positions_by_hand(figures):
    fig = figures["diverging"]
    ax = fig.axes[0]
    items = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]
    # sorted by share of 4+5: 80 % before 40 %
    assert items == ["Hướng dẫn kê khai hồ sơ một lần là hiểu", "Công chức lịch sự, tôn trọng"]
    y2 = ax.get_yticks()[1]
    # item 2: shares 10, 20, 30, 25, 15 -> dissatisfied from -(10 + 20) to 0, satisfied from 0
    # to 25 + 15 = 40 (its printed satisfied share), neutral 30 in its own column from 0
    expected = {
        1: (-30.0, 10.0),
        2: (-20.0, 20.0),
        3: (0.0, 30.0),
        4: (0.0, 25.0),
        5: (25.0, 15.0),
    }
    for code, (x, width) in expected.items():
        (rect,) = [
            r
            for r in by_gid(fig, f"answer_{code}", Rectangle)
            if r.get_y() + r.get_height() / 2 == pytest.approx(y2)
        ]
        assert rect.get_x() == pytest.approx(x)
        assert rect.get_width() == pytest.approx(width)
    (neutral,) = {r.axes for r in by_gid(fig, "answer_3", Rectangle)}
    assert neutral is not ax  # "Bình thường" is set apart, not centred on 0
    text = all_text(fig)
    assert "Rất không hài lòng" in text and "Rất hài lòng" in text
    assert "80%" in text and "40%" in text and "30%" in text


def test_diverging_satisfied_end_equals_printed_share():
    fig = plots.diverging_bars_chart(long_label_distribution())
    ax = fig.axes[0]
    for y, t in zip(ax.get_yticks(), by_gid(fig, "total_positive", Text), strict=True):
        assert t.get_position()[1] == pytest.approx(y)
        right = max(
            r.get_x() + r.get_width()
            for code in (4, 5)
            for r in by_gid(fig, f"answer_{code}", Rectangle)
            if r.get_y() + r.get_height() / 2 == pytest.approx(y)
        )
        assert t.get_text() == f"{round(right)}%"
    shares = {t.get_text() for t in by_gid(fig, "total_positive", Text)}
    assert shares == {"77%", "64%", "58%", "71%", "90%", "69%", "81%", "52%"}


def long_label_distribution() -> pd.DataFrame:
    """Eight items with long form wordings (satisfied shares by hand: 77, 64, 58, …)."""
    items = {
        "Chính sách về điện sinh hoạt phù hợp. (Gồm các chính sách về cấp điện, giá điện)": 77,
        "Công chức hướng dẫn kê khai hồ sơ tận tình, chu đáo và dễ hiểu cho người dân": 64,
        "Thời gian giải quyết hồ sơ đúng quy định": 58,
        "Phí, lệ phí phải nộp để giải quyết hồ sơ đúng quy định và được niêm yết công khai": 71,
        "Trụ sở sạch sẽ": 90,
        "Kết quả giải quyết thủ tục hành chính đầy đủ, chính xác, đúng quy định của pháp luật": 69,
        "Người dân dễ dàng góp ý, phản hồi về chính sách tại địa phương thông qua nhiều kênh": 81,
        "Chính sách về khám bệnh, chữa bệnh, bảo hiểm y tế phù hợp với nhu cầu của người dân": 52,
    }
    rows = []
    for item, sat in items.items():
        neutral = min(12.0, 98.0 - sat)
        shares = [(100 - sat - neutral) / 2, (100 - sat - neutral) / 2, neutral, sat * 0.6]
        shares.append(sat - shares[3])
        rows += [
            {"label_vi": item, "answer_code": c, "share": v}
            for c, v in zip(range(1, 6), shares, strict=True)
        ]
    return pd.DataFrame(rows)


def test_diverging_labels_whole_and_never_overlapping():
    dist = long_label_distribution()
    fig = plots.diverging_bars_chart(dist)
    laid_out(fig)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    labels = ax.get_yticklabels()
    # whole words, nothing cut: the label's words are the item's words; at most 3 lines
    assert sorted(t.get_text().replace("\n", " ") for t in labels) == sorted(
        dist["label_vi"].unique()
    )
    assert max(t.get_text().count("\n") + 1 for t in labels) <= 3
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.y0)
    for lower, upper in zip(boxes, boxes[1:], strict=False):
        assert lower.y1 <= upper.y0, (lower, upper)
    fig_box = fig.bbox
    assert all(b.x0 >= fig_box.x0 and b.x1 <= fig_box.x1 for b in boxes)


def test_diverging_rejects_bad_distributions():
    dist = answer_distribution()
    with pytest.raises(InputError, match="sum to 100"):
        plots.diverging_bars_chart(dist.assign(share=dist["share"] * 0.9))
    with pytest.raises(InputError, match="1–5"):
        plots.diverging_bars_chart(dist.assign(answer_code=dist["answer_code"].replace(5, 9)))
    with pytest.raises(InputError, match="several rows"):
        plots.diverging_bars_chart(pd.concat([dist, dist]))


# ---------------------------------------------------------------------------------------------
# PAPI dimensions, importance–performance
# ---------------------------------------------------------------------------------------------


def test_papi_chart_values_order_and_quartile_group(figures):
    fig = figures["papi"]
    ax = fig.axes[0]
    labels = [t.get_text().split(".")[0] for t in ax.get_yticklabels()]
    assert labels == [f"D{k}" for k in range(1, 9)]
    (prov,) = by_gid(fig, "province", PathCollection)
    (med,) = by_gid(fig, "national_median", LineCollection)
    (best,) = by_gid(fig, "best_province", PathCollection)
    # latest year (2019) by default, in D1..D8 order
    assert list(prov.get_offsets()[:, 0]) == [4.48, 5.08, 4.41, 7.10, 7.46, 7.02, 3.41, 2.75]
    assert [seg[0][0] for seg in med.get_segments()] == [
        5.00, 5.44, 4.97, 6.83, 7.36, 7.27, 3.59, 3.51
    ]  # fmt: skip
    assert list(best.get_offsets()[:, 0]) == [5.81, 6.29, 5.60, 8.19, 7.66, 7.89, 4.94, 5.00]
    text = all_text(fig)
    assert "PAPI 2019" in text
    assert "Tổng PAPI xếp thứ 52/63 tỉnh, thành phố; nhóm: nhóm đạt điểm thấp" in text
    assert "Long An 41,70" in text
    ranks = [t.get_text() for t in by_gid(fig, "province_rank", Text)]
    assert ranks[5] == "hạng 61/63, nhóm đạt điểm thấp"  # D6 row


def test_papi_markers_never_hidden_when_values_coincide():
    """Long An exactly on the median: the median tick still shows above and below the dot."""
    bm = papi_benchmarks()
    bm["national_median"] = bm["province_value"]
    fig = plots.papi_dimension_chart(bm)
    ax = fig.axes[0]
    (prov,) = by_gid(fig, "province", PathCollection)
    (med,) = by_gid(fig, "national_median", LineCollection)
    (best,) = by_gid(fig, "best_province", PathCollection)
    radius_px = np.sqrt(prov.get_sizes()[0]) / 2 * fig.dpi / 72
    for (x, y), seg in zip(prov.get_offsets(), med.get_segments(), strict=True):
        (_, top), (_, bottom) = ax.transData.transform(seg)
        _, centre = ax.transData.transform((x, y))
        assert min(abs(top - centre), abs(bottom - centre)) > radius_px + 2
    # the best province's triangle sits off the province's row line
    pairs = zip(best.get_offsets(), prov.get_offsets(), strict=True)
    assert all(by != py for (_, by), (_, py) in pairs)


def test_papi_chart_other_year():
    fig = plots.papi_dimension_chart(papi_benchmarks(), year=2018, province_name="Tây Ninh")
    (prov,) = by_gid(fig, "province", PathCollection)
    assert prov.get_offsets()[0, 0] == pytest.approx(4.78)
    assert "Tây Ninh" in all_text(fig)


def test_ipa_quadrants_and_labels(figures):
    fig = figures["ipa"]
    where = {
        key: sorted(map(tuple, by_gid(fig, f"quadrant_{key}", PathCollection)[0].get_offsets()))
        for key in ("uu_tien", "duy_tri", "theo_doi", "giu_vung")
    }
    # medians: importance 0.6, performance 80
    assert where == {
        "uu_tien": [(70.0, 0.8)],
        "duy_tri": [(90.0, 0.7)],
        "theo_doi": [(72.0, 0.5)],
        "giu_vung": [(88.0, 0.4)],
    }
    text = all_text(fig)
    # the names of findings_phrases.yaml, the file the table and the briefs read
    for label in ("Ưu tiên cải thiện", "Tiếp tục duy trì", "Theo dõi", "Giữ vững"):
        assert label in text
    assert "Đường cắt: trung vị của mỗi trục" in text
    assert {t.get_text() for t in by_gid(fig, "point_label", Text)} == set(ipa_table().label_vi)


def ipa_two_parts() -> pd.DataFrame:
    """Policy items at 75–80 %, service items at 84–91 %: cut within the part, not across."""
    return pd.DataFrame(
        {
            "index_code": ["cs1", "cs2", "cs3", "dv1", "dv2", "dv3"],
            "label_vi": ["Chính sách 1", "Chính sách 2", "Chính sách 3", "DV 1", "DV 2", "DV 3"],
            "importance": [0.5, 0.7, 0.3, 0.6, 0.4, 0.8],
            "performance": [75.0, 78.0, 80.0, 91.0, 84.0, 86.0],
            "part": ["chinh_sach"] * 3 + ["dich_vu"] * 3,
        }
    )


def test_ipa_within_each_part_uses_the_part_quadrants():
    from sipas_analysis import highlights

    ipa = ipa_two_parts()
    est = pd.DataFrame(
        {
            "index_code": ["chinh_sach", "dich_vu", *ipa["index_code"]],
            "index_level": ["part", "part"] + ["item"] * 6,
            "parent_code": [None, None, *ipa["part"]],
            "level": "total",
            "estimate": 80.0,
        }
    )
    quads = highlights.part_quadrants(ipa.drop(columns="part"), est)
    fig = plots.importance_performance_chart(
        quads,
        part="part",
        quadrant="quadrant_part",
        part_labels={"chinh_sach": "Chính sách", "dich_vu": "Dịch vụ"},
    )
    assert len(fig.axes) == 2
    cuts = [line.get_xdata()[0] for line in by_gid(fig, "performance_cut", Line2D)]
    assert cuts == [78.0, 86.0]  # the medians of each part, by hand
    cuts_i = [line.get_ydata()[0] for line in by_gid(fig, "importance_cut", Line2D)]
    assert cuts_i == [0.5, 0.6]
    # by hand: policy medians 0.5 / 78, service medians 0.6 / 86; across parts the service
    # item at 84 % would be above the overall median (82) — within its part it is weak
    where = {
        key: {
            tuple(p)
            for c in by_gid(fig, f"quadrant_{key}", PathCollection)
            for p in c.get_offsets()
        }
        for key in ("uu_tien", "duy_tri", "theo_doi", "giu_vung")
    }
    assert where == {
        "uu_tien": {(75.0, 0.5)},
        "duy_tri": {(78.0, 0.7), (91.0, 0.6), (86.0, 0.8)},
        "theo_doi": {(84.0, 0.4)},
        "giu_vung": {(80.0, 0.3)},
    }
    assert "trong từng phần (chính sách, dịch vụ)" in all_text(fig)
    # quadrants that disagree with the drawn cuts are refused, naming the column
    with pytest.raises(InputError, match="quadrant_part"):
        plots.importance_performance_chart(
            quads.assign(quadrant_part="uu_tien"), part="part", quadrant="quadrant_part"
        )


def test_ipa_numbered_labels_for_many_points():
    rng = np.random.default_rng(3)
    ipa = pd.DataFrame(
        {
            "label_vi": [f"Tiêu chí {i}" for i in range(1, 16)],
            "importance": rng.uniform(0.3, 0.9, 15),
            "performance": rng.uniform(60, 95, 15),
        }
    )
    fig = plots.importance_performance_chart(ipa, importance_cut=0.6)
    assert sorted(int(t.get_text()) for t in by_gid(fig, "point_label", Text)) == list(range(1, 16))
    assert "15. Tiêu chí 15" in all_text(fig).replace("\u00a0", " ")
    (cut,) = by_gid(fig, "importance_cut", Line2D)
    assert list(cut.get_ydata()) == [0.6, 0.6]


def test_style_is_not_leaked_into_global_rcparams():
    before = mpl.rcParams["font.family"], mpl.rcParams["svg.fonttype"]
    plots.dot_whisker_chart(commune_estimates())
    assert (mpl.rcParams["font.family"], mpl.rcParams["svg.fonttype"]) == before


def test_heatmap_bands_against_a_reference_with_a_legend_and_horizontal_labels():
    """Three bands (±2 points) against each column's reference: RdBu colours, a Vietnamese
    legend, references under the column labels, horizontal labels that do not overlap."""
    from matplotlib.colors import to_hex

    df = _hand_elements({"Xã A": [77.9, 80.0, 90.0], "Xã B": [82.1, 82.0, 87.9]})
    ref = {"Giải trình": 80.0, "Tiếp cận dịch vụ": 80.0, "Thủ tục hành chính": 90.0}
    fig = plots.heatmap_chart(df, group="part_vi", reference=ref, reference_name="chỉ tiêu")
    (mesh,) = by_gid(fig, "heatmap_cells", QuadMesh)
    ax = fig.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows == ["Xã B", "Xã A"]  # means 84.0 and 82.6
    colours = np.array([[to_hex(c) for c in mesh.get_facecolors()]]).reshape(2, 3)
    below, near, above = "#ef8a62", "#f7f7f7", "#67a9cf"
    # Xã B: 82.1 vs 80 is above by more than 2; 82.0 is near; 87.9 vs 90 is below by 2.1
    # Xã A: 77.9 is below by 2.1; 80.0 is near; 90.0 is near
    assert colours.tolist() == [[above, near, below], [below, near, near]]
    text = all_text(fig)
    assert "Thấp hơn chỉ tiêu hơn 2 điểm phần trăm" in text
    assert "Gần chỉ tiêu" in text and "Cao hơn chỉ tiêu hơn 2 điểm phần trăm" in text
    assert not fig.axes[1:]  # no colour bar beside the bands
    labels = ax.get_xticklabels()
    assert all(t.get_rotation() == 0 for t in labels)
    assert "(90,0)" in labels[2].get_text()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in labels]
    gap = 3 * fig.dpi / 72  # points apart, at least
    assert all(a.x1 + gap <= b.x0 for a, b in zip(boxes, boxes[1:], strict=False))


def test_heatmap_labels_of_many_columns_never_overlap():
    names = [f"Tiêu chí dài số {i} về dịch vụ hành chính công" for i in range(9)]
    df = pd.DataFrame(
        [{"unit_name": u, "label_vi": n, "estimate": 80.0 + i} for u in ("Xã A", "Xã B")
         for i, n in enumerate(names)]
    )  # fmt: skip
    fig = plots.heatmap_chart(df, reference={n: 80.0 for n in names})
    renderer = fig.canvas.get_renderer()
    labels = fig.axes[0].get_xticklabels()
    boxes = [t.get_window_extent(renderer) for t in labels]
    assert all(t.get_rotation() == 0 for t in labels)
    gap = 3 * fig.dpi / 72  # points apart, at least
    assert all(a.x1 + gap <= b.x0 for a, b in zip(boxes, boxes[1:], strict=False))


def test_save_figure_lays_out_once_and_gives_the_figure_back_its_layout(tmp_path, monkeypatch):
    """The SVG reuses the PNG's layout (no engine at all while it is written, so savefig draws
    it once, without the layout pre-draw); afterwards, and after a failure while writing, the
    figure has its constrained layout again."""
    dots = pd.DataFrame({"unit_name": ["Xã A", "Xã B"], "estimate": [80.0, 70.0],
                         "ci_low": [72.0, 61.0], "ci_high": [86.0, 78.0]})  # fmt: skip
    fig = plots.dot_whisker_chart(dots)
    engine = fig.get_layout_engine()
    seen = []
    real = fig.savefig

    def spy(target, format, **kw):  # noqa: A002 - matplotlib's keyword
        seen.append((format, type(fig.get_layout_engine()).__name__))
        return real(target, format=format, **kw)

    draws = []
    real_draw = fig.draw

    def count_draw(renderer):
        draws.append(seen[-1][0])
        return real_draw(renderer)

    monkeypatch.setattr(fig, "savefig", spy)
    monkeypatch.setattr(fig, "draw", count_draw)
    plots.save_figure(fig, tmp_path / "a", close=False)
    assert seen == [("png", "ConstrainedLayoutEngine"), ("svg", "NoneType")]
    assert draws == ["png", "png", "svg"]  # the PNG's layout pre-draw and draw; the SVG's draw
    monkeypatch.undo()
    assert fig.get_layout_engine() is engine

    def fail_on_svg(target, format, **kw):  # noqa: A002
        if format == "svg":
            raise OSError("disk full")
        return real(target, format=format, **kw)

    monkeypatch.setattr(fig, "savefig", fail_on_svg)
    with pytest.raises(OSError):
        plots.save_figure(fig, tmp_path / "b", close=False)
    assert fig.get_layout_engine() is engine
    assert not (tmp_path / "b.svg").exists()
