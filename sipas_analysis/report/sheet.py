"""One-page sheet for each commune of a SIPAS wave, for its People's Committee.

Each sheet shows the commune's SIPAS and elements with 95% intervals against its area and the
whole survey area, its rank with the 95% rank confidence set, its three weakest criteria, its
lines of the directive scorecard and what changed since the last comparable wave (each element's
change, and the three criteria that fell and the three that rose most, with intervals). Numbers come
from the run's tables through :mod:`sipas_analysis.highlights` and are formatted by
:mod:`sipas_analysis.report.leader`; the layout is ``sheet.typ``. Suppressed cells (n < 10) are
never printed.

Files: ``briefs/<wave>/xa/phieu_<wave>_<commune code>_<slug>.pdf`` (two old communes may share
a name, e.g. "Phường 1": the code keeps the files apart).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from sipas_analysis import highlights
from sipas_analysis.estimate import MIN_N
from sipas_analysis.highlights import no_subgroups, value_is
from sipas_analysis.report import leader
from sipas_analysis.report.brief import DEFAULT_ISSUER, DEFAULT_SOURCE, _nfc, compile_pdf
from sipas_analysis.report.format import (
    fmt_change_pct_points,
    fmt_date,
    fmt_int,
    fmt_number,
    fmt_pct,
    is_missing,
)
from sipas_analysis.report.text import name_in_sentence

__all__ = [
    "sheet_jobs",
    "sheet_payload",
    "write_commune_sheets",
]

SHEET_TEMPLATE = Path(__file__).resolve().parent / "sheet.typ"
TITLE = "PHIẾU KẾT QUẢ KHẢO SÁT SIPAS CỦA XÃ, PHƯỜNG"


def _slug(name: str) -> str:
    text = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _cells(est: pd.DataFrame) -> Callable[[str, str, str], pd.Series | None]:
    """``cell(level, unit, code)``: the first row of ``est`` with that level, unit and index
    code (compared as text), or None."""
    keys = zip(
        est["level"].astype(str),
        est["unit_code"].astype(str),
        est["index_code"].astype(str),
        strict=True,
    )
    first: dict[tuple[str, str, str], int] = {}
    for pos, key in enumerate(keys):
        first.setdefault(key, pos)

    def cell(level: str, unit: str, code: str) -> pd.Series | None:
        pos = first.get((str(level), str(unit), str(code)))
        return None if pos is None else est.iloc[pos]

    return cell


def _shown(r: pd.Series | None, with_ci: bool = True) -> str:
    if r is None:
        return "–"
    if str(r["flag"]) == "suppressed":
        return "Không công bố"
    text = fmt_pct(r["estimate"])
    if with_ci:
        text += f" ({leader.interval('sipas', r['ci_low'], r['ci_high'])})"
    return text + (" *" if str(r["flag"]) == "small_n" else "")


def _changes(tables: Mapping[str, pd.DataFrame], commune: str, wave: str) -> pd.DataFrame:
    """The commune's comparable changes into ``wave`` (latest earlier wave, no subgroup, no
    suppressed side), one row per index code."""
    tr = tables.get("trends")
    if tr is None or tr.empty:
        return pd.DataFrame(columns=["index_code", "index_level", "wave_from", "estimate_from",
                                     "estimate_to", "change", "ci_low", "ci_high", "significant",
                                     "q_value", "flag_from", "flag_to"])  # fmt: skip
    t = highlights.unit_changes(tr, "sipas", commune, wave)
    t = t[(t["flag_from"].astype(str) != "suppressed") & (t["flag_to"].astype(str) != "suppressed")]
    # numbers as numbers (a table read back, or one with no change yet, may hold objects)
    t = t.assign(**{c: pd.to_numeric(t[c], errors="coerce")
                    for c in ("change", "ci_low", "ci_high", "estimate_from", "estimate_to")})  # fmt: skip
    t = t[t["change"].notna()]
    for col in ("n_from", "n_to"):  # no cell on fewer than MIN_N answers, whatever its flag says
        if col in t.columns:
            t = t[pd.to_numeric(t[col], errors="coerce").fillna(0) >= MIN_N]
    if t.empty:
        return t
    last = t["wave_from"].astype(str).max()
    return t[t["wave_from"].astype(str) == last].drop_duplicates("index_code")


def _alone_significant(tables: Mapping[str, pd.DataFrame], commune: str, wave: str) -> bool:
    """Whether the commune's SIPAS change into ``wave`` is significant on its own test (its
    ``significant``, before the family of all the communes' changes)."""
    t = _changes(tables, commune, wave)
    t = t[t["index_code"].astype(str) == "sipas"]
    return bool(not t.empty and leader.is_yes(t.iloc[0]["significant"]))


