"""The draft wave config: :class:`Draft` and :func:`draft_config` (read, match, find the roles,
guess the boundary vintage) and the commented YAML it writes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sipas_analysis import geography
from sipas_analysis.coerce import to_number
from sipas_analysis.errors import SipasError
from sipas_analysis.init_wave.labels import _q, _value_label_block, _value_label_plan
from sipas_analysis.init_wave.matching import ItemMatch, _match_items
from sipas_analysis.init_wave.reading import read_columns
from sipas_analysis.init_wave.roles import _find_roles, _label_keys, _texts
from sipas_analysis.instruments import INDEX_ROLE
from sipas_analysis.waves import config as wave_config

__all__ = ["Draft", "draft_config"]


# The draft
# ---------------------------------------------------------------------------------------------


@dataclass
class Draft:
    """A drafted wave config.

    Attributes
    ----------
    text : str
        The commented YAML.
    items : list of ItemMatch
        One per instrument item, in the instrument's order.
    roles : dict
        Canonical column (``commune``, ``village``, ``weight``, ``sex``, ``age``, ``respondent_id``
        …) -> (header, how found).
    personal : list of (header, how)
        Columns listed under ``personal_columns``.
    vintage : str or None
    header_row : int or None
    exit_code : int
        0 every index item matched and nothing ambiguous; 1 otherwise.
    problems : list of str
        Why the exit code is 1 (bilingual lines).
    """

    text: str
    items: list[ItemMatch]
    roles: dict[str, tuple[str, str]]
    personal: list[tuple[str, str]]
    vintage: str | None
    header_row: int | None
    exit_code: int
    problems: list[str] = field(default_factory=list)

    def table(self) -> str:
        """The item → column → how matched table, as printed by ``sipas init-wave``."""
        lines = [f"{'câu / item':<22} {'trạng thái / status':<10} {'cột / column':<62} cách / how"]
        for m in self.items:
            col = m.column or ("; ".join(f"{h[:28]} ({s:.2f})" for h, s in m.candidates[:2]) or "—")
            col = col if len(col) <= 60 else col[:59] + "…"
            lines.append(f"{m.code:<22} {m.status:<10} {col:<62} {m.how}")
        return "\n".join(lines)


def draft_config(
    data_file: str | Path,
    instrument: str,
    wave: str,
    vintage: str | None = None,
    out: str | Path | None = None,
    sheet: str | None = None,
) -> Draft:
    """Draft the wave config of a data file (see the module docstring).

    Parameters
    ----------
    data_file : str or Path
        The field file (.xlsx, .csv, .sav, .dta); read, never written.
    instrument : str
        Instrument name (``sipas-2022``, …).
    wave : str
        Wave label, e.g. ``"2026"``.
    vintage : {"pre2025", "2025"}, optional
        Boundary vintage; default guessed from the commune names.
    out : str or Path, optional
        Where the config will be written: ``file:`` is made relative to its folder. Default: the
        current folder.
    sheet : str, optional
        xlsx sheet; default the sheet holding the most data.

    Returns
    -------
    Draft

    Raises
    ------
    SipasError
        Unusable input: the file cannot be read or has no header or data, unknown instrument or
        vintage.
    """
    data_file = Path(data_file)
    if vintage is not None and vintage not in geography.VINTAGES:
        raise SipasError(
            f"địa giới không hợp lệ {vintage!r} (dùng {', '.join(geography.VINTAGES)}) / unknown "
            f"boundary vintage {vintage!r} (use {', '.join(geography.VINTAGES)})"
        )
    inst = wave_config.load_instrument(None, instrument)
    table = read_columns(data_file, sheet=sheet)
    n = table.n_rows
    items = _match_items(table, inst)
    item_pos = {m.position for m in items if m.position is not None}
    found = _find_roles(table, item_pos, vintage, n)
    roles, personal, vintage, vintage_how, notes, doubts = found
    # Personal columns never carry items.
    personal_headers = {p.column for p in personal}
    for m in items:
        if m.column in personal_headers:
            m.status, m.how, m.column, m.position = "ambiguous", "personal column", None, None

    index_role = INDEX_ROLE.get(inst.survey, "satisfaction")
    problems = list(doubts)
    bad = [m for m in items if m.status == "ambiguous"]
    missing = [m for m in items if m.status == "unmatched" and m.role == index_role]
    if bad:
        problems.append(
            f"{len(bad)} câu không chắc chắn / ambiguous item(s): " + ", ".join(m.code for m in bad)
        )
    if missing:
        problems.append(
            f"{len(missing)} câu chỉ số không tìm thấy / index item(s) not found: "
            + ", ".join(m.code for m in missing)
        )
    if "respondent_id" not in roles:
        notes.append(
            "không có cột mã phiếu (giá trị không trùng) / no respondent id column (unique "
            "values): respondent_id: null, the row number in the file is the id"
        )
    if "commune" not in roles and "commune_code" not in roles:
        problems.append(
            "không tìm thấy cột xã/phường / no commune column found (names or GSO codes)"
        )
    if vintage is None:
        problems.append("không xác định được địa giới / boundary vintage unknown: use --vintage")
    if "weight" not in roles:
        notes.append(
            "không tìm thấy cột trọng số / no weight column found: weight: null means every "
            "respondent weighs 1 (write the column if the file has one)"
        )

    out_path = Path(out) if out is not None else Path.cwd() / f"{inst.survey}-{wave}.yaml"
    rel = Path(os.path.relpath(data_file.resolve(), out_path.resolve().parent)).as_posix()
    text = _render(
        data_file,
        rel,
        inst,
        str(wave),
        vintage,
        vintage_how,
        table,
        items,
        roles,
        personal,
        notes,
        problems,
    )
    return Draft(
        text=text,
        items=items,
        roles={k: (r.column, r.how) for k, r in roles.items()},
        personal=[(p.column, p.how) for p in personal],
        vintage=vintage,
        header_row=table.header_row,
        exit_code=1 if problems else 0,
        problems=problems,
    )


def _render(
    data_file, rel, inst, wave, vintage, vintage_how, table, items, roles, personal, notes, problems
) -> str:
    L: list[str] = []
    L += [
        f"# Bản nháp cấu hình đợt khảo sát / draft wave config for {data_file.name},",
        f"# written by `sipas init-wave` from the file as it is ({table.n_rows} rows, "
        f"{len(table.columns)} columns). Every guess says how it was made (comments).",
        "# Check it, then: sipas validate THIS_FILE.yaml. Paths are relative to this file.",
    ]
    for p in problems:
        L.append(f"# KIỂM TRA / CHECK: {p}")
    for note in notes + table.notes:
        L.append(f"# Ghi chú / note: {note}")
    L += [
        f"wave: {_q(wave)}",
        f"survey: {inst.survey}",
        f"instrument: {inst.name}",
        f"boundary_vintage: {_q(vintage)}   # {vintage_how}",
        "fieldwork:   # ngày khảo sát / fieldwork dates: fill in (YYYY-MM-DD)",
        "  start: null",
        "  end: null",
        f"file: {_q(rel)}",
        f"format: {table.fmt}",
    ]
    if table.sheet is not None:
        L.append(f"sheet: {_q(table.sheet)}   # the sheet holding the data")
    if table.encoding is not None:
        L.append(f"encoding: {table.encoding}   # detected")
    if table.header_row is not None and table.header_row != 1:
        L.append(
            f"header_row: {table.header_row}   # dòng tiêu đề cột / the header is row "
            f"{table.header_row} of the file (title rows above it)"
        )
    found = sorted(
        {
            int(v)
            for m in items
            if m.position is not None
            for v in to_number(table.columns[m.position].values)[0].dropna().unique()
            if v in (98, 99)
        }
    )
    plan = _value_label_plan(inst, roles, items, table, set(found or [98, 99]))
    band = next((p for p in plan if p.column == "age_band" and p.active), None)
    L.append(
        f"missing_codes: {_q(found or [98, 99])}   # "
        + (
            f"found in the item columns ({', '.join(map(str, found))})"
            if found
            else "the instrument's default (none found in the file)"
        )
    )
    if personal:
        L.append("personal_columns:   # dropped at load, never reach an output")
        for p in personal:
            L.append(f"- {_q(p.column)}   # {p.how}")
    else:
        L.append("personal_columns: []   # none recognised")

    def col_line(key: str, role: str | None = None, comment_missing: str = "not found") -> str:
        r = roles.get(role or key)
        if r is None:
            return f"  {key}: null   # {comment_missing}"
        return f"  {key}: {_q(r.column)}   # {r.how}"

    L.append("columns:")
    L.append(
        col_line(
            "respondent_id",
            comment_missing="no column of unique values: the id is the row number in the file "
            "(duplicates not checked); name the id column here if the file has one",
        )
    )
    L.append(col_line("commune", comment_missing="KIỂM TRA / CHECK: no column of commune names"))
    L.append(col_line("commune_code", comment_missing="no column of GSO codes"))
    L.append(col_line("village", comment_missing="no village column"))
    L.append(col_line("sex", comment_missing="no sex column"))
    age = roles.get("age")
    nhom = next((m for m in items if m.code == "nhom_tuoi" and m.status == "matched"), None)
    if band is not None:
        L.append(f"  age: null   # {_q(band.header)} holds coded bands")
        L.append(f"  age_band: {_q(band.header)}   # bands {band.source}: see value_labels")
    elif age is not None and age.how.endswith("coded"):
        L.append(
            "  age: null   # "
            + (
                f"{_q(age.column)} holds coded bands, mapped as item nhom_tuoi"
                if nhom and nhom.column == age.column
                else f"{_q(age.column)} holds codes 1–6 without a codebook: not used as age"
            )
        )
        L.append(
            "  age_band: null   # the form's bands do not nest in the canonical 18-29/30-44/…: "
            "see value_labels below"
        )
    else:
        L.append(col_line("age", comment_missing="no age column"))
        L.append("  age_band: null")
    L.append(col_line("urban_rural", comment_missing="no urban/rural column"))

    L.append("design:")
    L.append(col_line("weight", comment_missing="KIỂM TRA / CHECK: no weight column (weights = 1)"))
    L.append(col_line("strata", comment_missing="no stratum column: one stratum"))
    if "psu" in roles:
        L.append(col_line("psu"))
    elif "village" in roles and ("commune" in roles or "commune_code" in roles):
        ccol = (roles.get("commune") or roles["commune_code"]).column
        vcol = roles["village"].column
        vt = _label_keys(_texts(next(c for c in table.columns if c.header == vcol)))
        ct = _texts(next(c for c in table.columns if c.header == ccol))
        recur = pd.DataFrame({"v": vt, "c": ct}).dropna().groupby("v")["c"].nunique()
        k = int((recur > 1).sum())
        L.append(
            f"  psu: {_q(vcol)}   # no PSU code: PSU = commune × village — the village labels, "
            "nested within the resolved commune (nest_psu: true)"
            + (f"; {k} village labels recur in several communes" if k else "")
        )
        L.append("  nest_psu: true   # a village label is a PSU within its commune only")
    else:
        L.append("  psu: null   # no PSU code and no village column: respondents are the PSUs")
    L.append("  fpc: null")

    L += _value_label_block(plan)

    L.append("items:")
    for m in items:
        if m.status == "matched":
            L.append(f"  {m.code}: {_q(m.column)}   # {m.how}")
        elif m.status == "ambiguous":
            cands = "; ".join(f"{_q(h)} ({s:.2f})" for h, s in m.candidates[:3])
            L.append(f"  # {m.code}: ?   # KIỂM TRA / CHECK: {m.how}; candidates: {cands}")
        else:
            cands = "; ".join(f"{_q(h)} ({s:.2f})" for h, s in m.candidates[:3])
            L.append(
                f"  # {m.code}:   # không có trong tệp / not in the file"
                + (f"; nearest: {cands}" if cands else "")
            )
    used = {m.column for m in items if m.column} | {r.column for r in roles.values()}
    used |= {p.column for p in personal}
    extra = [c.header for c in table.columns if c.header and c.header not in used]
    if extra:
        L.append("# Cột không dùng / columns not used:")
        L += [f"#   {_q(h)}" for h in extra]
    return "\n".join(L) + "\n"
