"""One-page sheet for each commune of a SIPAS wave, for its People's Committee.

Each sheet shows the commune's SIPAS and elements with 95% intervals against its area and the
whole survey area, its rank with the 95% rank confidence set, its three weakest criteria, its
lines of the directive scorecard and what changed since the last comparable wave. Numbers come
from the run's tables through :mod:`sipas_analysis.highlights` and are formatted by
:mod:`sipas_analysis.report.leader`; the layout is ``sheet.typ``. Suppressed cells (n < 10) are
never printed.

Files: ``briefs/<wave>/xa/phieu_<wave>_<commune code>_<slug>.pdf`` (two old communes may share
a name, e.g. "Phường 1": the code keeps the files apart).
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from sipas_analysis import highlights
from sipas_analysis.report import leader
from sipas_analysis.report.brief import DEFAULT_ISSUER, DEFAULT_SOURCE, _nfc, compile_pdf
from sipas_analysis.report.format import fmt_date, fmt_int, fmt_pct, is_missing
from sipas_analysis.report.text import name_in_sentence

__all__ = [
    "sheet_payload",
    "write_commune_sheets",
]

SHEET_TEMPLATE = Path(__file__).resolve().parent / "sheet.typ"
TITLE = "PHIẾU KẾT QUẢ KHẢO SÁT SIPAS CỦA XÃ, PHƯỜNG"


def _slug(name: str) -> str:
    text = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _eq(s: pd.Series, v: object) -> pd.Series:
    return s.astype(str) == str(v)


def _cell(est: pd.DataFrame, unit: str, code: str) -> pd.Series | None:
    r = est[_eq(est["unit_code"], unit) & _eq(est["index_code"], code)]
    return None if r.empty else r.iloc[0]


def _shown(r: pd.Series | None, with_ci: bool = True) -> str:
    if r is None:
        return "–"
    if str(r["flag"]) == "suppressed":
        return "Không công bố"
    text = fmt_pct(r["estimate"])
    if with_ci:
        text += f" ({leader.interval('sipas', r['ci_low'], r['ci_high'])})"
    return text + (" *" if str(r["flag"]) == "small_n" else "")


def sheet_payload(
    tables: Mapping[str, pd.DataFrame],
    wave: str,
    commune: str,
    *,
    targets: pd.DataFrame | None = None,
    league: pd.DataFrame | None = None,
) -> dict:
    """The finished strings of one commune's sheet."""
    est = highlights._base(tables["estimates"])
    now = est[_eq(est["survey"], "sipas") & _eq(est["wave"], wave)]
    shorts = highlights.short_labels(now)
    me = _cell(now[now["level"] == "commune"], commune, "sipas")
    if me is None:
        raise highlights.SipasError(f"Commune {commune} has no SIPAS estimate in wave {wave}.")
    name, area = str(me["unit_name"]), str(me["area_code"])
    area_row = _cell(now[now["level"] == "area"], area, "sipas")
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
            sig = (
                " (có ý nghĩa thống kê)"
                if r["significant"] is True
                else " (chưa có ý nghĩa thống kê)"
            )
            head.append(
                f"So với năm {r['wave_from']} (quy đổi về địa giới mới): "
                f"{leader.change('sipas', r['change'])}{sig}."
            )
    if str(me["flag"]) != "suppressed":
        head.append(f"Số người trả lời hợp lệ: {fmt_int(me['n'])}.")
    # elements against the area and the province
    parts = now[(now["level"] == "commune") & _eq(now["unit_code"], commune)]
    codes = list(parts.loc[parts["index_level"].isin(["overall", "part", "element"]), "index_code"])
    area_label = f"Địa bàn {name_in_sentence(area_name)} cũ" if area_name else "Khu vực"
    rows = []
    for code in codes:
        r = _cell(parts, commune, code)
        lvl = str(r["index_level"])
        label = "Chỉ số SIPAS" if code == "sipas" else shorts.get(code, str(r["label_vi"]))
        if lvl == "part":
            label = f"Phần: {label}"
        rows.append(
            [label, _shown(r), _shown(_cell(now[now["level"] == "area"], area, code), False),
             _shown(_cell(now[now["level"] == "total"], "total", code), False)]
        )  # fmt: skip
    elements = {
        "columns": ["Chỉ số, yếu tố", f"{name} (KTC 95%)", area_label, "Toàn vùng khảo sát"],
        "rows": rows,
    }
    # three weakest criteria
    items = parts[(parts["index_level"] == "item") & (parts["role"] == "satisfaction")]
    items = items[items["flag"].astype(str) != "suppressed"].nsmallest(3, "estimate")
    weakest = [
        [shorts.get(str(r["index_code"]), str(r["label_vi"])), _shown(r),
         _shown(_cell(now[now["level"] == "total"], "total", str(r["index_code"])), False)]
        for _, r in items.iterrows()
    ]  # fmt: skip
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
            "weakest": {"columns": ["Tiêu chí", "Kết quả (KTC 95%)", "Toàn vùng"], "rows": weakest},
            "scorecard": {
                "columns": leader.SCORECARD_COLUMNS,
                "rows": leader.scorecard_rows(sc),
            },  # fmt: skip
            "owner": f"Gửi: {owner}. *: dưới 30 người trả lời, cần diễn giải thận trọng.",
        }
    )


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
    lg = highlights.commune_league(tables, wave)
    out = []
    for r in lg.sort_values("unit_name").itertuples(index=False):
        payload = sheet_payload(tables, wave, str(r.unit_code), targets=targets, league=lg)
        path = folder / f"phieu_{wave}_{r.unit_code}_{_slug(str(r.unit_name))}.pdf"
        compile_pdf(SHEET_TEMPLATE, payload, path, what=str(r.unit_name))
        out.append(path)
    return out
