"""PAPI indices from a wave's respondent table with design-based SE and CI
(:func:`papi_indices`)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse, stats

from sipas_analysis.errors import SipasError
from sipas_analysis.estimate import Estimates, estimate_levels
from sipas_analysis.indices.common import (
    ESTIMATE_COLUMNS,
    EXTRA_COLUMNS,
    SUBGROUP_COLUMNS,
    IndexWarning,
    apply_filter,
    base_frame,
    engine_kwargs,
    inherit_member_flags,
    item_answers,
    level_spec,
    resolve_instrument,
    sort_table,
    to_rows,
    warn_filtered,
    wave_meta,
)
from sipas_analysis.indices.papi.options import (
    CI_METHOD_PAPI,
    PAPI_Z,
    TOTAL_CODE,
    TOTAL_LABEL,
    WEIGHTED_CODE,
    WEIGHTED_LABEL,
    PapiOptions,
    subdimension_score,
)
from sipas_analysis.indices.papi.structure import _direction, _range, _rescale, _structure, _weight
from sipas_analysis.instruments import Instrument

__all__ = ["papi_indices"]


# --------------------------------------------------------------------------------------------
# respondent data
# --------------------------------------------------------------------------------------------
def _group_keys(t: pd.DataFrame, dom_cols: list[str]) -> pd.Series:
    cols = ["level", *dom_cols]
    frame = t[cols].astype(object).where(t[cols].notna(), "<NA>")
    return frame.apply(tuple, axis=1)


def _combine(
    est: Estimates,
    outputs: Sequence[tuple[str, float, Mapping[str, float]]],
    counts: pd.DataFrame,
) -> pd.DataFrame:
    """Intercept + linear combinations of ``est`` rows per domain, as engine-like rows."""
    t = est.table.reset_index(drop=True)
    keys = _group_keys(t, est.domain_columns)
    pos = {(k, c): i for i, (k, c) in enumerate(zip(keys, t["index_code"], strict=True))}
    first = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    theta = t["estimate"].to_numpy(dtype=float)
    L_r, L_c, L_v, meta = [], [], [], []
    for k, i0 in first.items():
        for code, intercept, coefs in outputs:
            r = len(meta)
            # a member missing, or without an estimate in the domain: no combination
            ok = all((k, m) in pos and np.isfinite(theta[pos[(k, m)]]) for m in coefs)
            if ok:
                for m, v in coefs.items():
                    L_r.append(r)
                    L_c.append(pos[(k, m)])
                    L_v.append(float(v))
            meta.append((k, i0, code, intercept, ok))
    L = sparse.csr_matrix((L_v, (L_r, L_c)), shape=(len(meta), len(t)))
    lc = est.linear_combination(L, labels=[m[2] for m in meta])
    base = t.loc[[m[1] for m in meta], ["level", *est.domain_columns]].reset_index(drop=True)
    intercept = np.array([m[3] for m in meta])
    ok = np.array([m[4] for m in meta])
    out = base.copy()
    out["index_code"] = [m[2] for m in meta]
    out["estimate"] = np.where(ok, lc["estimate"].to_numpy() + intercept, np.nan)
    out["se"] = np.where(ok, lc["se"].to_numpy(), np.nan)
    out["ci_low"] = np.where(ok, lc["ci_low"].to_numpy() + intercept, np.nan)
    out["ci_high"] = np.where(ok, lc["ci_high"].to_numpy() + intercept, np.nan)
    out["ci_level"] = est.ci_level
    out["ci_method"] = "t"
    out["df"] = lc["df"].to_numpy()
    ckey = _group_keys(counts, est.domain_columns)
    cmap = {
        (k, c): (n, p)
        for k, c, n, p in zip(ckey, counts["index_code"], counts["n"], counts["n_psu"], strict=True)
    }
    np_ = [cmap.get((m[0], m[2]), (0, 0)) for m in meta]
    out["n"] = np.array([v[0] for v in np_], dtype=np.int64)
    out["n_psu"] = np.array([v[1] for v in np_], dtype=np.int64)
    # as the engine: a domain inside a single PSU has no design-based variance
    single = ok & (out["n_psu"].to_numpy() == 1)
    for c in ("se", "ci_low", "ci_high"):
        out.loc[single, c] = np.nan
    out["flag"] = np.where(ok, np.where(single, "single_psu", "ok"), "incomplete")
    return out


def _apply_ci(table: pd.DataFrame, ci: str, level: float) -> pd.DataFrame:
    if ci == "t":
        return table
    out = table.copy()
    if ci == "normal":
        z = stats.norm.ppf(1 - (1 - level) / 2)
        out["ci_method"] = "normal"
    else:
        z = PAPI_Z
        level = 0.90
        out["ci_method"] = CI_METHOD_PAPI
    out["ci_low"] = out["estimate"] - z * out["se"]
    out["ci_high"] = out["estimate"] + z * out["se"]
    out["ci_level"] = level
    return out


def papi_indices(
    respondents: pd.DataFrame,
    instrument: Instrument | str | None = None,
    year: int | None = None,
    *,
    levels: Sequence[str] = ("commune", "area", "total"),
    subgroups: Sequence[str] = SUBGROUP_COLUMNS,
    subgroup_within: Sequence[str] = ("total",),
    options: PapiOptions | None = None,
    item_overrides: Mapping[str, Mapping[str, object]] | None = None,
) -> pd.DataFrame:
    """PAPI indicators, sub-dimensions, dimensions and totals of one wave, with SE and CI.

    Parameters
    ----------
    respondents : pandas.DataFrame
        Canonical respondent table of ONE PAPI wave (design columns ``weight, stratum, psu``,
        domain and subgroup columns, one column per indicator item). Not modified.
    instrument : Instrument or str, optional
        Default: the table's ``instrument`` column.
    year : int, optional
        Survey year (sets K, the sub-dimensions in use, and item validity); default: the wave.
    levels, subgroups, subgroup_within
        As in :func:`~sipas_analysis.indices.sipas.sipas_indices`.
    options : PapiOptions, optional
        The rules (see :class:`PapiOptions`).
    item_overrides : dict, optional
        ``{item_code: {"scale_min"|"scale_max"|"direction"|"weight": value}}`` overriding the
        instrument for this computation.

    Returns
    -------
    pandas.DataFrame
        The estimates table (:data:`~sipas_analysis.indices.sipas.ESTIMATE_COLUMNS` + extras);
        ``index_level`` ``indicator`` (mean answer on its natural scale), ``subdimension``
        (1/K–10/K), ``dimension`` (1–10), ``total`` (``papi``: 8–80 and, with published weights,
        ``papi_weighted``). ``ci_method`` says which interval (``t``, ``normal`` or
        ``papi_1.645se`` with ``ci_level`` 0.90). A domain missing a sub-dimension (or
        without an estimate of one) gets no dimension or total (NaN, ``flag_detail`` holding
        ``incomplete``), as officially. ``flag_detail`` of a sub-dimension, dimension or total
        holds its own flags and every flag of the rows it is built on (indicators, then
        sub-dimensions, then dimensions); an indicator without answers in a domain makes a
        respondent-level sub-dimension ``partial``.

    Raises
    ------
    InputError
        Missing columns, several waves, answer codes outside the scale, values outside [a, b]
        with ``clip=False``.
    SipasError
        Not a PAPI instrument; bad options.

    Warns
    -----
    IndexWarning
        Sub-dimensions with no indicator in the data; answers dropped by a filter.

    Notes
    -----
    Respondent-level aggregation (default): for respondent i and sub-dimension s with
    indicators k (weights :math:`w_k`, answered set :math:`A_i`),

    .. math:: S_{is} = \\frac1K + \\frac9K\\,\\frac{\\sum_{k\\in A_i} w_k z_{ik}}
              {\\sum_{k\\in A_i} w_k},\\qquad \\hat S_{sd} = \\frac{\\sum_i w_i 1_d(i) S_{is}}
              {\\sum_i w_i 1_d(i) 1[A_i\\neq\\emptyset]}

    (a ratio mean, linearised by the engine over the full design). :math:`\\hat D = \\sum_s \\hat
    S_s` and :math:`\\widehat{PAPI} = \\sum_d \\hat D_d` are linear combinations of these
    ratios: :math:`\\hat V = L\\hat\\Sigma L^T` with the joint covariance (R ``svycontrast``).
    PAPI's "95%" convention is :math:`\\pm 1.645\\,SE` (a 90% interval).

    Examples
    --------
    >>> from sipas_analysis.waves import read_wave                      # doctest: +SKIP
    >>> wave = read_wave("waves/papi-2024.yaml").respondents              # doctest: +SKIP
    >>> est = papi_indices(wave, "papi-2018", 2024)                      # doctest: +SKIP
    >>> est.query("level == 'total' and index_level == 'total'")         # doctest: +SKIP
    """
    opts = options or PapiOptions()
    if not isinstance(respondents, pd.DataFrame):
        raise SipasError("respondents must be a pandas DataFrame (the canonical respondent table)")
    inst = resolve_instrument(instrument, respondents)
    meta = wave_meta(respondents, inst, year)
    if meta.year is None:
        raise SipasError("the survey year is unknown: pass year=")
    st = _structure(inst, meta.year, opts.dimension_weights_year)
    spec = level_spec(levels, subgroups, subgroup_within)
    if not spec:
        raise SipasError("no level to estimate")
    base = base_frame(respondents, spec)

    ind = st.indicators[st.indicators["code"].isin(respondents.columns)]
    absent_subs = [s for s in st.subs["code"] if s not in set(ind["parent"])]
    if absent_subs:
        warnings.warn(
            f"sub-dimension(s) without any indicator in the data: {', '.join(absent_subs)}; "
            "their dimensions and the totals are left empty",
            IndexWarning,
            stacklevel=2,
        )
    dropped: dict[str, int] = {}
    x_cols, z_cols = {}, {}
    for _, it in ind.iterrows():
        x = item_answers(respondents, it, it["valid_codes"])
        x = apply_filter(respondents, it, x, opts.apply_filters, dropped)
        a, b = _range(inst, it, item_overrides)
        x_cols[it["code"]] = x
        z_cols[it["code"]] = _rescale(
            x,
            a,
            b,
            _direction(it, item_overrides) == "negative",
            opts.clip,
            it["code"],
            respondents,
        )
    warn_filtered(dropped)
    kw = engine_kwargs(opts)
    k_of = dict(zip(st.subs["code"], st.subs["k"].astype(int), strict=True))
    subs_present = [s for s in st.subs["code"] if s not in absent_subs]
    members = {s: ind.loc[ind["parent"] == s, "code"].tolist() for s in subs_present}
    wts = {it["code"]: _weight(it, item_overrides) for _, it in ind.iterrows()}

    # respondent-level presence per sub-dimension / dimension (for n and n_psu)
    presence = {}
    for s, its in members.items():
        answered = ~np.isnan(np.column_stack([z_cols[c] for c in its]))
        presence[s] = pd.Series(answered.any(axis=1), index=base.index)
    dim_of = dict(zip(st.subs["code"], st.subs["parent"], strict=True))
    dims = st.dims["code"].tolist()
    for d in dims:
        subs_d = [s for s in subs_present if dim_of[s] == d]
        presence[d] = (
            pd.concat([presence[s] for s in subs_d], axis=1).any(axis=1)
            if subs_d
            else pd.Series(False, index=base.index)
        )
    presence[TOTAL_CODE] = pd.concat([presence[d] for d in dims], axis=1).any(axis=1)
    presence[WEIGHTED_CODE] = presence[TOTAL_CODE]
    pres_cols = {c: v.astype(float).where(v) for c, v in presence.items()}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*single PSU.*")
        counts = estimate_levels(
            pd.concat([base, pd.DataFrame(pres_cols, index=base.index)], axis=1),
            list(pres_cols),
            spec,
            statistic="mean",
            **kw,
        ).table

    outputs_sub: list[tuple[str, float, dict[str, float]]] = []
    if opts.aggregation == "respondent":
        s_cols = {}
        for s, its in members.items():
            w = np.array([wts[c] for c in its])
            zz = np.column_stack([z_cols[c] for c in its])
            answered = ~np.isnan(zz)
            num = np.nansum(zz * w, axis=1)
            den = (answered * w).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean_i = np.where(den > 0, num / den, np.nan)
            s_cols[s] = subdimension_score(mean_i, k_of[s], rounded=s in opts.rounded_one_over_k)
        sdata = pd.concat([base, pd.DataFrame(s_cols, index=base.index)], axis=1)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*single PSU.*")
            core = estimate_levels(sdata, list(s_cols), spec, statistic="mean", **kw)
        sub_table = core.table
        sub_members = {s: {s: 1.0} for s in subs_present}
        sub_intercept = dict.fromkeys(subs_present, 0.0)
    else:
        zdata = pd.concat([base, pd.DataFrame(z_cols, index=base.index)], axis=1)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*single PSU.*")
            core = estimate_levels(zdata, list(z_cols), spec, statistic="mean", **kw)
        sub_members, sub_intercept = {}, {}
        for s, its in members.items():
            r = round(1.0 / k_of[s], 2) if s in opts.rounded_one_over_k else 1.0 / k_of[s]
            wsum = sum(wts[c] for c in its)
            sub_members[s] = {c: 9.0 * r * wts[c] / wsum for c in its}
            sub_intercept[s] = r
            outputs_sub.append((s, r, sub_members[s]))
        sub_table = _combine(core, outputs_sub, counts)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*single PSU.*")
        xdata = pd.concat([base, pd.DataFrame(x_cols, index=base.index)], axis=1)
        xe = estimate_levels(xdata, list(x_cols), spec, statistic="mean", **kw) if x_cols else None
    dom_cols = core.domain_columns
    if xe is not None:
        # a sub-dimension carries its indicators' flags; an indicator without answers in the
        # domain makes a respondent-level sub-dimension partial (the indicator-means one is
        # then incomplete already)
        sub_table = inherit_member_flags(
            sub_table,
            xe.table,
            members,
            dom_cols,
            empty_as="partial" if opts.aggregation == "respondent" else None,
        )

    outputs = []
    dim_members: dict[str, dict[str, float]] = {}
    dim_intercept: dict[str, float] = {}
    for d in dims:
        subs_d = [s for s in st.subs["code"] if dim_of[s] == d]
        coefs: dict[str, float] = {}
        missing = any(s not in sub_members for s in subs_d)
        for s in subs_d:
            for m, v in sub_members.get(s, {}).items():
                coefs[m] = coefs.get(m, 0.0) + v
        if missing:
            coefs["__missing__"] = 1.0
        dim_members[d] = coefs
        dim_intercept[d] = sum(sub_intercept.get(s, 0.0) for s in subs_d)
        outputs.append((d, dim_intercept[d], coefs))

    def _total(weights: Mapping[str, float]) -> tuple[float, dict[str, float]]:
        coefs: dict[str, float] = {}
        for d in dims:
            for m, v in dim_members[d].items():
                coefs[m] = coefs.get(m, 0.0) + weights[d] * v
        return sum(weights[d] * dim_intercept[d] for d in dims), coefs

    ic, co = _total(dict.fromkeys(dims, 1.0))
    outputs.append((TOTAL_CODE, ic, co))
    has_weights = bool(st.weights) and set(dims) <= set(st.weights)
    if has_weights:
        ic, co = _total(st.weights)
        outputs.append((WEIGHTED_CODE, ic, co))
    agg = _combine(core, outputs, counts)
    # dimensions carry their sub-dimensions' flags, the totals their dimensions'
    subs_of = {d: [s for s in st.subs["code"] if dim_of[s] == d] for d in dims}
    is_dim = agg["index_code"].isin(dims).to_numpy()
    dim_rows = inherit_member_flags(agg[is_dim], sub_table, subs_of, dom_cols, empty_as=None)
    totals = [TOTAL_CODE] + ([WEIGHTED_CODE] if has_weights else [])
    tot_rows = inherit_member_flags(
        agg[~is_dim], dim_rows, dict.fromkeys(totals, dims), dom_cols, empty_as=None
    )
    agg = pd.concat([tot_rows, dim_rows], ignore_index=True)

    labels = dict(zip(inst.nodes["code"], inst.nodes["label_vi"], strict=True))
    labels.update(zip(st.subs["code"], st.subs["label_vi"], strict=True))
    labels.update(zip(st.dims["code"], st.dims["label_vi"], strict=True))
    labels.update(zip(inst.items["code"], inst.items["label_vi"], strict=True))
    labels[TOTAL_CODE] = TOTAL_LABEL
    labels[WEIGHTED_CODE] = WEIGHTED_LABEL + f" (trọng số {opts.dimension_weights_year})"
    roles = {c: "indicator" for c in ind["code"]}
    parents = dict(zip(inst.nodes["code"], inst.nodes["parent"], strict=True))
    parents.update(zip(inst.items["code"], inst.items["parent"], strict=True))
    common = {
        "labels": labels,
        "roles": roles,
        "parents": parents,
        "small_n": opts.small_n,
        "min_n": opts.min_n,
    }
    level_of = {d: "dimension" for d in dims}
    level_of.update({TOTAL_CODE: "total", WEIGHTED_CODE: "total"})
    pieces = []
    for lvl in ("total", "dimension"):
        part = agg[agg["index_code"].map(level_of) == lvl]
        pieces.append(
            to_rows(part, respondents, meta, index_level=lvl, statistic="papi_score", **common)
        )
    pieces.append(
        to_rows(
            sub_table,
            respondents,
            meta,
            index_level="subdimension",
            statistic="papi_score",
            **common,
        )
    )
    if opts.include_indicators and xe is not None:
        pieces.append(
            to_rows(
                xe.table, respondents, meta, index_level="indicator", statistic="mean", **common
            )
        )
    table = pd.concat(pieces, ignore_index=True)
    table = _apply_ci(table, opts.ci, opts.ci_level)
    order = [TOTAL_CODE, WEIGHTED_CODE]
    for d in dims:
        order.append(d)
        for s in st.subs.loc[st.subs["parent"] == d, "code"]:
            order.append(s)
            order += members.get(s, [])
    table = sort_table(table, order)
    return table[ESTIMATE_COLUMNS + EXTRA_COLUMNS]
