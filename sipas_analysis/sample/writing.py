"""The file of a wave as the field team would send it: headers and value labels (the layout), and
the writers of CSV, xlsx, SPSS and Stata files without time stamps."""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
import zipfile
from pathlib import Path

import pandas as pd

from sipas_analysis.outputs import atomic_path
from sipas_analysis.sample.mess import _TONES

__all__: list[str] = []


# ---------------------------------------------------------------------------------------------
# Layout (headers) and writers
# ---------------------------------------------------------------------------------------------


def _short(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1].rstrip(" ,.;") + "…"


def _layout(wave: dict, spec: dict, items: pd.DataFrame) -> dict:
    """Header of every canonical column and item of a wave, plus labels for coded files."""
    name = wave["layout"]
    lay = spec["layouts"][name]
    cols: dict[str, str] = {}
    labels: dict[str, str] = {}
    item_headers: dict[str, str] = {}
    for key, h in lay["columns"].items():
        if isinstance(h, dict):
            cols[key] = h["name"]
            labels[h["name"]] = h["label"]
        else:
            cols[key] = h
    seen: set[str] = set()
    n_part_a = 0
    for n_item, (_, it) in enumerate(items.iterrows(), start=1):
        question = str(it.get("question") or "").strip()
        if question == "A":
            n_part_a += 1
            number = f"A{n_part_a}"
        elif question.startswith("Câu"):
            number = question
        else:
            number = f"C{n_item}"
        label = f"{number}. {_short(it['label_vi'], int(lay.get('item_label_chars', 70)))}"
        if label in seen:
            label = f"{label} ({it['code']})"
        seen.add(label)
        if name == "coded":
            var = f"q{n_item}"
            item_headers[it["code"]] = var
            labels[var] = _short(label, 80)
        else:
            item_headers[it["code"]] = label
    return {"columns": cols, "labels": labels, "items": item_headers, "layout": name}


def _file_table(df: pd.DataFrame, items: pd.DataFrame, lay: dict) -> pd.DataFrame:
    cols = lay["columns"]
    out = pd.DataFrame(index=df.index)
    order = [
        "respondent_id",
        "full_name",
        "phone",
        "address",
        "stratum",
        "commune",
        "commune_code",
        "psu",
        "village",
        "sex",
        "age",
        "urban_rural",
    ]
    source = {"commune": "commune_name"}
    for key in order:
        if key in cols:
            out[cols[key]] = df[source.get(key, key)]
    answers = {}
    for code in items["code"]:
        # answers are whole numbers (codes; km, minutes, thousand VND as integers)
        answers[lay["items"][code]] = df[code].astype("Float64").round().astype("Int64")
    out = pd.concat([out, pd.DataFrame(answers, index=df.index)], axis=1)
    out[cols["weight"]] = df["weight"].round(4)
    for key in ("sex", "age", "urban_rural", "commune_code"):
        if key in cols:
            out[cols[key]] = out[cols[key]].astype("Int64")
    return out.reset_index(drop=True)


def _cp1258_text(text: str) -> str:
    """Vietnamese text in the form Windows-1258 stores it: base letters precomposed, tones apart.

    Examples
    --------
    >>> _cp1258_text("Hòa Thượng").encode("cp1258").decode("cp1258") == "Hòa Thượng"
    False
    >>> import unicodedata
    >>> unicodedata.normalize("NFC", _cp1258_text("Hòa Thượng")) == "Hòa Thượng"
    True
    """
    clusters: list[list[str]] = []
    for ch in unicodedata.normalize("NFD", text):
        if clusters and unicodedata.combining(ch):
            clusters[-1].append(ch)
        else:
            clusters.append([ch])
    out = []
    for base, *marks in clusters:
        tones = [m for m in marks if m in _TONES]
        others = "".join(m for m in marks if m not in _TONES)
        out.append(unicodedata.normalize("NFC", base + others) + "".join(tones))
    return "".join(out)


def _fixed_stamp(wave: dict) -> dt.datetime:
    end = wave["fieldwork"]["end"]
    end = end if isinstance(end, dt.date) else dt.date.fromisoformat(str(end))
    return dt.datetime(end.year, end.month, end.day, 12, 0, 0)


