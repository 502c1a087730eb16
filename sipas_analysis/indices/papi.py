"""PAPI indices: from respondent data (with design-based SE/CI) and from official indicator means.

The PAPI aggregation (docs/methodology.md, section 3):

1. indicator rescaled on its natural scale [a, b]: :math:`z = (x-a)/(b-a)`, :math:`z = 1-z` for
   a negative indicator;
2. sub-dimension :math:`S = 1/K + (9/K)\\,\\bar z` with K the number of sub-dimensions of its
   dimension in that year (1/K … 10/K);
3. dimension :math:`D = \\sum S` (1–10); 4. PAPI :math:`= \\sum D` (8–80); 5. weighted PAPI
   :math:`= \\sum w_d D_d` with the published dimension weights (instrument data, 2019).

:func:`papi_indices` computes them from a wave's respondent table (conditional items scored over
the respondents they apply to, at respondent level, then averaged; every SE from the engine,
sums by linearisation with the covariance). :func:`papi_from_indicator_means` applies the same
formula to published provincial indicator means (``official.read_papi_workbook``),
:func:`papi_aggregate` sums sub-dimensions into dimensions and totals, and
:func:`papi_interval_conventions` shows an estimate with a true 95% interval and with PAPI's
published "95%" convention (± 1.645·SE, in fact a 90% interval).

Reproduction of the official 2019 provincial sub-dimensions from the published indicator means
(:func:`papi_reproduction_check`, tested for all 63 provinces): exactly linear in the published
means are 1.1, 3.2, 3.3, 4.1, 4.3, 7.2, 7.3, 8.1 and 8.2. With the instrument's scales, directions
and weights, formula (2) reproduces 3.2, 4.1, 4.3, 7.2, 7.3, 8.1, 8.2 (3.2, 8.1 and 8.2 were
published with 1/K rounded to 0.33: :math:`0.33\\,(1 + 9\\bar z)`, option
``rounded_one_over_k``), and 1.1 if its first indicator is scored on [0, 2]
(``item_overrides``). 3.3 is linear but not of form (2) (published :math:`0.22 + 0.99(x_1+x_2)`).
The other sub-dimensions are not linear in the published means (aggregated at respondent level
over conditional items, or other unpublished rules); 6.3 and 6.4 come closest (free linear fit
residual about 1e-3).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd
from scipy import sparse, stats

from sipas_analysis.design import LONELY_PSU_RULES
from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.estimate import DF_RULES, MIN_N, SMALL_N, Estimates, estimate_levels
from sipas_analysis.indices.sipas import (
    ESTIMATE_COLUMNS,
    EXTRA_COLUMNS,
    SUBGROUP_COLUMNS,
    IndexWarning,
    _answers,
    _apply_filter,
    _base_frame,
    _choice,
    _engine_kwargs,
    _inherit_member_flags,
    _level_spec,
    _meta,
    _resolve_instrument,
    _sort,
    _to_rows,
    _valid_in_year,
    _warn_filtered,
)
from sipas_analysis.instruments import Instrument

__all__ = [
    "PAPI_Z",
    "PapiOptions",
    "subdimension_score",
    "papi_indices",
    "papi_aggregate",
    "papi_from_indicator_means",
    "papi_interval_conventions",
    "papi_reproduction_check",
]

#: Multiplier of PAPI's published "95%" bounds: score ± 1.645·SE (a 90% interval).
PAPI_Z = 1.645
TOTAL_CODE = "papi"
WEIGHTED_CODE = "papi_weighted"
TOTAL_LABEL = "Chỉ số PAPI tổng hợp (không có trọng số)"
WEIGHTED_LABEL = "Chỉ số PAPI tổng hợp (có trọng số)"
AGGREGATIONS = ("respondent", "indicator_means")
CI_CONVENTIONS = ("t", "normal", "papi")
CI_METHOD_PAPI = "papi_1.645se"
_PAPI_NOTE = 'Khoảng "95%" theo cách PAPI công bố: ±1,645·SE (thực chất khoảng tin cậy 90%)'


@dataclass(frozen=True)
class PapiOptions:
    """Choices behind the PAPI indices; each unpublished rule is a named option.

    Attributes
    ----------
    aggregation : {"respondent", "indicator_means"}
        How a sub-dimension is formed from respondent data. ``"respondent"`` (default,
        docs/methodology.md, section 3; inferred): each respondent's weighted mean of the rescaled
        indicators he or she answered (conditional items count only where they apply), turned
        into :math:`S_i = 1/K + (9/K)\\bar z_i`, then the weighted mean over respondents with at
        least one answered indicator. ``"indicator_means"``: the weighted mean of each indicator
        first, then formula (2) on those means (what :func:`papi_from_indicator_means` does with
        published means).
    clip : bool
        Values outside the natural scale [a, b] (continuous indicators such as distance to
        school, whose published scale is the range of provincial medians) are clipped to [a, b]
        before rescaling (default True; the official rule is [unknown]). False: such values are
        an InputError.
    rounded_one_over_k : tuple of str
        Sub-dimensions scored as :math:`r(1 + 9\\bar z)` with :math:`r` = 1/K rounded to two
        decimals (0.33 for K = 3), as the 2019 publication did for ``d3_2``, ``d8_1``, ``d8_2``.
        Default empty: the exact formula.
    dimension_weights_year : int
        Year of the published dimension weights (instrument data) used for the weighted total
        (default 2019, the only published set). No weighted total when the instrument has none.
    ci : {"t", "normal", "papi"}
        Interval. ``"t"`` (default): the engine's :math:`\\pm t_{df}\\,SE` at ``ci_level``;
        ``"normal"``: :math:`\\pm z_{1-\\alpha/2}\\,SE`; ``"papi"``: PAPI's published "95%"
        convention :math:`\\pm 1.645\\,SE`, labelled ``ci_method = "papi_1.645se"`` with
        ``ci_level = 0.90`` (its true level).
    apply_filters : bool
        Answers to conditional indicators from respondents to whom the filter says they do not
        apply are set to missing (default True).
    include_indicators : bool
        Add indicator rows (weighted mean of the answers on their natural scale; shares as 0–1).
    lonely_psu, ci_level, df, small_n, min_n
        As in :class:`~sipas_analysis.indices.sipas.SipasOptions`.
    """

    aggregation: str = "respondent"
    clip: bool = True
    rounded_one_over_k: tuple[str, ...] = ()
    dimension_weights_year: int = 2019
    ci: str = "t"
    apply_filters: bool = True
    include_indicators: bool = True
    lonely_psu: str = "adjust"
    ci_level: float = 0.95
    df: str = "design"
    small_n: int = SMALL_N
    min_n: int = MIN_N
    ci_method: str = field(default="logit", repr=False)

    def __post_init__(self) -> None:
        _choice("aggregation", self.aggregation, AGGREGATIONS)
        _choice("ci", self.ci, CI_CONVENTIONS)
        _choice("lonely_psu", self.lonely_psu, LONELY_PSU_RULES)
        _choice("df", self.df, DF_RULES)
        if not 0 < self.ci_level < 1:
            raise SipasError(f"ci_level must lie strictly between 0 and 1, not {self.ci_level!r}")
        object.__setattr__(self, "rounded_one_over_k", tuple(self.rounded_one_over_k))

    def as_dict(self) -> dict:
        """The options as a plain dict (for a run manifest)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def subdimension_score(mean_z, k: int, *, rounded: bool = False):
    """PAPI sub-dimension score from the mean rescaled indicator.

    Parameters
    ----------
    mean_z : float or array_like
        Mean of the rescaled indicators, in [0, 1].
    k : int
        Number of sub-dimensions of the dimension in that year.
    rounded : bool
        Use 1/K rounded to two decimals, as published for some 2019 sub-dimensions.

    Returns
    -------
    float or ndarray
        :math:`S = 1/K + (9/K)\\,\\bar z` (1/K … 10/K); rounded: :math:`r + 9r\\bar z`,
        :math:`r = \\operatorname{round}(1/K, 2)`.

    Examples
    --------
    >>> round(subdimension_score(0.5, 4), 6)   # 0.25 + 2.25 * 0.5
    1.375
    >>> round(subdimension_score(0.5, 3, rounded=True), 6)   # 0.33 + 2.97 * 0.5
    1.815
    """
    if k < 1:
        raise SipasError(f"K (sub-dimensions in the dimension) must be >= 1, not {k}")
    r = round(1.0 / k, 2) if rounded else 1.0 / k
    if np.ndim(mean_z):
        return r + 9.0 * r * np.asarray(mean_z, dtype=float)
    return r + 9.0 * r * float(mean_z)


