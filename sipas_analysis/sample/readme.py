"""The README of the sample folder: files, planted effects and planted problems, in Markdown."""

from __future__ import annotations

import pandas as pd

from sipas_analysis.sample.people import _frame
from sipas_analysis.sample.wave import WaveSample, _truth_rows
from sipas_analysis.sample.writing import _short

__all__: list[str] = []


# ---------------------------------------------------------------------------------------------
# README
# ---------------------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _readme(
    spec: dict, seed: int, summary: pd.DataFrame, built: list[WaveSample], mess: pd.DataFrame
) -> str:
    lines: list[str] = ["# data/sample — bộ dữ liệu mẫu / synthetic sample waves", ""]
    lines += spec.get("readme_intro", "").strip().splitlines() + [""]
    lines += [f"Base seed: `{seed}`. Specification: `sipas_analysis/sample_spec.yaml`.", ""]
    lines += ["## Files", ""]
    lines += [
        "| wave | survey | instrument | vintage | file | format | rows | columns | config |",
        "|---|---|---|---|---|---|---:|---:|---|",
    ]
    for r in summary.itertuples():
        enc = next(w for w in spec["waves"] if w["id"] == r.wave_id).get("encoding", "")
        fmt = f"{r.format} ({enc})" if enc else r.format
        lines.append(
            f"| {r.wave} | {r.survey} | {r.instrument} | {r.boundary_vintage} | `{r.file}` | {fmt} "
            f"| {r.rows} | {r.columns} | `waves/{r.config}` |"
        )
    lines += [
        "",
        "Also here: `planted_truth.csv` (true value per wave × commune × index node — part, "
        "element, dimension, sub-dimension: SIPAS = true top-2 share 0–1, equal for every item "
        "of the element; PAPI = true mean of the rescaled indicators 0–1, positive direction) and "
        "`planted_mess.csv` (every planted invalid row: wave, file, kind, source_row, respondent "
        "id, header, value; plus one `missing_code` row per item column and code with its cell "
        "count). Row numbers follow the canonical table's `source_row`: header = row 1 in "
        ".csv/.xlsx (first data row = 2); record number (first record = 1) in .sav/.dta.",
        "",
        "Layouts: `.csv`/`.xlsx` have Vietnamese headers (`Mã phiếu`, `Xã/Phường/Thị trấn`, "
        "`Giới tính`, `Câu N. <câu hỏi>` ...) and commune NAMES; `.sav`/`.dta` have short ASCII "
        "variable names (`maphieu`, `maxa`, `q1` ...) with Vietnamese variable labels, value labels, "
        "and commune GSO CODES (`maxa`). Every file has the personal columns `Họ và tên`/`hoten`, "
        "`Số điện thoại`/`dienthoai` (and `Địa chỉ` in .csv/.xlsx) with invented content: loading "
        "must drop them.",
        "",
    ]
    # design
    d = spec["designs"]
    demo = spec["demographics"]
    lines += ["## Design", ""]
    lines += [
        "- Strata = the four areas (`Tầng` = old district code 794 Tân An, 798 Mộc Hóa incl. Kiến "
        "Tường, 800 Thạnh Hóa, 802 Đức Hòa; 2025: the area of the new commune). PSU = village "
        "(`Mã ấp` = `<commune code>-<village no>`, names like `Ấp 3` in a xã, `Khu phố 2` in a "
        "phường/thị trấn).",
        f"- SIPAS waves: every commune of the vintage (60 pre-2025, 19 in 2025). Each commune has a "
        f"synthetic frame of M villages (M = adults/{d['sipas']['villages_in_commune']['per_adults']}"
        f", clipped to {d['sipas']['villages_in_commune']['min']}–"
        f"{d['sipas']['villages_in_commune']['max']}; adults = {demo['adult_share']} × 2019 census "
        f"population; village sizes lognormal, σ = {d['sipas']['village_size_sigma']}); "
        f"{d['sipas']['villages_taken']['min']}–{d['sipas']['villages_taken']['max']} villages by "
        "simple random sampling; respondents per commune uniform in "
        f"{d['sipas']['respondents_per_commune']['pre2025']} (pre-2025) or "
        f"{d['sipas']['respondents_per_commune']['2025']} (2025), split evenly over the villages.",
        "- SIPAS weight = (M / m) × (village adults / village respondents) × nonresponse factor "
        f"(lognormal, σ = {d['sipas']['nonresponse_sigma']}) — inverse inclusion probability, "
        "unequal within and between communes.",
        f"- PAPI waves (PAPI's published sampling, papi.org.vn): {d['papi']['areas_taken']} areas a year, Tân An "
        "(794) always, the others by systematic PPS on 2019 population (an area whose PPS "
        "probability exceeds 1 is taken with certainty); "
        f"{d['papi']['communes_per_area']} communes per area (the district seat with certainty "
        "— assumed seats: "
        + ", ".join(f"{a}: {c}" for a, c in d["papi"]["seat_commune"].items())
        + " — plus 1 by PPS); "
        f"{d['papi']['villages_per_commune']} villages per commune by PPS; "
        f"{d['papi']['respondents_per_village']} respondents per village (enlarged from PAPI's ~20 "
        f"so commune and sub-dimension estimates are usable), aged 18–{d['papi']['age_max']}. "
        "Weight = 1 / (π_area · π_commune · π_village) × village adults / respondents.",
        f"- Demography: sex male with probability {demo['male_share']} (assumption close to the "
        "2019 census adult sex ratio); age band 18–29 / 30–44 / 45–59 / 60+ with shares "
        + " / ".join(str(b["share"]) for b in demo["age_bands"])
        + " (plausible national adult shares, 2019 census), age uniform inside the band; urban "
        "(`Khu vực` = 1) with probability = the commune's 2019 census urban share, else 2.",
        "",
    ]
    for ws in built:
        if ws.selection:
            names = _frame("pre2025").set_index("commune_code")["commune_name"]
            areas = ", ".join(f"{a} (π = {p:.3f})" for a, p in ws.selection["areas"].items())
            comms = ", ".join(
                f"{names[c]} {c} (π = {p:.3f})" for c, p in ws.selection["communes"].items()
            )
            lines.append(f"- {ws.wave['id']}: areas {areas}; communes {comms}.")
    lines.append("")
    # truth
    lines += _readme_truth(spec, built)
    lines += _readme_mess(spec, built, mess)
    lines += [
        "## Regenerating",
        "",
        "`sipas make-sample` (or `make sample`) rewrites this folder and `waves/`. "
        "`tests/test_sample.py` regenerates into a temporary folder and checks that every file "
        "reads back equal to the committed one, that the seed decides the data, that every wave "
        "config matches its file, and that the planted effects show in the raw data.",
        "",
    ]
    return "\n".join(lines)