def _write_csv(table: pd.DataFrame, path: Path, encoding: str) -> None:
    frame = table
    if encoding.lower() in ("cp1258", "windows-1258"):
        frame = table.copy()
        frame.columns = [_cp1258_text(c) for c in frame.columns]
        for c in frame.columns:
            if frame[c].dtype == object:
                frame[c] = frame[c].map(lambda v: _cp1258_text(v) if isinstance(v, str) else v)
        newline = "\r\n"
    else:
        newline = "\n"
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding=encoding, lineterminator=newline)


def _write_xlsx(table: pd.DataFrame, path: Path, sheet: str, wave: dict, notes: list[str]) -> None:
    from openpyxl import Workbook

    stamp = _fixed_stamp(wave)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(list(table.columns))
    for row in table.itertuples(index=False):
        ws.append([None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in row])
    ws2 = wb.create_sheet("Ghi chu")
    for line in notes:
        ws2.append([line])
    wb.properties.creator = "sipas_analysis make-sample"
    wb.properties.created = stamp
    with atomic_path(path) as tmp:
        wb.save(tmp)
        _normalize_zip(tmp, stamp)


def _normalize_zip(path: Path, stamp: dt.datetime) -> None:
    """Rewrite an .xlsx with fixed entry dates and document time stamps (byte-reproducible)."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(path) as zin:
        entries = [(info, zin.read(info.filename)) for info in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in entries:
            if info.filename == "docProps/core.xml":
                text = data.decode("utf-8")
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                    rf"\g<1>{iso}\g<3>",
                    text,
                )
                data = text.encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            zout.writestr(zi, data)
    path.write_bytes(buf.getvalue())


def _value_labels(
    table: pd.DataFrame, items: pd.DataFrame, lay: dict, spec: dict, instrument
) -> dict:
    vl = spec["layouts"]["value_labels"]
    cols = lay["columns"]
    out: dict[str, dict] = {}
    for key in ("sex", "urban_rural"):
        if key in cols:
            out[cols[key]] = {int(k): v for k, v in vl[key].items()}
    for code in items["code"]:
        labels = instrument.value_labels(code)
        if labels:
            out[lay["items"][code]] = {int(k): str(v) for k, v in labels.items()}
    return out


def _stat_frame(table: pd.DataFrame, small: bool = False) -> pd.DataFrame:
    """Nullable integers to float (SPSS/Stata have no nullable int); strings stay strings.

    ``small``: store them as 4-byte floats (Stata ``float``), exact for answer codes.
    """
    out = table.copy()
    for c in out.columns:
        if str(out[c].dtype) == "Int64":
            out[c] = out[c].astype("float32" if small else "float64")
    return out


def _write_sav(table, path: Path, labels: dict, value_labels: dict, wave: dict) -> None:
    import pyreadstat

    frame = _stat_frame(table)
    with atomic_path(path) as tmp:
        pyreadstat.write_sav(
            frame,
            str(tmp),
            file_label=f"SIPAS/PAPI sample wave {wave['id']}",
            column_labels=[labels.get(c) for c in frame.columns],
            variable_value_labels=value_labels,
            row_compress=True,
        )
        raw = bytearray(tmp.read_bytes())
        stamp = _fixed_stamp(wave)
        # header: "$FL2", product (60), 5 int32, bias (float64), date (9), time (8)
        if re.fullmatch(rb"\d\d [A-Z][a-z]{2} \d\d\d\d:\d\d:\d\d", bytes(raw[92:109])):
            raw[92:101] = stamp.strftime("%d %b %y").encode("ascii")
            raw[101:109] = stamp.strftime("%H:%M:%S").encode("ascii")
        tmp.write_bytes(bytes(raw))


def _write_dta(table, path: Path, labels: dict, value_labels: dict, wave: dict) -> None:
    import pyreadstat

    frame = _stat_frame(table, small=True)
    with atomic_path(path) as tmp:
        pyreadstat.write_dta(
            frame,
            str(tmp),
            file_label=f"Sample wave {wave['id']}",
            column_labels=[labels.get(c) or "" for c in frame.columns],
            variable_value_labels=value_labels,
        )
        raw = tmp.read_bytes()
        stamp = _fixed_stamp(wave).strftime("%d %b %Y %H:%M").encode("ascii")
        raw = re.sub(
            rb"<timestamp>\x11.{17}</timestamp>", b"<timestamp>\x11" + stamp + b"</timestamp>", raw
        )
        tmp.write_bytes(raw)