# --------------------------------------------------------------------------------------------
# structure
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Structure:
    subs: pd.DataFrame  # code, parent, k, label_vi
    dims: pd.DataFrame  # code, label_vi
    indicators: pd.DataFrame  # instrument item rows (weight > 0) valid that year
    weights: dict[str, float]


def _structure(inst: Instrument, year: int, weights_year: int) -> _Structure:
    if inst.survey != "papi":
        raise SipasError(f"instrument {inst.name} is a {inst.survey} instrument, not PAPI")
    if inst.structure_only:
        raise SipasError(f"instrument {inst.name} defines no indicators (structure only)")
    subs = inst.nodes_at("subdimension", year)
    dims = inst.nodes_at("dimension", year)
    items = _valid_in_year(inst.items, year)
    ind = items[(items["role"] == "indicator") & items["parent"].isin(subs["code"])]
    ind = ind[ind["weight"].fillna(1.0) > 0]
    weights = dict(inst.dimension_weights.get(weights_year, {}))
    return _Structure(subs, dims, ind, weights)


def _range(inst: Instrument, item: pd.Series, overrides: Mapping | None) -> tuple[float, float]:
    ov = (overrides or {}).get(item["code"], {})
    scale = inst.scales[item["scale"]]
    a = ov.get("scale_min", item["scale_min"])
    b = ov.get("scale_max", item["scale_max"])
    a = scale.scale_min if a is None or pd.isna(a) else a
    b = scale.scale_max if b is None or pd.isna(b) else b
    return float(a), float(b)


