"""The value labels of a draft: codes found in headers ("Giới tính (1=Nam, 2=Nữ)"), the plan of
the ``value_labels:`` block and the proposed age bands."""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from sipas_analysis.coerce import to_number, to_text
from sipas_analysis.errors import SipasError
from sipas_analysis.init_wave.reading import _Table
from sipas_analysis.waves import columns as wave_columns

__all__ = ["header_codes"]


def _q(value: object) -> str:
    """A YAML scalar on one line."""
    text = yaml.safe_dump(value, allow_unicode=True, width=10**6, default_flow_style=True)
    text = text.strip()
    return text[:-4].rstrip() if text.endswith("\n...") else text.removesuffix("...").strip()


#: "1=Nam, 2=Nữ", "1: Thành thị; 2: Nông thôn", "1=18-29 2=30-44" written in a header.
_HEADER_CODE = re.compile(
    r"(?<![\w.])(\d{1,2})\s*[=:]\s*([^,;()=]+?)\s*(?=[,;)]|\s+\d{1,2}\s*[=:]|$)"
)
#: Canonical column of a coded role, and the instrument item whose codes it shares.
_CODED_ROLES = (
    ("sex", "sex", "gioi_tinh"),
    ("urban_rural", "urban_rural", "khu_vuc"),
    ("age", "age_band", "nhom_tuoi"),
)


def header_codes(header: str) -> dict[int, str]:
    """Codes written in a header: "Giới tính (1=Nam, 2=Nữ)" -> {1: "Nam", 2: "Nữ"}.

    Examples
    --------
    >>> header_codes("Giới tính (1=Nam, 2=Nữ)")
    {1: 'Nam', 2: 'Nữ'}
    >>> header_codes("C9.1 - Thủ tục được niêm yết công khai")
    {}
    """
    found = {int(k): " ".join(v.split()) for k, v in _HEADER_CODE.findall(str(header))}
    return found if len(found) >= 2 else {}


@dataclass
class _Labels:
    """What the draft says about the codes of one coded column."""

    column: str  # canonical column: sex, urban_rural, age_band
    header: str
    labels: dict[int, str]  # code -> label as found (file, header or questionnaire)
    canonical: dict[int, object]  # code -> canonical label (Nam, 18-29 …) or None
    source: str
    active: bool  # written in value_labels: (else commented out)
    why: str


def _canonical_label(column: str, label: str) -> str | None:
    """The canonical word of a label ("nữ" -> "Nữ", "Đô thị" -> "Thành thị", "18–29" -> "18-29")."""
    code = wave_columns.canonical_code(column, label)
    if code is None or column == "age_band":
        return code
    return wave_columns.LABEL_CHOICES[column][int(code) - 1]


def _value_label_plan(inst, roles, items, table: _Table, missing: set[int]) -> list[_Labels]:
    """The codes of the coded columns (sex, urban/rural, age band): mapped when sure.

    A mapping is written in ``value_labels:`` when every code found in the column has a
    canonical label and the labels come from the header ("Giới tính (1=Nam, 2=Nữ)") or, for sex
    and urban/rural coded 1/2, from the questionnaire. Labels of a .sav/.dta file are used by the
    loader itself (a comment only). Otherwise — codes 1–5 of an age band without a codebook, whose
    questionnaire bands do not nest in 18-29/30-44/45-59/60+ — the proposal is commented out.
    """
    out: list[_Labels] = []
    by_header = {c.header: c for c in table.columns}
    done = set()
    for role, canon, item in _CODED_ROLES:
        r = roles.get(role)
        m = next((x for x in items if x.code == item and x.status == "matched"), None)
        if r is not None and role == "age" and not r.how.endswith("coded"):
            continue  # real ages: no codes
        header = r.column if r is not None else (m.column if m else None)
        col = by_header.get(header) if header else None
        if col is None or header in done:
            continue
        done.add(header)
        num = to_number(col.values)[0]
        if num.notna().sum() < 0.5 * to_text(col.values).notna().sum():
            continue  # words (Nam / Nữ): read as they are
        present = sorted(int(v) for v in num.dropna().unique() if v == int(v) and v not in missing)
        if col.value_labels:
            labels = {int(float(k)): str(v) for k, v in col.value_labels.items()}
            source, from_file = "the file's value labels", True
        elif header_codes(header):
            labels, source, from_file = header_codes(header), "written in the header", False
        else:
            try:
                labels = {k: v for k, v in inst.value_labels(item).items() if k not in missing}
            except SipasError:
                continue
            source = f"the questionnaire's codes (item {item}); no codebook in the file"
            from_file = False
        labels = {k: v for k, v in labels.items() if k not in missing}
        canonical = {k: _canonical_label(canon, v) for k, v in labels.items()}
        unlabelled = [k for k in present if canonical.get(k) is None]
        shown = ", ".join(map(str, present))
        if from_file:
            out.append(
                _Labels(
                    canon,
                    header,
                    labels,
                    canonical,
                    source,
                    False,
                    "the loader reads the file's value labels itself",
                )
            )
        elif not unlabelled and present and (source.startswith("written") or canon != "age_band"):
            out.append(
                _Labels(
                    canon, header, labels, canonical, source, True, f"codes in the file: {shown}"
                )
            )
        else:
            if canon == "age_band":
                why = (
                    f"KIỂM TRA / CHECK: codes {shown}; the questionnaire's bands do not nest in "
                    "18-29/30-44/45-59/60+: write each code's band from the codebook, set "
                    f"columns.age_band: {_q(header)}, then uncomment"
                )
            else:
                choices = ", ".join(wave_columns.LABEL_CHOICES[canon])
                why = (
                    f"KIỂM TRA / CHECK: codes {shown}, no label for "
                    f"{', '.join(map(str, unlabelled)) or 'them'}: write each code's label "
                    f"({choices}), then uncomment"
                )
            out.append(_Labels(canon, header, labels, canonical, source, False, why))
    return out


def _band_proposal(column: str, label: str) -> str:
    """A commented proposal for a label without a canonical word ("Trên 60 tuổi" -> "60+")."""
    if column != "age_band":
        return label
    over = re.match(r"^(?:trên|từ|>=?)\s*(\d{2})", wave_columns.nfc(label).strip().lower())
    return f"{over.group(1)}+" if over else wave_columns.band_name(label)


def _value_label_block(plan: list[_Labels]) -> list[str]:
    """``value_labels:`` lines: the sure mappings written, the others commented out."""
    if not plan:
        return []
    active = [p for p in plan if p.active]
    L = [
        "# Mã của các cột mã hoá / codes of the coded columns: the sure ones mapped, the others "
        "proposed in comments"
    ]
    L.append("value_labels:" if active else "# value_labels:")
    for p in active:
        body = ", ".join(f"{k}: {_q(p.canonical[k])}" for k in sorted(p.labels) if p.canonical[k])
        L.append(f"  {p.column}: {{{body}}}   # {_q(p.header)}: {p.source}; {p.why}")
    for p in plan:
        if p.active:
            continue
        L.append(f"#   {p.column}:   # {_q(p.header)}: {p.source}; {p.why}")
        for k in sorted(p.labels):
            canon = p.canonical[k]
            proposal = canon if canon is not None else _band_proposal(p.column, p.labels[k])

            L.append(f"#     {k}: {_q(proposal)}   # {p.labels[k]}")
    return L