def _readme_truth(spec: dict, built: list[WaveSample]) -> list[str]:
    st = spec["sipas_truth"]
    lines = ["## Planted truth (true values the answers are drawn from)", ""]
    sa = spec["sipas_answers"]
    lines += [
        "SIPAS answer model: each satisfaction item of a respondent is in the top box (4 or 5) with "
        "probability exactly equal to its TRUE value p (Gaussian copula with a person factor, "
        f"ρ = {sa['r_person']}, and an element factor, ρ = {sa['r_node']}, so items are "
        f"correlated); among the satisfied 5 with share {sa['share_5_among_satisfied']}; among the "
        f"others 3 / 2 / 1 with shares {sa['shares_among_unsatisfied']}. Filter questions: "
        f"share answering 'yes' {sa['other_roles']['filter']['yes_share']} "
        f"(by item: {sa['other_roles']['filter'].get('by_item', {})}); items a filter skips are "
        f"blank. Codes 98/99 replace {sa['missing_share']:.0%} of the answers (filter and "
        "demographic items excepted; shares "
        f"{sa['missing_split']}). p = base(node) + common "
        "trend + planted effects, in percent below:",
        "",
        "| instrument | "
        + " | ".join(
            k for k in ("default", "chinh_sach", "tiep_can", "tthc", "cong_chuc", "ket_qua", "pakn")
        )
        + " |",
        "|---|" + "---:|" * 7,
    ]
    for inst, base in st["base"].items():
        vals = [
            (_pct(base[k]) if k in base else "—")
            for k in ("default", "chinh_sach", "tiep_can", "tthc", "cong_chuc", "ket_qua", "pakn")
        ]
        lines.append(f"| {inst} | " + " | ".join(vals) + " |")
    lines += [
        "",
        "Common trend (added everywhere, percentage points): "
        + ", ".join(f"{w}: {100 * float(v):+.1f}" for w, v in st["trend"].items())
        + ". Pure noise everywhere else: apart from the effects below, every commune has the same "
        "true value in a wave; all differences between other communes are sampling noise.",
        "",
        "| effect | where | nodes | waves | true difference (points) |",
        "|---|---|---|---|---:|",
    ]
    old = _frame("pre2025").set_index("commune_code")
    for e in st["effects"]:
        where = (
            f"area {e['area_code']}"
            if "area_code" in e
            else f"{old.loc[e['commune_code'], 'commune_name']} ({e['commune_code']})"
        )
        lines.append(
            f"| `{e['id']}`: {e['what']} | {where} | {', '.join(e['nodes'])} | "
            f"{', '.join(map(str, e['waves']))} | {100 * float(e['delta']):+.1f} |"
        )
    lines += [
        "",
        "True values of the planted cells (percent top-2 share; element = mean of its items):",
        "",
        "| wave | commune / area | node | true value | elsewhere (same wave) |",
        "|---|---|---|---:|---:|",
    ]
    for ws in built:
        if ws.wave["survey"] != "sipas":
            continue
        nodes = _truth_rows(ws)
        nodes = nodes[nodes["level"] == "node"]
        typical = nodes.groupby("node")["truth"].median()
        frame = _frame(ws.wave["boundary_vintage"]).set_index("commune_code")
        odd = nodes[(nodes["truth"] - nodes["node"].map(typical)).abs() > 1e-9]
        for r in odd.sort_values(["commune_code", "node"]).itertuples():
            lines.append(
                f"| {ws.wave['id']} | {frame.loc[r.commune_code, 'commune_name']} ({r.commune_code}, "
                f"area {frame.loc[r.commune_code, 'area_code']}) | {r.node} | {_pct(r.truth)} | "
                f"{_pct(typical[r.node])} |"
            )
    lines += [
        "",
        "In the 2025 wave (new communes) the truth of a new commune is the 2019-population-weighted "
        "mean of its in-scope old constituents' truths (Xã Đức Hòa Thượng split by the crosswalk "
        "shares), so the effects carry over diluted by the merge, as listed above.",
        "",
    ]
    pt = spec["papi_truth"]
    lines += [
        "PAPI answer model: each indicator on its natural scale [a, b] is drawn so that the mean of "
        "its rescaled value (x − a)/(b − a), in its positive direction, equals the TRUE value z "
        "(answer codes c_1 < … < c_m: code index ~ Binomial(m − 1, r) with r chosen so that the "
        "mean is a + z(b − a), z replaced by 1 − z for a negative indicator; binary 0/1 items: "
        "share of 1 = z; continuous answers are whole numbers: on the integer grid inside [a, b] "
        "the same way, or a + (b − a)·Beta(6z, 6(1 − z)) rounded for wide ranges such as "
        "amounts in thousand VND). Where the codes cannot reach the target (the km item: "
        "whole km in [0.7, 2.0]) the truth listed is the one actually drawn from. Gaussian "
        f"copula with a person factor ρ = {pt['papi_answers']['r_person']}. Filter questions: "
        f"share answering 'yes' {pt['papi_answers']['filter_yes_share']}; items skipped by a "
        "filter are blank. True sub-dimension score = 1/K + (9/K)·z̄ (z̄ = mean over its "
        "indicators with weight > 0; K = number of sub-dimensions of its dimension that year). "
        "z = base(node) + effects:",
        "",
        "| node | " + " | ".join(str(k) for k in pt["base"]) + " |",
        "|---|" + "---:|" * len(pt["base"]) + "",
        "| base z | " + " | ".join(f"{float(v):.2f}" for v in pt["base"].values()) + " |",
        "",
        "| effect | nodes | waves | Δz |",
        "|---|---|---|---:|",
    ]
    for e in pt["effects"]:
        lines.append(
            f"| `{e['id']}`: {e['what']} | {', '.join(e['nodes'])} | "
            f"{', '.join(map(str, e['waves']))} | {float(e['delta']):+.2f} |"
        )
    lines += ["", "True PAPI scores (the same in every selected commune):", ""]
    lines += [
        "| wave | "
        + " | ".join(f"d{i}" for i in range(1, 9))
        + " | total | planted sub-dimensions |"
    ]
    lines += ["|---|" + "---:|" * 9 + "---|"]
    from sipas_analysis.instruments import load_instrument

    for ws in built:
        if ws.wave["survey"] != "papi":
            continue
        inst = load_instrument(ws.wave["instrument"])
        subs = inst.nodes_at("subdimension", int(ws.wave["wave"]))
        nodes = _truth_rows(ws)
        nodes = nodes[nodes["level"] == "node"].groupby("node")["truth"].mean()
        dims = {}
        notes = []
        for s in subs.itertuples():
            if s.code not in nodes.index:
                continue
            score = 1.0 / s.k + 9.0 / s.k * nodes[s.code]
            dims[s.parent] = dims.get(s.parent, 0.0) + score
            if any(
                (s.code in e["nodes"] or s.parent in e["nodes"])
                and str(ws.wave["wave"]) in map(str, e["waves"])
                for e in pt["effects"]
            ):
                notes.append(f"{s.code} = {score:.4f} (z = {nodes[s.code]:.2f})")
        total = sum(dims.values())
        lines.append(
            f"| {ws.wave['id']} | "
            + " | ".join(f"{dims.get(f'd{i}', float('nan')):.4f}" for i in range(1, 9))
            + f" | {total:.4f} | {'; '.join(notes)} |"
        )
    lines.append("")
    return lines