def _direction(item: pd.Series, overrides: Mapping | None) -> str:
    return (overrides or {}).get(item["code"], {}).get("direction", item["direction"])


def _weight(item: pd.Series, overrides: Mapping | None) -> float:
    w = (overrides or {}).get(item["code"], {}).get("weight", item["weight"])
    return 1.0 if w is None or pd.isna(w) else float(w)


def _rescale(x: np.ndarray, a: float, b: float, negative: bool, clip: bool, code: str, df=None):
    x = np.asarray(x, dtype=float)
    if not clip:
        out = ~np.isnan(x) & ((x < a) | (x > b))
        if out.any():
            rows = None
            if df is not None and "source_row" in df.columns:
                rows = df["source_row"].to_numpy()[out].astype(int).tolist()
            raise InputError(
                f"values outside the natural scale [{a:g}, {b:g}]",
                column=code,
                rows=rows,
                values=sorted(pd.unique(x[out]).tolist())[:10],
            )
    z = ((np.clip(x, a, b) if clip else x) - a) / (b - a)
    return 1.0 - z if negative else z


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
    inst = _resolve_instrument(instrument, respondents)
    meta = _meta(respondents, inst, year)
    if meta.year is None:
        raise SipasError("the survey year is unknown: pass year=")
    st = _structure(inst, meta.year, opts.dimension_weights_year)
    spec = _level_spec(levels, subgroups, subgroup_within)
    if not spec:
        raise SipasError("no level to estimate")
    base = _base_frame(respondents, spec)

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
        x = _answers(respondents, it, it["valid_codes"])
        x = _apply_filter(respondents, it, x, opts.apply_filters, dropped)
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
    _warn_filtered(dropped)
    kw = _engine_kwargs(opts)
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
        sub_table = _inherit_member_flags(
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
    dim_rows = _inherit_member_flags(agg[is_dim], sub_table, subs_of, dom_cols, empty_as=None)
    totals = [TOTAL_CODE] + ([WEIGHTED_CODE] if has_weights else [])
    tot_rows = _inherit_member_flags(
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
            _to_rows(part, respondents, meta, index_level=lvl, statistic="papi_score", **common)
        )
    pieces.append(
        _to_rows(
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
            _to_rows(
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
    table = _sort(table, order)
    return table[ESTIMATE_COLUMNS + EXTRA_COLUMNS]


# --------------------------------------------------------------------------------------------
# published indicator means
# --------------------------------------------------------------------------------------------
def _unit_columns(table: pd.DataFrame) -> list[str]:
    for cols in (["province_code", "province_name"], ["province_code"], ["unit_code"]):
        if all(c in table.columns for c in cols):
            return cols
    raise InputError(
        "the table needs a province_code (or unit_code) column", column="province_code"
    )


def _table_code(sub: str, position: int) -> str:
    return f"{sub}_i{position}"


def papi_from_indicator_means(
    indicator_table: pd.DataFrame,
    instrument: Instrument | str,
    year: int,
    *,
    options: PapiOptions | None = None,
    item_overrides: Mapping[str, Mapping[str, object]] | None = None,
    scale_source: str = "instrument",
) -> pd.DataFrame:
    """Apply the PAPI aggregation to provincial indicator means (e.g. the official workbook).

    Parameters
    ----------
    indicator_table : pandas.DataFrame
        Tidy table as returned by :func:`sipas_analysis.official.read_papi_workbook`: ``year``
        (optional), ``province_code`` (and ``province_name``; or ``unit_code``), ``level``
        (rows ``"indicator"`` are used), ``code``, ``value``, and ``scale_min``/``scale_max`` (the
        published scale in the value's units). Indicator codes are either the instrument's item
        codes or the workbook's ``<sub-dimension>_i<n>``, n = position of the indicator among the
        sub-dimension's indicators in the instrument (its definition order is the workbook's).
    instrument : Instrument or str
        A PAPI instrument with indicators (``papi-2018``).
    year : int
        Survey year (K and the sub-dimensions in use).
    options : PapiOptions, optional
        Uses ``clip``, ``rounded_one_over_k`` and ``dimension_weights_year``.
    item_overrides : dict, optional
        ``{item_code: {"scale_min"|"scale_max"|"direction"|"weight": value}}``.
    scale_source : {"instrument", "published"}
        Natural scale [a, b]: the instrument's (default; a value published in per cent, scale
        0–100, for an instrument share on 0–1 is divided by 100), or the table's published scale
        where it has one.

    Returns
    -------
    pandas.DataFrame
        ``year, <unit columns>, index_level, index_code, label_vi, estimate, z, n_indicators``:
        indicator rows (``estimate`` = the published mean in the instrument's units, ``z`` =
        rescaled), ``subdimension``, ``dimension`` and ``total`` (``papi``, ``papi_weighted``).
        A sub-dimension averages the indicators present (weights renormalised); one with none is
        NaN, and so are its dimension and the totals.

    Raises
    ------
    InputError
        No indicator rows for the year, or a needed column missing.

    Notes
    -----
    :math:`z_k = (x_k-a_k)/(b_k-a_k)` (:math:`1-z_k` if negative), :math:`S = 1/K + (9/K)
    \\sum_k w_k z_k/\\sum_k w_k`, :math:`D = \\sum S`, :math:`PAPI = \\sum D`,
    :math:`PAPI_w = \\sum_d w_d D_d`. Reproduces the published value only for sub-dimensions
    linear in the published means (module docstring; :func:`papi_reproduction_check`).

    Examples
    --------
    >>> t = pd.DataFrame({"province_code": [1, 1, 1], "level": "indicator",
    ...                   "code": ["d7_2_i1", "d7_2_i2", "d7_2_i3"], "value": [0.4, 0.8, 0.3],
    ...                   "scale_min": 0.0, "scale_max": 1.0})
    >>> out = papi_from_indicator_means(t, "papi-2018", 2019)
    >>> s = out[out.index_code == "d7_2"].estimate.iloc[0]   # 1/3 + 3 * 0.5
    >>> round(float(s), 6)
    1.833333
    """
    from sipas_analysis.instruments import load_instrument

    opts = options or PapiOptions()
    _choice("scale_source", scale_source, ("instrument", "published"))
    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    st = _structure(inst, int(year), opts.dimension_weights_year)
    for c in ("level", "code", "value"):
        if c not in indicator_table.columns:
            raise InputError("indicator table column missing", column=c)
    t = indicator_table
    if "year" in t.columns:
        t = t[t["year"] == int(year)]
    t = t[t["level"] == "indicator"]
    if t.empty:
        raise InputError(f"no indicator rows for {year} in the indicator table", column="level")
    unit = _unit_columns(t)
    units = t[unit].drop_duplicates(subset=[unit[0]]).sort_values(unit[0]).reset_index(drop=True)
    codes = set(t["code"])
    wide = t.pivot_table(index=unit[0], columns="code", values="value", aggfunc="first")
    wide = wide.reindex(units[unit[0]])
    scale_tab = t.drop_duplicates("code").set_index("code")
    rows = []
    z_by_item = {}
    for s in st.subs["code"]:
        its = st.indicators[st.indicators["parent"] == s]
        all_ind = inst.items[(inst.items["parent"] == s) & (inst.items["role"] == "indicator")]
        position = {c: i + 1 for i, c in enumerate(all_ind.sort_values("order")["code"])}
        for _, it in its.iterrows():
            code = it["code"] if it["code"] in codes else _table_code(s, position[it["code"]])
            x = wide[code] if code in wide.columns else pd.Series(np.nan, index=wide.index)
            a, b = _range(inst, it, item_overrides)
            pa = scale_tab["scale_min"].get(code, np.nan) if "scale_min" in t.columns else np.nan
            pb = scale_tab["scale_max"].get(code, np.nan) if "scale_max" in t.columns else np.nan
            if scale_source == "published" and pd.notna(pa) and pd.notna(pb):
                a, b = float(pa), float(pb)
            elif pd.notna(pb) and float(pb) == 100.0 and b == 1.0 and a == 0.0:
                x = x / 100.0
            zv = _rescale(
                x.to_numpy(dtype=float),
                a,
                b,
                _direction(it, item_overrides) == "negative",
                opts.clip,
                code,
            )
            z = pd.Series(zv, index=wide.index)
            z_by_item[it["code"]] = (z, _weight(it, item_overrides))
            rows.append(
                pd.DataFrame(
                    {
                        unit[0]: wide.index,
                        "index_level": "indicator",
                        "index_code": it["code"],
                        "label_vi": it["label_vi"],
                        "estimate": x.to_numpy(dtype=float),
                        "z": z.to_numpy(dtype=float),
                        "n_indicators": 1,
                    }
                )
            )
    sub_rows = []
    for s, k, lab in zip(st.subs["code"], st.subs["k"], st.subs["label_vi"], strict=True):
        its = st.indicators.loc[st.indicators["parent"] == s, "code"]
        num = pd.Series(0.0, index=wide.index)
        den = pd.Series(0.0, index=wide.index)
        cnt = pd.Series(0, index=wide.index)
        for c in its:
            z, w = z_by_item[c]
            have = z.notna()
            num += np.where(have, z.fillna(0.0) * w, 0.0)
            den += np.where(have, w, 0.0)
            cnt += have.astype(int)
        mean = (num / den).where(den > 0)
        score = subdimension_score(
            mean.to_numpy(dtype=float), int(k), rounded=s in opts.rounded_one_over_k
        )
        sub_rows.append(
            pd.DataFrame(
                {
                    unit[0]: wide.index,
                    "index_level": "subdimension",
                    "index_code": s,
                    "label_vi": lab,
                    "estimate": score,
                    "z": mean.to_numpy(dtype=float),
                    "n_indicators": cnt.to_numpy(),
                }
            )
        )
    subs_tab = pd.concat(sub_rows, ignore_index=True)
    agg = papi_aggregate(
        subs_tab, inst, int(year), by=[unit[0]], weights_year=opts.dimension_weights_year
    )
    agg["z"] = np.nan
    agg["n_indicators"] = 0
    out = pd.concat([agg, subs_tab, *rows], ignore_index=True)
    out = units.merge(out, on=unit[0], how="right")
    out.insert(0, "year", int(year))
    lvl = {"total": 0, "dimension": 1, "subdimension": 2, "indicator": 3}
    out["_o"] = out["index_level"].map(lvl)
    out = out.sort_values([unit[0], "_o"], kind="stable").drop(columns="_o")
    return out.reset_index(drop=True)


def papi_aggregate(
    subdimensions: pd.DataFrame,
    instrument: Instrument | str,
    year: int,
    *,
    by: Sequence[str] = ("province_code",),
    code: str = "index_code",
    value: str = "estimate",
    weights_year: int = 2019,
) -> pd.DataFrame:
    """Sum sub-dimension scores into dimensions, the PAPI total and the weighted total.

    Parameters
    ----------
    subdimensions : pandas.DataFrame
        One row per (unit, sub-dimension); other rows are ignored.
    instrument : Instrument or str
        A PAPI instrument (its year structure and dimension weights).
    year : int
        Survey year: which sub-dimensions belong to each dimension.
    by : sequence of str
        Unit columns (default ``province_code``).
    code, value : str
        Columns holding the sub-dimension code and score (``"code"``/``"value"`` for the tidy
        official table).
    weights_year : int
        Year of the published dimension weights (default 2019).

    Returns
    -------
    pandas.DataFrame
        ``<by>, index_level (dimension | total), index_code (d1..d8, papi, papi_weighted),
        label_vi, estimate``. A unit missing a sub-dimension has no value for that dimension and
        no totals (NaN), as officially.

    Notes
    -----
    :math:`D_d = \\sum_{s\\in d} S_s`, :math:`PAPI = \\sum_d D_d`,
    :math:`PAPI_w = \\sum_d w_d D_d` (weights from the instrument data).

    Examples
    --------
    >>> from sipas_analysis.instruments import load_instrument
    >>> p = load_instrument("papi-2018")
    >>> s = p.nodes_at("subdimension", 2019)
    >>> t = pd.DataFrame({"province_code": 1, "index_code": s["code"],
    ...                   "estimate": 1.0 / s["k"].astype(float)})   # every S at its minimum
    >>> a = papi_aggregate(t, p, 2019)
    >>> a.set_index("index_code").loc[["d1", "papi"], "estimate"].round(6).tolist()
    [1.0, 8.0]
    """
    from sipas_analysis.instruments import load_instrument

    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    st = _structure(inst, int(year), weights_year)
    by = list(by)
    for c in [*by, code, value]:
        if c not in subdimensions.columns:
            raise InputError("column missing in the sub-dimension table", column=c)
    sub = subdimensions[subdimensions[code].isin(st.subs["code"])]
    wide = sub.pivot_table(index=by, columns=code, values=value, aggfunc="first", dropna=False)
    wide = wide.reindex(columns=st.subs["code"].tolist())
    out = []
    dims = {}
    for d, lab in zip(st.dims["code"], st.dims["label_vi"], strict=True):
        subs_d = st.subs.loc[st.subs["parent"] == d, "code"].tolist()
        dims[d] = (
            wide[subs_d].sum(axis=1, min_count=len(subs_d)).where(wide[subs_d].notna().all(axis=1))
        )
        out.append(_agg_rows(dims[d], by, "dimension", d, lab))
    dframe = pd.DataFrame(dims)
    total = dframe.sum(axis=1).where(dframe.notna().all(axis=1))
    out.insert(0, _agg_rows(total, by, "total", TOTAL_CODE, TOTAL_LABEL))
    if st.weights and set(dims) <= set(st.weights):
        wt = sum(st.weights[d] * dframe[d] for d in dims)
        wt = wt.where(dframe.notna().all(axis=1))
        out.insert(1, _agg_rows(wt, by, "total", WEIGHTED_CODE, WEIGHTED_LABEL))
    return pd.concat(out, ignore_index=True)


def _agg_rows(values: pd.Series, by: list[str], level: str, code: str, label: str) -> pd.DataFrame:
    frame = values.rename("estimate").reset_index()
    frame.insert(len(by), "index_level", level)
    frame.insert(len(by) + 1, "index_code", code)
    frame.insert(len(by) + 2, "label_vi", label)
    return frame


# --------------------------------------------------------------------------------------------
# intervals and the reproduction check
# --------------------------------------------------------------------------------------------
def papi_interval_conventions(
    table: pd.DataFrame, *, estimate: str = "estimate", se: str = "se", level: float = 0.95
) -> pd.DataFrame:
    """Show estimates with a true 95% interval AND PAPI's published "95%" convention.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows with an estimate and its standard error (e.g. the official tidy table, with
        ``estimate="value"``, or an estimates table).
    estimate, se : str
        Column names.
    level : float
        Level of the true interval (0.95).

    Returns
    -------
    pandas.DataFrame
        Two rows per input row (the input's columns kept): ``convention`` = ``"true"``
        (:math:`\\pm z_{0.975}\\,SE` = ±1.96·SE, ``ci_level`` 0.95, ``ci_method`` "normal") and
        ``"papi"`` (:math:`\\pm 1.645\\,SE`, ``ci_level`` 0.90, ``ci_method`` "papi_1.645se"),
        with ``multiplier``, ``ci_low``, ``ci_high`` and a Vietnamese ``ci_label_vi``.

    Notes
    -----
    The official 2019 workbook's "95%" bounds equal score ± 1.645·SE, i.e. a 90% normal
    interval; the true 95% interval is wider by a factor 1.96/1.645 ≈ 1.19.

    Examples
    --------
    >>> t = pd.DataFrame({"estimate": [41.7018], "se": [0.3063]})
    >>> iv = papi_interval_conventions(t)
    >>> iv[["convention", "ci_low", "ci_high"]].round(4).values.tolist()
    [['true', 41.1015, 42.3021], ['papi', 41.1979, 42.2057]]
    """
    for c in (estimate, se):
        if c not in table.columns:
            raise InputError("column missing", column=c)
    z = float(stats.norm.ppf(1 - (1 - level) / 2))
    out = []
    for conv, mult, lev, label, method in (
        ("true", z, level, f"Khoảng tin cậy {level:.0%} (±{z:.2f}·SE)".replace(".", ","), "normal"),
        ("papi", PAPI_Z, 0.90, _PAPI_NOTE, CI_METHOD_PAPI),
    ):
        part = table.copy()
        part["convention"] = conv
        part["ci_method"] = method
        part["multiplier"] = mult
        part["ci_level"] = lev
        part["ci_low"] = part[estimate] - mult * part[se]
        part["ci_high"] = part[estimate] + mult * part[se]
        part["ci_label_vi"] = label
        out.append(part)
    res = pd.concat(out, ignore_index=False)
    res["_pos"] = np.tile(np.arange(len(table)), 2)
    return res.sort_values(["_pos"], kind="stable").drop(columns="_pos").reset_index(drop=True)


def papi_reproduction_check(
    official: pd.DataFrame,
    instrument: Instrument | str,
    year: int,
    *,
    options: PapiOptions | None = None,
    item_overrides: Mapping[str, Mapping[str, object]] | None = None,
    tolerance: float = 1e-3,
) -> pd.DataFrame:
    """Which published sub-dimensions the indicator-mean aggregation reproduces, and why not.

    Parameters
    ----------
    official : pandas.DataFrame
        The official tidy table (:func:`sipas_analysis.official.read_papi_workbook`) with
        indicator and sub-dimension rows of ``year``.
    instrument, year, options, item_overrides
        As in :func:`papi_from_indicator_means`.
    tolerance : float
        Largest absolute difference counted as reproduced (1e-3).

    Returns
    -------
    pandas.DataFrame
        One row per sub-dimension: ``index_code, n_provinces, max_abs_diff`` (recomputed minus
        published), ``reproduced``, ``linear_residual`` (largest residual of a free least-squares
        fit of the published values on an intercept and the published indicator means) and
        ``linear`` (residual < 1e-5: the published value is an exact linear function of the
        published means).

    Examples
    --------
    >>> from sipas_analysis.official import read_papi_workbook          # doctest: +SKIP
    >>> off = read_papi_workbook("2019_PAPI_Provincial_indicators2019_VIE_ENG.xlsx")  # doctest: +SKIP
    >>> papi_reproduction_check(off, "papi-2018", 2019)                 # doctest: +SKIP
    """
    rec = papi_from_indicator_means(
        official, instrument, year, options=options, item_overrides=item_overrides
    )
    off = official[official["year"] == int(year)] if "year" in official.columns else official
    pub = off[off["level"] == "subdimension"].pivot_table(
        index="province_code", columns="code", values="value", aggfunc="first"
    )
    ind = off[off["level"] == "indicator"].pivot_table(
        index="province_code", columns="code", values="value", aggfunc="first"
    )
    mine = rec[rec["index_level"] == "subdimension"].pivot_table(
        index="province_code", columns="index_code", values="estimate", aggfunc="first"
    )
    out = []
    for s in mine.columns:
        if s not in pub.columns:
            continue
        diff = (mine[s] - pub[s]).abs()
        cols = [c for c in ind.columns if re.fullmatch(rf"{s}_i\d+", str(c))]
        X = ind[cols]
        ok = X.notna().all(axis=1) & pub[s].notna()
        resid = np.nan
        if ok.sum() > len(cols) + 1:
            A = np.column_stack([np.ones(int(ok.sum())), X[ok].to_numpy(dtype=float)])
            coef, *_ = np.linalg.lstsq(A, pub[s][ok].to_numpy(dtype=float), rcond=None)
            resid = float(np.abs(A @ coef - pub[s][ok].to_numpy(dtype=float)).max())
        out.append(
            {
                "index_code": s,
                "n_provinces": int(diff.notna().sum()),
                "max_abs_diff": float(diff.max()),
                "reproduced": bool(diff.notna().any() and diff.max() <= tolerance),
                "linear_residual": resid,
                "linear": bool(resid < 1e-5) if not np.isnan(resid) else False,
            }
        )
    return pd.DataFrame(out)