def _change_cell(r: pd.Series | None, ci: str = "") -> str:
    """``Tăng 4,4`` (percentage points, named in the column header), with its interval when
    given and whether it is significant (:func:`sipas_analysis.highlights.said_significant`)."""
    if r is None:
        return "–"
    text = leader.upper_first(fmt_change_pct_points(r["change"]).replace(" điểm phần trăm", ""))
    notes = ([f"KTC 95%: {ci}"] if ci else []) + (
        ["có ý nghĩa thống kê"] if highlights.said_significant(r) else []
    )
    return text + (f" ({'; '.join(notes)})" if notes else "")


def sheet_payload(
    tables: Mapping[str, pd.DataFrame],
    wave: str,
    commune: str,
    *,
    targets: pd.DataFrame | None = None,
    league: pd.DataFrame | None = None,
) -> dict:
    """The finished strings of one commune's sheet."""
    est = no_subgroups(tables["estimates"])
    now = est[value_is(est["survey"], "sipas") & value_is(est["wave"], wave)]
    shorts = highlights.short_labels(now)
    cell = _cells(now)
    me = cell("commune", commune, "sipas")
    if me is None:
        raise highlights.SipasError(f"Commune {commune} has no SIPAS estimate in wave {wave}.")
    name, area = str(me["unit_name"]), str(me["area_code"])
    area_row = cell("area", area, "sipas")
    area_name = str(area_row["unit_name"]) if area_row is not None else ""
    lg = league if league is not None else highlights.commune_league(tables, wave)
    mine = lg[lg["unit_code"].astype(str) == str(commune)]
    head = [f"Chỉ số SIPAS năm {wave} (khảo sát của tỉnh): {_shown(me)}."]
    if not mine.empty and not is_missing(mine.iloc[0]["rank"]):
        r = mine.iloc[0]
        head.append(
            f"Xếp thứ {int(r['rank'])}/{int(r['n_units'])} xã, phường được khảo sát (khoảng tin "
            f"cậy 95% của thứ hạng: {int(r['rank_low'])}–{int(r['rank_high'])}); ước lượng mô "
            f"hình: {fmt_pct(r['estimate_model'])}."
        )
        if not is_missing(r["change"]):
            if leader.is_yes(r["significant"]):
                sig = " (có ý nghĩa thống kê)"
            elif _alone_significant(tables, commune, wave):
                # significant on its own test, not among the changes of all the communes
                sig = " (chưa có ý nghĩa thống kê khi xét cùng các xã, phường khác)"
            else:
                sig = " (chưa có ý nghĩa thống kê)"
            head.append(
                f"So với năm {r['wave_from']} (quy đổi về địa giới mới): "
                f"{leader.change('sipas', r['change'])}{sig}."
            )
    if str(me["flag"]) != "suppressed":
        head.append(f"Số người trả lời hợp lệ: {fmt_int(me['n'])}.")
    # elements against the area and the province
    parts = now[(now["level"] == "commune") & value_is(now["unit_code"], commune)]
    codes = list(parts.loc[parts["index_level"].isin(["overall", "part", "element"]), "index_code"])
    area_label = f"Địa bàn {name_in_sentence(area_name)} cũ" if area_name else "Khu vực"
    ch = _changes(tables, commune, wave)
    by_code = {str(r["index_code"]): r for _, r in ch.iterrows()}
    wave_from = str(ch["wave_from"].iloc[0]) if not ch.empty else ""
    rows = []
    for code in codes:
        r = cell("commune", commune, code)
        lvl = str(r["index_level"])
        label = "Chỉ số SIPAS" if code == "sipas" else shorts.get(code, str(r["label_vi"]))
        if lvl == "part":
            label = f"Phần: {label}"
        rows.append(
            [label, _shown(r), _shown(cell("area", area, code), False),
             _shown(cell("total", "total", code), False)]
            + ([_change_cell(by_code.get(code))] if wave_from else [])
        )  # fmt: skip
    columns = ["Chỉ số, yếu tố", f"{name} (KTC 95%)", area_label, "Toàn vùng khảo sát"]
    if wave_from:
        columns.append(f"So với năm {wave_from} (điểm phần trăm)")
    elements = {"columns": columns, "rows": rows}
    # three weakest criteria
    items = parts[(parts["index_level"] == "item") & (parts["role"] == "satisfaction")]
    items = items[items["flag"].astype(str) != "suppressed"].nsmallest(3, "estimate")
    weakest = [
        [shorts.get(str(r["index_code"]), str(r["label_vi"])), _shown(r),
         _shown(cell("total", "total", str(r["index_code"])), False)]
        for _, r in items.iterrows()
    ]  # fmt: skip
    # criteria that moved most since the last comparable wave: falls first, then rises
    moved = ch[(ch["index_level"] == "item") & ch["index_code"].astype(str).isin(
        set(parts.loc[parts["role"] == "satisfaction", "index_code"].astype(str)))]  # fmt: skip
    falls = moved[moved["change"] < 0].sort_values("change", kind="stable").head(3)
    rises = moved[moved["change"] > 0].sort_values("change", ascending=False, kind="stable").head(3)
    regrouped = (
        "geography" in ch.columns and ch["geography"].astype(str).str.contains("quy đổi").any()
    )
    changes = []
    for _, r in pd.concat([falls, rises]).iterrows():
        small = "small_n" in (str(r["flag_from"]), str(r["flag_to"]))
        ci = f"từ {fmt_number(r['ci_low'], 1)} đến {fmt_number(r['ci_high'], 1)}"
        changes.append(
            [shorts.get(str(r["index_code"]), str(r["label_vi"])),
             fmt_pct(r["estimate_from"]), fmt_pct(r["estimate_to"]) + (" *" if small else ""),
             _change_cell(r, ci)]
        )  # fmt: skip
    sc = highlights.directive_scorecard(tables, commune, wave, targets=targets)
    sc = sc[sc["source"] == "survey"]
    owner = f"Ủy ban nhân dân {name_in_sentence(name)}"
    return _nfc(
        {
            "title": TITLE,
            "issuer": DEFAULT_ISSUER,
            "name": name,
            "area": f"{area_label} – năm {wave}",
            "date": fmt_date(_dt.date.today()),
            "source": DEFAULT_SOURCE,
            "head": head,
            "elements": elements,
            "weakest": {
                "columns": ["Tiêu chí", "Kết quả (KTC 95%)", "Toàn vùng khảo sát"],
                "rows": weakest,
            },
            "changes": {
                "title": f"Tiêu chí thay đổi nhiều nhất so với năm {wave_from}"
                if wave_from
                else "",
                "columns": [
                    "Tiêu chí",
                    f"Năm {wave_from}",
                    f"Năm {wave}",
                    "Thay đổi (điểm phần trăm)",
                ],
                "rows": changes,
                "note": (
                    (f"Số liệu năm {wave_from} quy đổi về địa giới mới. " if regrouped else "")
                    + "Ba tiêu chí giảm nhiều nhất, rồi ba tiêu chí tăng nhiều nhất; thay đổi "
                    "chưa có ý nghĩa thống kê có thể chỉ do sai số chọn mẫu. “Có ý nghĩa thống "
                    "kê” đã tính đến việc so sánh nhiều tiêu chí cùng lúc."
                )
                if wave_from
                else "",
            },  # fmt: skip
            "scorecard": {
                "columns": leader.SCORECARD_COLUMNS,
                "rows": leader.scorecard_rows(sc),
            },  # fmt: skip
            "owner": f"Gửi: {owner}. *: dưới 30 người trả lời, cần diễn giải thận trọng.",
        }
    )


