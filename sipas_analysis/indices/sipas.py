"""SIPAS indices of one wave: items, elements, parts, overall, perception and expectation.

From the canonical respondent table of a wave (:func:`sipas_analysis.waves.read_wave`) and its
instrument (:mod:`sipas_analysis.instruments`) this module builds the long estimates table
(``survey, wave, instrument, level, unit_code, unit_name, area_code, boundary_vintage, subgroup,
index_level, index_code, label_vi, estimate, se, ci_low, ci_high, ci_level, n, flag`` + extras) at
commune, area, whole-survey-area and subgroup level. Every standard error and interval comes from
the design-based engine (:mod:`sipas_analysis.estimate`): items in one vectorised pass over the full
design (domain estimation, rows are never filtered), composites (element = mean of items, part =
mean of elements, overall = mean of parts or elements) by linearisation with the covariance
between items (:func:`~sipas_analysis.estimate.composite_mean`).

Rules whose official form is not published (docs/methodology.md §2, column "status": inferred / unknown) are
named options of :class:`SipasOptions`, with the default documented there. The definition of
"satisfied" (top box) is read from the instrument, never written here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from sipas_analysis.design import LONELY_PSU_RULES
from sipas_analysis.errors import SipasError
from sipas_analysis.estimate import (
    CI_METHODS,
    DF_RULES,
    MIN_N,
    SMALL_N,
    estimate_levels,
)
from sipas_analysis.indices.common import (
    ELEMENT_RULES,
    ESTIMATE_COLUMNS,
    EXTRA_COLUMNS,
    ITEM_STATISTICS,
    LEVEL_COLUMNS,
    OVERALL_CODE,
    OVERALL_LABEL,
    OVERALL_RULES,
    SUBGROUP_COLUMNS,
    TOTAL_NAME,
    IndexWarning,
    apply_filter,
    base_frame,
    check_choice,
    engine_kwargs,
    inherit_member_flags,
    item_answers,
    level_spec,
    quiet_composite,
    resolve_instrument,
    sort_table,
    to_rows,
    top_share,
    valid_in_year,
    warn_filtered,
    wave_meta,
)
from sipas_analysis.instruments import Instrument

__all__ = [
    "ESTIMATE_COLUMNS",
    "LEVEL_COLUMNS",
    "SUBGROUP_COLUMNS",
    "TOTAL_NAME",
    "IndexWarning",
    "SipasOptions",
    "sipas_indices",
]


@dataclass(frozen=True)
class SipasOptions:
    """Choices behind the SIPAS indices; each unpublished rule is a named option.

    Attributes
    ----------
    item_statistic : {"top2", "mean_score_0_100"}
        Item (criterion) index. ``"top2"`` (default, [inferred] from releases: "X% hài lòng và rất
        hài lòng"): weighted share of valid answers in the scale's ``top_box`` (read from the
        instrument; 4 or 5 on ``likert5``), in percent. ``"mean_score_0_100"``: weighted mean of
        the answers rescaled to 0–100, :math:`100\\,(x-a)/(b-a)` on the natural scale [a, b].
    element_rule : {"mean_of_items", "respondent_mean"}
        Element index ([unknown]). ``"mean_of_items"`` (default): the unweighted mean of the
        element's item indices in the domain. ``"respondent_mean"``: each respondent's mean over
        the element's items he or she answered, then the weighted mean over respondents with at
        least one valid answer (conditional items then weigh by who answers them).
    overall_rule : {"mean_of_parts", "mean_of_elements"}
        Overall SIPAS ([unknown]). ``"mean_of_parts"`` (default): for instruments with parts
        (``sipas-2022``: policy ``chinh_sach`` and service ``dich_vu``) each part is the mean of
        its elements and SIPAS the mean of the parts; without parts (``sipas-2017``) the mean of
        the elements. ``"mean_of_elements"``: SIPAS is the mean of all elements (parts are still
        reported as the mean of their elements).
    apply_filters : bool
        Default True: an answer to a conditional item (``filter`` in the instrument) given by a
        respondent whose filter answer says it does not apply is set to missing (counted in an
        :class:`IndexWarning`); a missing filter answer keeps the item's answer.
    include_perception, include_expectation : bool
        Add perception indices (weighted share of the positive answer, the item's ``top_box``)
        and expectation indices (share "rất nhiều"/"nhiều", the scale's ``top_box``). Default
        True.
    lonely_psu : str
        Rule for strata with one PSU (``"adjust"`` default, R's conservative choice; see
        :func:`sipas_analysis.design.survey_design`).
    ci_level : float
        Confidence level (0.95).
    ci_method : {"logit", "korn-graubard"}
        Interval for shares (logit default; stays inside [0, 100]).
    df : {"design", "domain"}
        Degrees of freedom of intervals (design default).
    small_n, min_n : int
        ``flag = "small_n"`` when n < small_n (30), ``"suppressed"`` when n < min_n (10): the row
        is kept, but its estimate must not be shown.
    """

    item_statistic: str = "top2"
    element_rule: str = "mean_of_items"
    overall_rule: str = "mean_of_parts"
    apply_filters: bool = True
    include_perception: bool = True
    include_expectation: bool = True
    lonely_psu: str = "adjust"
    ci_level: float = 0.95
    ci_method: str = "logit"
    df: str = "design"
    small_n: int = SMALL_N
    min_n: int = MIN_N

    def __post_init__(self) -> None:
        check_choice("item_statistic", self.item_statistic, ITEM_STATISTICS)
        check_choice("element_rule", self.element_rule, ELEMENT_RULES)
        check_choice("overall_rule", self.overall_rule, OVERALL_RULES)
        check_choice("lonely_psu", self.lonely_psu, LONELY_PSU_RULES)
        check_choice("ci_method", self.ci_method, CI_METHODS)
        check_choice("df", self.df, DF_RULES)
        if not 0 < self.ci_level < 1:
            raise SipasError(f"ci_level must lie strictly between 0 and 1, not {self.ci_level!r}")
        if not 0 < self.min_n <= self.small_n:
            raise SipasError("options need 0 < min_n <= small_n")

    def as_dict(self) -> dict:
        """The options as a plain dict (for a run manifest)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# SIPAS
# --------------------------------------------------------------------------------------------
def _scale_range(inst: Instrument, item: pd.Series) -> tuple[float, float]:
    a, b = item.get("scale_min"), item.get("scale_max")
    scale = inst.scales[item["scale"]]
    a = scale.scale_min if a is None or pd.isna(a) else a
    b = scale.scale_max if b is None or pd.isna(b) else b
    return float(a), float(b)


def sipas_indices(
    respondents: pd.DataFrame,
    instrument: Instrument | str | None = None,
    *,
    levels: Sequence[str] = ("commune", "area", "total"),
    subgroups: Sequence[str] = SUBGROUP_COLUMNS,
    subgroup_within: Sequence[str] = ("total",),
    options: SipasOptions | None = None,
) -> pd.DataFrame:
    """SIPAS indices of one wave with design-based SEs and CIs, as the long estimates table.

    Parameters
    ----------
    respondents : pandas.DataFrame
        The canonical respondent table of ONE wave (``waves.read_wave(...).respondents``): design
        columns ``weight, stratum, psu`` (``fpc`` optional), domain columns ``commune_code,
        area_code`` and the subgroup columns, and one column per instrument item (answer codes,
        NA = no valid answer). Not modified.
    instrument : Instrument or str, optional
        The instrument (or its name); default: the table's ``instrument`` column.
    levels : sequence of {"commune", "area", "total"}
        Geographic levels to estimate.
    subgroups : sequence of str
        Subgroup columns (default ``sex, age_band, urban_rural``), each a level ``"subgroup"``
        with ``subgroup = "<column>=<value>"``.
    subgroup_within : sequence of {"total", "area", "commune"}
        Units the subgroups are crossed with (default the whole survey area only).
    options : SipasOptions, optional
        The rules (see :class:`SipasOptions` for the defaults).

    Returns
    -------
    pandas.DataFrame
        One row per (unit, subgroup, index): the estimates-table columns
        (:data:`ESTIMATE_COLUMNS`) then ``role`` (satisfaction / perception / expectation),
        ``parent_code``, ``statistic``, ``ci_method``, ``df``, ``n_psu``, ``flag_detail`` (the
        engine's flags, e.g. ``single_psu``, ``partial``; an element, part or the overall index
        carries its own and every flag of the items it is built on, an item's ``empty``
        becoming ``partial``). ``index_level`` is ``item``,
        ``element``, ``part`` or ``overall`` (index code ``"sipas"``); values in percent (0–100).
        ``flag`` is ``suppressed`` when n < 10 (estimate kept in the table but never to be shown),
        ``small_n`` when n < 30, else ``ok``.

    Raises
    ------
    InputError
        Missing columns, several waves in one table, non-numeric answers or codes outside the
        item's scale (file rows named through ``source_row``).
    SipasError
        Bad options or levels; no satisfaction item of the instrument in the table.

    Warns
    -----
    IndexWarning
        Items of the instrument missing from the table; answers dropped by a filter rule.

    Notes
    -----
    For item :math:`k` with answer :math:`x_{ik}` and valid-answer indicator :math:`v_{ik}`, in
    domain :math:`d` (a commune, area, the whole area or a subgroup: domain estimation on the
    full design):

    .. math:: \\hat p_{kd} = 100\\,\\frac{\\sum_i w_i 1_d(i) v_{ik} 1[x_{ik} \\in T_k]}
              {\\sum_i w_i 1_d(i) v_{ik}}

    with :math:`T_k` the item's top box from the instrument (``mean_score_0_100``: replace the
    indicator by :math:`100(x_{ik}-a)/(b-a)`). Element :math:`E = \\frac1{K}\\sum_{k\\in E}\\hat
    p_k`, part :math:`P = \\frac1{J}\\sum_{E\\in P} E`, overall
    :math:`SIPAS = \\frac12(P_{policy}+P_{service})` (``mean_of_parts``; ``sipas-2017`` has no
    parts: the mean of its 5 elements) or the mean of all elements. Variances by Taylor linearisation of the composite over the joint influence
    values of all items, :math:`\\hat V(L\\hat p) = L\\,\\hat\\Sigma\\,L^T` (R ``svycontrast``),
    never as if items were independent. Perception: share of the item's positive answer
    (``top_box``); expectation: share "rất nhiều" or "nhiều".

    Examples
    --------
    >>> import pandas as pd
    >>> from sipas_analysis.instruments import load_instrument
    >>> inst = load_instrument("sipas-2017")
    >>> codes = inst.satisfaction_items()["code"].tolist()
    >>> rows = []
    >>> for i in range(40):
    ...     r = {"respondent_id": str(i), "wave": "2021", "boundary_vintage": "pre2025",
    ...          "commune_code": 27694 if i < 20 else 27697, "area_code": 794,
    ...          "stratum": "794", "psu": f"v{i // 5}", "weight": 1.0 + (i % 3),
    ...          "sex": 1 + i % 2, "age_band": "30-44", "urban_rural": 1, "co_pakn": 1}
    ...     r.update({c: 1 + (i * 7 + j) % 5 for j, c in enumerate(codes)})
    ...     rows.append(r)
    >>> wave = pd.DataFrame(rows)
    >>> est = sipas_indices(wave, inst, levels=["total"], subgroups=[])
    >>> ov = est[est.index_level == "overall"].iloc[0]
    >>> el = est[est.index_level == "element"]
    >>> bool(abs(ov.estimate - el.estimate.mean()) < 1e-9), ov.unit_name
    (True, 'Toàn vùng khảo sát')
    """
    opts = options or SipasOptions()
    if not isinstance(respondents, pd.DataFrame):
        raise SipasError("respondents must be a pandas DataFrame (the canonical respondent table)")
    inst = resolve_instrument(instrument, respondents)
    if inst.survey != "sipas":
        raise SipasError(f"instrument {inst.name} is a {inst.survey} instrument, not SIPAS")
    meta = wave_meta(respondents, inst, None)
    spec = level_spec(levels, subgroups, subgroup_within)
    if not spec:
        raise SipasError("no level to estimate")
    base = base_frame(respondents, spec)

    nodes = valid_in_year(inst.nodes, meta.year)
    items = valid_in_year(inst.items, meta.year)
    node_parent = dict(zip(nodes["code"], nodes["parent"], strict=True))
    labels = dict(zip(nodes["code"], nodes["label_vi"], strict=True))
    labels.update(zip(inst.items["code"], inst.items["label_vi"], strict=True))
    labels[OVERALL_CODE] = OVERALL_LABEL
    roles = dict(zip(inst.items["code"], inst.items["role"], strict=True))
    parents: dict[str, str | None] = dict(
        zip(inst.items["code"], inst.items["parent"], strict=True)
    )

    sat = items[items["role"] == "satisfaction"]
    absent = [c for c in sat["code"] if c not in respondents.columns]
    sat = sat[sat["code"].isin(respondents.columns)]
    if sat.empty:
        raise SipasError(
            f"none of the {inst.name} satisfaction items is a column of the respondent table"
        )
    if absent:
        warnings.warn(
            f"{len(absent)} satisfaction item(s) of {inst.name} valid in {meta.year} are not in "
            f"the data and are left out of their element: {', '.join(absent)}",
            IndexWarning,
            stacklevel=2,
        )
    elements = [
        e for e in nodes.loc[nodes["level"] == "element", "code"] if e in set(sat["parent"])
    ]
    members = {e: sat.loc[sat["parent"] == e, "code"].tolist() for e in elements}
    parts_all = nodes.loc[nodes["level"] == "part", "code"].tolist()
    part_members = {
        p: [e for e in elements if node_parent.get(e) == p]
        for p in parts_all
        if any(node_parent.get(e) == p for e in elements)
    }
    for e in elements:
        parents[e] = node_parent.get(e)
        roles[e] = "satisfaction"
    for p in part_members:
        parents[p] = None
        roles[p] = "satisfaction"
    roles[OVERALL_CODE] = "satisfaction"

    dropped: dict[str, int] = {}
    cols: dict[str, np.ndarray] = {}
    for _, it in sat.iterrows():
        x = item_answers(respondents, it, it["valid_codes"])
        x = apply_filter(respondents, it, x, opts.apply_filters, dropped)
        if opts.item_statistic == "top2":
            top = it["top_box"]
            if not top:
                raise SipasError(f"instrument {inst.name}: item {it['code']} has no top_box")
            y = top_share(x, top)
        else:
            a, b = _scale_range(inst, it)
            y = 100.0 * (x - a) / (b - a)
        cols[it["code"]] = y
    other = items[
        ((items["role"] == "perception") & opts.include_perception)
        | ((items["role"] == "expectation") & opts.include_expectation)
    ]
    other = other[other["code"].isin(respondents.columns)]
    other_cols: dict[str, np.ndarray] = {}
    for _, it in other.iterrows():
        if not it["top_box"]:
            continue
        x = item_answers(respondents, it, it["valid_codes"])
        x = apply_filter(respondents, it, x, opts.apply_filters, dropped)
        other_cols[it["code"]] = top_share(x, it["top_box"])
    warn_filtered(dropped)

    kw = engine_kwargs(opts)
    stat_engine = "prop" if opts.item_statistic == "top2" else "mean"
    data = pd.concat([base, pd.DataFrame(cols, index=base.index)], axis=1)
    item_est = estimate_levels(data, list(cols), spec, statistic=stat_engine, positive=(1.0,), **kw)
    if opts.element_rule == "mean_of_items":
        elem_est = quiet_composite(item_est, members)
    else:
        scores = {}
        scale = 100.0 if opts.item_statistic == "top2" else 1.0  # 0/1 indicators -> percent
        for e, its in members.items():
            block = data[its]
            scores[e] = scale * block.mean(axis=1, skipna=True).where(block.notna().any(axis=1))
        sdata = pd.concat([base, pd.DataFrame(scores, index=base.index)], axis=1)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*single PSU.*")
            elem_est = estimate_levels(sdata, list(scores), spec, statistic="mean", **kw)
        # an element estimated from respondent means still carries its items' flags
        elem_est.table = inherit_member_flags(
            elem_est.table, item_est.table, members, item_est.domain_columns
        )
    part_est = quiet_composite(elem_est, part_members) if part_members else None
    if opts.overall_rule == "mean_of_parts" and part_est is not None:
        overall_est = quiet_composite(part_est, {OVERALL_CODE: list(part_members)})
    else:
        overall_est = quiet_composite(elem_est, {OVERALL_CODE: elements})

    common = {
        "labels": labels,
        "roles": roles,
        "parents": parents,
        "statistic": opts.item_statistic,
        "small_n": opts.small_n,
        "min_n": opts.min_n,
    }
    pieces = [
        to_rows(overall_est.table, respondents, meta, index_level="overall", **common),
    ]
    if part_est is not None:
        pieces.append(to_rows(part_est.table, respondents, meta, index_level="part", **common))
    pieces.append(to_rows(elem_est.table, respondents, meta, index_level="element", **common))
    pieces.append(to_rows(item_est.table, respondents, meta, index_level="item", **common))
    if other_cols:
        odata = pd.concat([base, pd.DataFrame(other_cols, index=base.index)], axis=1)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*single PSU.*")
            oest = estimate_levels(
                odata, list(other_cols), spec, statistic="prop", positive=(1.0,), **kw
            )
        common_o = dict(common, statistic="top2")
        pieces.append(to_rows(oest.table, respondents, meta, index_level="item", **common_o))
    table = pd.concat(pieces, ignore_index=True)
    order = [OVERALL_CODE, *part_members]
    for e in elements:
        order += [e]
    for e in elements:
        order += members[e]
    order += list(other_cols)
    table = sort_table(table, order)
    return table[ESTIMATE_COLUMNS + EXTRA_COLUMNS]


def answer_distribution(
    respondents: pd.DataFrame,
    instrument: Instrument | str | None = None,
    *,
    levels: Sequence[str] = ("total", "area"),
    weight: str = "weight",
) -> pd.DataFrame:
    """Weighted share of every answer code of the satisfaction items, for diverging bar charts.

    Parameters
    ----------
    respondents : pandas.DataFrame
        Canonical respondent table of one wave. Not modified.
    instrument : Instrument or str, optional
        Default: the table's ``instrument`` column.
    levels : sequence of {"total", "area", "commune"}
        Units to tabulate.
    weight : str
        Weight column.

    Returns
    -------
    pandas.DataFrame
        ``level, unit_code, index_code, label_vi, parent_code, answer_code, answer_label_vi,
        share, n`` — ``share`` in percent of the weighted valid answers of the item in the unit
        (sums to 100 per item and unit); ``n`` the unweighted valid answers.

    Notes
    -----
    :math:`share_k = 100 \\cdot \\sum_i w_i 1[y_i = k] / \\sum_i w_i 1[y_i \\text{ valid}]`, a
    descriptive table for charts (no standard error; estimates with SEs come from
    :func:`sipas_indices`). Missing codes (98/99) are already NA in the canonical table.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"instrument": "sipas-2017", "area_code": [800, 800],
    ...                    "commune_code": [27865, 27865], "weight": [1.0, 3.0],
    ...                    "tiep_can_1": pd.array([5, 2], dtype="Int64")})
    >>> t = answer_distribution(df, levels=("total",))
    >>> t.loc[t.answer_code == 2, "share"].item()
    75.0
    """
    inst = resolve_instrument(instrument, respondents)
    items = inst.satisfaction_items()
    items = items[items["code"].isin(respondents.columns)]
    columns = ["level", "unit_code", "index_code", "label_vi", "parent_code", "answer_code",
               "answer_label_vi", "share", "n"]  # fmt: skip
    if items.empty or not levels:
        return pd.DataFrame(columns=columns)
    unit_cols = {"total": None, "area": "area_code", "commune": "commune_code"}
    w = respondents[weight].to_numpy(dtype=float)
    # every valid answer of every item, one row each (item, respondent, answer code), item by
    # item in the respondents' order: the sums per (item, unit[, code]) are those of one item
    item_no, row_no, answer = [], [], []
    for k, code in enumerate(items["code"]):
        y = respondents[code]
        rows = np.flatnonzero(y.notna().to_numpy())
        item_no.append(np.full(rows.size, k))
        row_no.append(rows)
        answer.append(y.iloc[rows].astype(int).to_numpy())
    item_no, row_no, answer = (np.concatenate(a) for a in (item_no, row_no, answer))
    grid_codes = [[int(c) for c in v] for v in items["valid_codes"]]
    value_labels = [inst.value_labels(c) for c in items["code"]]
    frames = []
    for position, level in enumerate(levels):
        col = unit_cols[level]
        unit = (
            pd.Series("total", index=respondents.index)
            if col is None
            else respondents[col].astype("string")
        )
        unit_no, unit_names = pd.factorize(unit, sort=True)  # sorted as groupby sorts them
        u = unit_no[row_no]
        keep = u >= 0
        long = pd.DataFrame({"i": item_no[keep], "u": u[keep], "y": answer[keep],
                             "w": w[row_no[keep]]})  # fmt: skip
        g = long.groupby(["i", "u"])
        tot, cnt = g["w"].sum(), g.size()
        by = long.groupby(["i", "u", "y"])["w"].sum()
        # the grid: for each item, its units with an answer x the item's valid codes
        ti, tu = tot.index.get_level_values(0), tot.index.get_level_values(1)
        reps = np.array([len(grid_codes[i]) for i in ti], dtype=np.int64)
        gi, gu = np.repeat(ti, reps), np.repeat(tu, reps)
        gy = np.array([c for i in ti for c in grid_codes[i]], dtype=np.int64)
        grid = pd.MultiIndex.from_arrays([gi, gu, gy], names=["i", "u", "y"])
        share = by.reindex(grid, fill_value=0.0).to_numpy() / np.repeat(tot.to_numpy(), reps)
        frames.append(
            pd.DataFrame(
                {
                    "_item": gi,
                    "_level": position,
                    "level": level,
                    "unit_code": np.asarray(unit_names, dtype=object)[gu].astype(str),
                    "index_code": items["code"].to_numpy()[gi],
                    "label_vi": items["label_vi"].to_numpy()[gi],
                    "parent_code": items["parent"].to_numpy()[gi],
                    "answer_code": gy.astype(int),
                    "answer_label_vi": [
                        value_labels[i].get(c, str(c)) for i, c in zip(gi, gy, strict=True)
                    ],
                    "share": 100.0 * share,
                    "n": np.repeat(cnt.to_numpy(), reps),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    # item by item, each with its levels in turn (rows within a level already in order)
    out = out.sort_values(["_item", "_level"], kind="stable", ignore_index=True)
    return out.drop(columns=["_item", "_level"])
