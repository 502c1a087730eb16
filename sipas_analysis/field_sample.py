"""Seeded field-style wave files: what a field team sends, not what the code expects.

:mod:`sipas_analysis.sample` writes the bundled sample waves with headers the configs already know.
This module writes one wave the way field teams actually deliver it, to test the path from a raw
file to results (``sipas init-wave`` → ``sipas validate`` → ``sipas run``) on data the project did
not shape:

* a SIPAS-2022-questionnaire wave on the 19 communes of the 2025 boundaries, three villages per
  commune labelled "Ấp 1", "Ấp 2", "Ấp 3" in every commune (labels recur across communes), about
  1,000 respondents;
* a title row (and a blank row, in .xlsx) above the header; no stratum column, no PSU code;
* the questions as long Vietnamese headers built from the instrument's wording ("Câu 9.12. Chính
  sách về an sinh xã hội phù hợp. (Gồm …)", at most 240 characters) with small differences: a
  space before a full stop, a missing ")", a colon after the number, double spaces;
* commune names in mixed spellings ("Hoà"/"Hòa", lower case, with or without "Xã");
* a weight column "Trọng số", sex coded 1/2, age bands coded 1–5 with no codebook, a respondent
  name column with an ASCII header (``hoten``) holding fake names;
* filter questions (Câu 8.4, 8.5) with the conditional answers left blank when they do not apply,
  the perception questions (Câu 4, 5), the expectation questions (Câu 10.x), a few 98/99 codes;
* answers with village-level random effects (clustering) and respondent effects shared across
  questions, and planted commune effects: a few communes clearly below the rest of their area.

In SPSS form (``fmt="sav"``) the variables have short names (``q9_12``, ``xa``, ``hoten``) and the
questions are variable labels, cut at 256 bytes as SPSS does, with value labels on the codes.

Examples
--------
>>> from sipas_analysis.field_sample import make_field_wave      # doctest: +SKIP
>>> fw = make_field_wave("khao_sat_2026.xlsx", seed=11)           # doctest: +SKIP
>>> fw.truth.query("planted")[["commune_code", "commune_name"]]  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from sipas_analysis import geography
from sipas_analysis.instruments import load_instrument
from sipas_analysis.outputs import atomic_path
from sipas_analysis.sample.mess import _extra_spaces, _lower_prefix, _old_style_tones
from sipas_analysis.sample.people import _fake_people
from sipas_analysis.sample.spec import load_spec
from sipas_analysis.sample.writing import _normalize_zip

__all__ = ["DEFAULT_PLANTED", "FieldWave", "make_field_wave"]

#: Communes planted clearly below the rest of their area (GSO code -> shift on the logit scale of
#: the probability of being satisfied): one in Mộc Hóa, one in Thạnh Hóa, one in Đức Hòa.
DEFAULT_PLANTED: dict[int, float] = {27823: -1.3, 27889: -1.3, 27979: -1.3}

INSTRUMENT = "sipas-2022"
FORMATS = ("xlsx", "csv", "sav")
#: SPSS stores variable labels in at most 256 bytes.
SAV_LABEL_BYTES = 256
HEADER_MAX = 240

_SERVICE_FILTER, _PAKN_FILTER = "tn_tthc", "tn_pakn"


@dataclass
class FieldWave:
    """A field-style wave file written by :func:`make_field_wave`.

    Attributes
    ----------
    path : Path
        The file written.
    fmt : str
        ``xlsx``, ``csv`` or ``sav``.
    truth : DataFrame
        One row per commune: ``commune_code, commune_name, area_code, area_name, planted, shift,
        n, expected_satisfied_pct`` (the model's expected weighted share satisfied over the 33
        satisfaction items; the planted communes have ``planted`` True).
    headers : dict
        Instrument item code -> the column header (csv/xlsx) or variable name (sav) in the file.
    labels : dict
        For sav: variable name -> variable label (the long question); empty otherwise.
    personal_values : list of str
        The fake respondent names in the file (none of them may reach any output).
    header_row : int or None
        1-based row of the header in the file (None for sav).
    n_rows : int
        Respondent rows.
    """

    path: Path
    fmt: str
    truth: pd.DataFrame
    headers: dict[str, str]
    labels: dict[str, str] = field(default_factory=dict)
    personal_values: list[str] = field(default_factory=list)
    header_row: int | None = None
    n_rows: int = 0


# ---------------------------------------------------------------------------------------------
# Headers as a field team writes them
# ---------------------------------------------------------------------------------------------


def _messy_header(question: str, label: str, k: int, rng: np.random.Generator) -> str:
    """ "Câu 9.12. <wording>" with one of a few small differences, at most 240 characters."""
    text = " ".join(label.split())
    kind = k % 5
    if kind == 0 and "." in text[:-1]:
        text = text.replace(". ", " . ", 1)  # a space before a full stop
    elif kind == 1 and text.endswith(")"):
        text = text[:-1]  # a missing ")"
    elif kind == 1 and text.endswith(")."):
        text = text[:-2] + "."
    elif kind == 2:
        text = text.replace(", ", ",  ", 1)  # a double space
    elif kind == 3:
        text = text.replace("khám, chữa", "khám chữa").rstrip(".")
    sep = ": " if rng.uniform() < 0.15 else ". "
    return f"{question}{sep}{text}"[:HEADER_MAX].rstrip()


def _short_name(question: str) -> str:
    """SPSS variable name of a question: "Câu 9.12" -> "q9_12"."""
    return "q" + question.replace("Câu", "").strip().replace(".", "_")


def _cut_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")[:limit]
    return data.decode("utf-8", errors="ignore")


def _messy_commune(name: str, u: float) -> str:
    """One of the spellings commune names get in field files."""
    bare = name.split(" ", 1)[1] if name.startswith(("Xã ", "Phường ")) else name
    if u < 0.35:
        return name
    if u < 0.55:
        return _old_style_tones(name)
    if u < 0.70:
        return _lower_prefix(name).lower() if u < 0.62 else _lower_prefix(name)
    if u < 0.88:
        return _old_style_tones(bare) if u < 0.78 else bare
    return _extra_spaces(name)


# ---------------------------------------------------------------------------------------------
# The wave
# ---------------------------------------------------------------------------------------------


def make_field_wave(
    path: str | Path,
    seed: int = 2026,
    fmt: str | None = None,
    planted: dict[int, float] | None = None,
    n_per_village: int = 18,
    year: int = 2026,
    title_rows: bool = True,
    commune_sd: float = 0.1,
) -> FieldWave:
    """Write a field-style SIPAS wave file (see the module docstring) and return its truth.

    Parameters
    ----------
    path : str or Path
        File to write; its folder must exist.
    seed : int
        Same seed, same file content.
    fmt : {"xlsx", "csv", "sav"}, optional
        Default: from the file suffix.
    planted : dict, optional
        Commune GSO code (2025 boundaries) -> shift of the logit of the probability of being
        satisfied, for every satisfaction item. Default :data:`DEFAULT_PLANTED`.
    n_per_village : int
        Respondents per village (3 villages in each of the 19 communes).
    commune_sd : float
        SD of the communes' own effects ``u_c`` on the logit scale (default 0.1: communes differ a
        little, as real ones do); 0 gives a complete null wave (no commune differs from another
        but by its villages and respondents) when nothing is planted.
    year : int
        Survey year, printed in the title row.
    title_rows : bool
        Write the title row (xlsx: and a blank row) above the header (csv/xlsx).

    Returns
    -------
    FieldWave

    Notes
    -----
    Model, for respondent *r* of village *v* in commune *c* and satisfaction item *i*::

        P(answer in top box) = expit(a_i + s_c + u_c + v_v + e_r)

    with ``a_i`` ~ N(logit 0.82, 0.3²) per item, ``s_c`` the planted shift, ``u_c`` ~ N(0, ``commune_sd``²),
    village effects ``v_v`` ~ N(0, 0.35²) and respondent effects ``e_r`` ~ N(0, 0.7²) shared by the
    respondent's answers. Service items are asked when Câu 8.4 = 1 (75%), feedback items when
    Câu 8.5 = 1 (35%). About 1% of the answers are 98/99.

    Examples
    --------
    >>> fw = make_field_wave("field.csv", seed=3)        # doctest: +SKIP
    >>> fw.n_rows                                         # doctest: +SKIP
    1026
    """
    path = Path(path)
    fmt = fmt or path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    planted = dict(DEFAULT_PLANTED if planted is None else planted)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(b"field-wave")]))
    inst = load_instrument(INSTRUMENT)
    items = inst.items.set_index("code")

    # Design: every commune, three villages each, n_per_village respondents per village.
    frame = geography.communes("2025").reset_index(drop=True)
    rows = []
    for c in frame.itertuples(index=False):
        adults = 0.72 * float(c.pop_2019_total)
        for k in (1, 2, 3):
            for _ in range(n_per_village):
                rows.append((int(c.commune_code), c.commune_name, int(c.area_code), k, adults))
    df = pd.DataFrame(rows, columns=["commune_code", "commune_name", "area_code", "ap", "adults"])
    n = len(df)
    village_id = df["commune_code"].astype(str) + "-" + df["ap"].astype(str)
    n_c = df.groupby("commune_code")["ap"].transform("size")
    adj = pd.Series(rng.lognormal(0.0, 0.15, size=village_id.nunique()), index=village_id.unique())
    df["weight"] = (df["adults"] / n_c * village_id.map(adj)).round(4)

    spec = load_spec()
    df["sex"] = np.where(rng.uniform(size=n) < 0.47, 1, 2)
    df["age_band"] = rng.choice([1, 2, 3, 4, 5], size=n, p=[0.12, 0.2, 0.3, 0.23, 0.15])
    df["village"] = "Ấp " + df["ap"].astype(str)
    people = _fake_people(df, spec, rng)
    df["hoten"] = people["full_name"]

    # Effects.
    codes = frame["commune_code"].astype(int).to_numpy()
    u_c = dict(zip(codes, commune_sd * rng.normal(0.0, 1.0, size=len(codes)), strict=True))
    shift = df["commune_code"].map(lambda c: planted.get(int(c), 0.0)).to_numpy()
    v_eff = village_id.map(
        pd.Series(rng.normal(0.0, 0.35, size=village_id.nunique()), index=village_id.unique())
    ).to_numpy()
    base = shift + df["commune_code"].map(u_c).to_numpy() + v_eff + rng.normal(0.0, 0.7, size=n)

    answers: dict[str, np.ndarray] = {}
    answers[_SERVICE_FILTER] = np.where(rng.uniform(size=n) < 0.75, 1, 2).astype(float)
    answers[_PAKN_FILTER] = np.where(rng.uniform(size=n) < 0.35, 1, 2).astype(float)
    for code in ("nt_phien_ha", "nt_tien_ngoai"):
        p1 = expit(1.0 + 0.5 * base)
        u = rng.uniform(size=n)
        answers[code] = np.where(u < p1, 1, np.where(u < p1 + (1 - p1) * 0.8, 2, 3)).astype(float)
    sat_codes = list(inst.satisfaction_items()["code"])
    expected = np.zeros(n)
    for code in sat_codes:
        a = rng.normal(np.log(0.82 / 0.18), 0.3)
        p = expit(a + base)
        expected += p
        u = rng.uniform(size=n)
        sat = u < p
        hi = rng.uniform(size=n) < 0.3
        low = rng.choice([3, 2, 1], size=n, p=[0.6, 0.3, 0.1])
        x = np.where(sat, np.where(hi, 5, 4), low).astype(float)
        answers[code] = x
    expected /= len(sat_codes)
    for k in range(1, 11):
        p_much = expit(0.8 - 0.3 * base)
        u = rng.uniform(size=n)
        answers[f"kv_{k}"] = np.where(u < p_much * 0.45, 1, np.where(u < p_much, 2, 3)).astype(
            float
        )
    # Filters: conditional questions left blank when they do not apply.
    for code in sat_codes:
        f = items.at[code, "filter_item"]
        if isinstance(f, str) and f:
            answers[code][answers[f] != 1] = np.nan
    # Don't know / no answer.
    for x in answers.values():
        dk = (rng.uniform(size=n) < 0.01) & ~np.isnan(x)
        x[dk] = rng.choice([98, 99], size=int(dk.sum()), p=[0.7, 0.3])

    # Truth per commune.
    w = df["weight"].to_numpy()
    tt = pd.DataFrame({"c": df["commune_code"], "w": w, "e": expected * w})
    agg = tt.groupby("c").agg(n=("w", "size"), w=("w", "sum"), e=("e", "sum"))
    truth = frame[["commune_code", "commune_name", "area_code", "area_name"]].copy()
    truth["planted"] = truth["commune_code"].isin(list(planted))
    truth["shift"] = truth["commune_code"].map(lambda c: planted.get(int(c), 0.0))
    truth["n"] = truth["commune_code"].map(agg["n"]).astype(int)
    truth["expected_satisfied_pct"] = truth["commune_code"].map(100 * agg["e"] / agg["w"])

    # The file's columns, in the order of the form.
    order = (
        [_SERVICE_FILTER, _PAKN_FILTER, "nt_phien_ha", "nt_tien_ngoai"]
        + sat_codes
        + [f"kv_{k}" for k in range(1, 11)]
    )
    order = sorted(order, key=lambda c: _question_sort_key(str(items.at[c, "question"])))
    long_headers: dict[str, str] = {}
    for k, code in enumerate(order):
        q = str(items.at[code, "question"])
        label = str(items.at[code, "label_vi"])
        if items.at[code, "confidence"] == "reconstructed":
            long_headers[code] = q  # the wording is not known: the number only
        else:
            long_headers[code] = _messy_header(q, label, k, rng)

    u = rng.uniform(size=n)
    commune_text = [_messy_commune(name, x) for name, x in zip(df["commune_name"], u, strict=True)]
    abbrev = {c: f"{i + 1:02d}" for i, c in enumerate(codes)}
    ids = [
        f"TN{abbrev[c]}-{j:03d}"
        for c, j in zip(df["commune_code"], df.groupby("commune_code").cumcount() + 1, strict=True)
    ]
    front = {
        "STT": np.arange(1, n + 1),
        "Mã phiếu": ids,
        "hoten": df["hoten"].tolist(),
        "Xã/Phường": commune_text,
        "Ấp/Khu phố": df["village"].tolist(),
        "Giới tính": df["sex"].to_numpy(),
        "Độ tuổi": df["age_band"].to_numpy(),
    }
    table = pd.DataFrame(front)
    for code in order:
        table[long_headers[code]] = pd.array(
            [None if np.isnan(v) else int(v) for v in answers[code]], dtype="Int64"
        )
    table["Trọng số"] = df["weight"].to_numpy()

    title = (
        f"KẾT QUẢ KHẢO SÁT SỰ HÀI LÒNG CỦA NGƯỜI DÂN (SIPAS) NĂM {year} - 19 XÃ, PHƯỜNG "
        "(ĐỊA BÀN LONG AN CŨ, TỈNH TÂY NINH)"
    )
    header_row: int | None
    labels: dict[str, str] = {}
    if fmt == "xlsx":
        header_row = _write_xlsx(table, path, title if title_rows else None, year)
        headers = dict(long_headers)
    elif fmt == "csv":
        header_row = _write_csv(table, path, title if title_rows else None)
        headers = dict(long_headers)
    else:
        header_row = None
        short = {
            "STT": "stt",
            "Mã phiếu": "maphieu",
            "hoten": "hoten",
            "Xã/Phường": "xa",
            "Ấp/Khu phố": "ap",
            "Giới tính": "gioitinh",
            "Độ tuổi": "dotuoi",
            "Trọng số": "trongso",
        }
        headers = {}
        for code in order:
            name = _short_name(str(items.at[code, "question"]))
            short[long_headers[code]] = name
            headers[code] = name
        labels = {short[h]: _cut_bytes(h, SAV_LABEL_BYTES) for h in table.columns}
        value_labels = {"gioitinh": {1: "Nam", 2: "Nữ"}}
        for code in order:
            vl = inst.value_labels(code)
            if vl:
                value_labels[headers[code]] = {int(k): str(v) for k, v in vl.items()}
        _write_sav(table.rename(columns=short), path, labels, value_labels)
    return FieldWave(
        path=path,
        fmt=fmt,
        truth=truth,
        headers=headers,
        labels=labels,
        personal_values=df["hoten"].tolist(),
        header_row=header_row,
        n_rows=n,
    )


def _question_sort_key(question: str) -> tuple[int, ...]:
    digits = question.replace("Câu", "").strip().split(".")
    return tuple(int(d) for d in digits if d.isdigit())


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------


def _cells(row) -> list:
    return [None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in row]


def _write_xlsx(table: pd.DataFrame, path: Path, title: str | None, year: int) -> int:
    import datetime as dt

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Tong hop")
    header_row = 1
    if title:
        ws.append([title])
        ws.append([])
        header_row = 3
    ws.append(list(table.columns))
    for row in table.itertuples(index=False):
        ws.append(_cells(row))
    stamp = dt.datetime(year, 11, 30, 12, 0, 0)
    wb.properties.creator = "Tổ khảo sát"
    wb.properties.created = stamp
    with atomic_path(path) as tmp:
        wb.save(tmp)
        _normalize_zip(tmp, stamp)
    return header_row


def _write_csv(table: pd.DataFrame, path: Path, title: str | None) -> int:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\r\n")
            if title:
                writer.writerow([title])
            writer.writerow(list(table.columns))
            for row in table.itertuples(index=False):
                writer.writerow(["" if v is None else v for v in _cells(row)])
    return 2 if title else 1


def _write_sav(table: pd.DataFrame, path: Path, labels: dict, value_labels: dict) -> None:
    import pyreadstat

    frame = table.copy()
    for c in frame.columns:
        if str(frame[c].dtype) == "Int64":
            frame[c] = frame[c].astype("float64")
    with atomic_path(path) as tmp:
        pyreadstat.write_sav(
            frame,
            str(tmp),
            column_labels=[labels.get(c) for c in frame.columns],
            variable_value_labels=value_labels,
        )