def _readme_mess(spec: dict, built: list[WaveSample], mess: pd.DataFrame) -> list[str]:
    lines = ["## Planted mess (exact counts and rows)", ""]
    lines += [
        "Valid but untidy (loading must cope, not reject): codes 98 (Không biết) / 99 (Không trả "
        "lời) in item columns; commune names in another tone-mark style (`Hoà`, `Thuỷ`), with a "
        "lower-case prefix (`xã`, `phường`, `thị trấn`), with extra spaces, or in Unicode NFD; "
        "`Phường 1/2/3` exist in both Tân An (794) and Kiến Tường (area 798): the stratum settles "
        "them. `papi_2022.csv` is Windows-1258 (tone marks as combining characters, CRLF).",
        "",
        "| wave | 98 cells | 99 cells | Hoà-style names | lower-case prefix | extra spaces | NFD |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for ws in built:
        m = mess[mess["wave_id"] == ws.wave["id"]]
        mc = m[m["kind"] == "missing_code"]
        c98 = int(mc.loc[mc["value"] == 98, "note"].str.split().str[0].astype(int).sum())
        c99 = int(mc.loc[mc["value"] == 99, "note"].str.split().str[0].astype(int).sum())
        cnt = {
            k: int((ws.mess["kind"] == f"name_{k}").sum())
            for k in ("hoa_old_style", "lower_prefix", "extra_spaces", "nfd")
        }
        lines.append(
            f"| {ws.wave['id']} | {c98} | {c99} | {cnt['hoa_old_style']} | {cnt['lower_prefix']} | "
            f"{cnt['extra_spaces']} | {cnt['nfd']} |"
        )
    lines += [
        "",
        "(Counts are rows; a name can carry several variants at once. All these names resolve "
        "to their commune.)",
        "",
        "Invalid rows that validation must report (source row numbers as defined above):",
        "",
        "| wave | file | problem | source row | respondent id | column | value | note |",
        "|---|---|---|---:|---|---|---|---|",
    ]
    bad = mess[~mess["kind"].str.startswith("name_") & (mess["kind"] != "missing_code")]
    for r in bad.itertuples():
        lines.append(
            f"| {r.wave_id} | `{r.file}` | {r.kind} | {r.source_row} | {r.respondent_id} | "
            f"{_short(r.header, 40)} | {r.value} | {r.note} |"
        )
    counts = bad[bad["kind"] != "duplicate_id_first"].groupby("wave_id").size()
    lines += [
        "",
        "Invalid rows per wave (duplicate ids counted once, on the second row): "
        + ", ".join(f"{w}: {int(n)}" for w, n in counts.items())
        + ".",
        "",
    ]
    return lines