def sheet_jobs(
    tables: Mapping[str, pd.DataFrame],
    wave: str,
    folder: str | Path,
    *,
    targets: pd.DataFrame | None = None,
) -> list[Callable[[], Path]]:
    """One call per commune of the SIPAS wave (by name) that renders its sheet into ``folder``
    and returns its path; :func:`write_commune_sheets` runs them, ``sipas run`` runs them in
    worker processes (:mod:`sipas_analysis.parallel`)."""
    folder = Path(folder)
    lg = highlights.commune_league(tables, wave)

    def job(code: str, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        payload = sheet_payload(tables, wave, code, targets=targets, league=lg)
        path = folder / f"phieu_{wave}_{code}_{_slug(name)}.pdf"
        compile_pdf(SHEET_TEMPLATE, payload, path, what=name)
        return path

    return [
        functools.partial(job, str(r.unit_code), str(r.unit_name))
        for r in lg.sort_values("unit_name").itertuples(index=False)
    ]


def write_commune_sheets(
    tables: Mapping[str, pd.DataFrame],
    wave: str,
    folder: str | Path,
    *,
    targets: pd.DataFrame | None = None,
) -> list[Path]:
    """Render one single-page PDF per commune of the SIPAS wave into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [job() for job in sheet_jobs(tables, wave, folder, targets=targets)]
