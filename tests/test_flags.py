"""Property tests: flags reach every composite built on an item; shown shares have intervals.

On random small respondent tables (1-3 communes of 1-3 villages, 1-8 respondents a village,
unequal weights, items missing at random or entirely in a commune):

* every flag of an item (``partial``, ``single_psu``, ``small_n``, ``low_df``, ...) is in the
  ``flag_detail`` of its SIPAS element, part and overall index, and of its PAPI sub-dimension,
  dimension and total; an item without answers in a domain (``empty``) makes the composite
  ``partial`` (or leaves it ``incomplete`` / ``empty`` when the composite has no estimate);
* every share that may be shown (``flag`` not ``suppressed``) with 0 < estimate < 100 has an
  interval of positive width.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipas_analysis.estimate import composite_mean, estimate_domains, inherit_flags
from sipas_analysis.indices.papi import PapiOptions, papi_indices
from sipas_analysis.indices.sipas import SipasOptions, sipas_indices
from sipas_analysis.instruments import load_instrument

SETTINGS = settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
PAPI_SETTINGS = settings(
    max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
COMMUNES = (27694, 27697, 27700)
#: What an item's ``empty`` may become on a composite built on it.
EMPTY_BECOMES = {"partial", "incomplete", "empty"}


def _frame(rng: np.random.Generator, n_communes: int, wave: str, instrument: str) -> pd.DataFrame:
    rows = []
    for c in COMMUNES[:n_communes]:
        for v in range(int(rng.integers(1, 4))):
            for _ in range(int(rng.integers(1, 9))):
                rows.append((c, f"{c}-v{v}"))
    d = pd.DataFrame(rows, columns=["commune_code", "psu"])
    n = len(d)
    d.insert(0, "respondent_id", [f"r{i}" for i in range(n)])
    d["wave"] = wave
    d["instrument"] = instrument
    d["boundary_vintage"] = "pre2025"
    d["area_code"] = 794
    d["stratum"] = "794"
    d["weight"] = np.round(rng.uniform(0.5, 4.0, n), 3)
    d["sex"] = rng.integers(1, 3, n)
    d["age_band"] = rng.choice(["18-29", "30-44", "45-59", "60+"], n)
    d["urban_rural"] = rng.integers(1, 3, n)
    return d


def _answers(rng, d, codes, valid, p_missing, p_gone):
    """Random answers; each item is missing with probability p_missing and, with probability
    p_gone, entirely absent in one commune (so composites there are partial)."""
    n = len(d)
    communes = d["commune_code"].to_numpy()
    cols = {}
    for code in codes:
        vals = valid(code)
        x = vals[rng.integers(0, len(vals), n)].astype(float)
        x[rng.random(n) < p_missing] = np.nan
        if rng.random() < p_gone:
            x[communes == rng.choice(np.unique(communes))] = np.nan
        cols[code] = pd.array(np.where(np.isnan(x), None, x), dtype="Float64")
    return pd.concat([d, pd.DataFrame(cols, index=d.index)], axis=1)


@st.composite
def sipas_waves(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    name = draw(st.sampled_from(["sipas-2017", "sipas-2022"]))
    rng = np.random.default_rng(seed)
    inst = load_instrument(name)
    wave = "2021" if name == "sipas-2017" else "2024"
    items = inst.items
    year = int(wave)
    items = items[
        items["role"].isin(["satisfaction", "perception", "expectation"])
        & (items["valid_from"].fillna(0) <= year)
        & (items["valid_to"].fillna(9999) >= year)
    ]
    d = _frame(rng, draw(st.integers(1, 3)), wave, name)
    valid = dict(zip(items["code"], items["valid_codes"], strict=True))
    # skewed answers make 0 % and 100 % cells (degenerate) frequent as well
    top_heavy = draw(st.booleans())

    def codes_of(code):
        v = np.asarray(valid[code], dtype=float)
        return v[-2:] if top_heavy and v.size > 2 else v

    p_missing = draw(st.floats(0, 0.4))
    p_gone = draw(st.floats(0, 0.3))
    return _answers(rng, d, items["code"].tolist(), codes_of, p_missing, p_gone)


def _tokens(flag: str) -> set[str]:
    return {f for f in str(flag).split(";") if f and f != "ok"}


def _check_inherited(composite_flag: str, member_flag: str, where: str) -> None:
    comp = _tokens(composite_flag)
    for tok in _tokens(member_flag):
        if tok == "empty":
            assert comp & EMPTY_BECOMES, f"{where}: empty member, composite {composite_flag!r}"
        else:
            assert tok in comp, f"{where}: {tok!r} of a member missing from {composite_flag!r}"


def _unit(r) -> tuple:
    return (r.level, r.unit_code, r.subgroup)


def _check_sipas_flags(est: pd.DataFrame) -> None:
    items = est[(est.index_level == "item") & (est.role == "satisfaction")]
    flags = {(_unit(r), r.index_code): r.flag_detail for r in est.itertuples()}
    elem_parent = dict(
        est.loc[est.index_level == "element", ["index_code", "parent_code"]]
        .drop_duplicates()
        .itertuples(index=False, name=None)
    )
    for r in items.itertuples():
        u = _unit(r)
        element = r.parent_code
        above = [element, "sipas"]
        if elem_parent.get(element):
            above.append(elem_parent[element])
        for comp in above:
            _check_inherited(flags[(u, comp)], r.flag_detail, f"{u} {r.index_code}->{comp}")


def _check_intervals(est: pd.DataFrame) -> None:
    # strictly inside (0, 100): a mean of 100s may come out as 100 - 1e-14 in floating point
    tol = 1e-9
    shown = est[(est.flag != "suppressed") & (est.estimate > tol) & (est.estimate < 100 - tol)]
    width = shown.ci_high - shown.ci_low
    bad = shown[~(width > 0)]
    assert bad.empty, bad[["unit_code", "index_code", "estimate", "ci_low", "ci_high"]]


@SETTINGS
@given(sipas_waves(), st.sampled_from(["mean_of_items", "respondent_mean"]))
def test_sipas_flags_reach_composites_and_shown_shares_have_intervals(wave, element_rule):
    opts = SipasOptions(element_rule=element_rule, lonely_psu="adjust")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = sipas_indices(wave, levels=("commune", "area", "total"), options=opts)
    _check_sipas_flags(est)
    if element_rule == "mean_of_items":
        _check_intervals(est)
    else:  # elements are respondent means: a t interval; items and parts are shares
        _check_intervals(est[est.index_level != "element"])


@SETTINGS
@given(sipas_waves())
def test_sipas_mean_score_flags_reach_composites(wave):
    opts = SipasOptions(item_statistic="mean_score_0_100")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = sipas_indices(wave, levels=("commune", "total"), subgroups=(), options=opts)
    _check_sipas_flags(est)


@st.composite
def papi_waves(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    inst = load_instrument("papi-2018")
    items = inst.items[
        (inst.items["role"] == "indicator")
        & (inst.items["valid_from"].fillna(0) <= 2019)
        & (inst.items["valid_to"].fillna(9999) >= 2019)
    ]
    d = _frame(rng, draw(st.integers(1, 3)), "2019", "papi-2018")
    scale = {}
    for it in items.itertuples():
        if it.valid_codes:
            scale[it.code] = np.asarray(it.valid_codes, dtype=float)
        else:  # continuous indicators (distance, time, amount): points of the natural scale
            scale[it.code] = np.linspace(float(it.scale_min), float(it.scale_max), 5)
    p_missing = draw(st.floats(0, 0.4))
    p_gone = draw(st.floats(0, 0.3))
    return _answers(rng, d, items["code"].tolist(), scale.__getitem__, p_missing, p_gone)


@PAPI_SETTINGS
@given(papi_waves(), st.sampled_from(["respondent", "indicator_means"]))
def test_papi_flags_reach_subdimensions_dimensions_and_totals(wave, aggregation):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = papi_indices(
            wave,
            year=2019,
            levels=("commune", "total"),
            subgroups=(),
            options=PapiOptions(aggregation=aggregation),
        )
    flags = {(_unit(r), r.index_code): r.flag_detail for r in est.itertuples()}
    parent = dict(zip(est.index_code, est.parent_code, strict=False))
    totals = [c for c in ("papi", "papi_weighted") if c in set(est.index_code)]
    for r in est[est.index_level == "indicator"].itertuples():
        sub = r.parent_code
        dim = parent[sub]
        for comp in [sub, dim, *totals]:
            _check_inherited(
                flags[(_unit(r), comp)], r.flag_detail, f"{_unit(r)} {r.index_code}->{comp}"
            )


def test_inherit_flags_hand_examples():
    out = inherit_flags(
        ["ok", "small_n", "empty", "ok"],
        ["single_psu", "partial", "low_df", "empty", "empty", "small_n;empty"],
        [0, 0, 1, 1, 2, 3],
    )
    assert out.tolist() == [
        "single_psu;partial",
        "small_n;low_df;partial",
        "empty",  # an empty composite is not also "partial"
        "small_n;partial",
    ]
    assert inherit_flags(["ok"], ["empty"], [0], empty_as=None).tolist() == ["ok"]
    assert inherit_flags(["ok"], ["weird;ok"], [0]).tolist() == ["weird"]


def test_composite_of_degenerate_items_has_an_interval():
    # q1 all satisfied (100 %), q2 none (0 %): the composite is 50 % with se 0; its interval is
    # the mean of the items' Clopper-Pearson bounds, never [50, 50]
    d = pd.DataFrame(
        {
            "stratum": 1,
            "psu": np.repeat([1, 2, 3], 4),
            "weight": 1.0,
            "q1": pd.array([5] * 12, dtype="Int64"),
            "q2": pd.array([1] * 12, dtype="Int64"),
        }
    )
    est = estimate_domains(d, ["q1", "q2"])
    comp = composite_mean(est, {"c": ["q1", "q2"]}).table.iloc[0]
    items = est.table.set_index("index_code")
    assert comp.estimate == pytest.approx(50.0)
    assert comp.ci_low == pytest.approx((items.loc["q1", "ci_low"] + 0.0) / 2)
    assert comp.ci_high == pytest.approx((100.0 + items.loc["q2", "ci_high"]) / 2)
    assert comp.ci_low < 50 < comp.ci_high and comp.ci_method == "mean-of-member-bounds"
    # both items are degenerate (0 % / 100 %): so is the composite built on them
    assert comp.flag == "small_n;degenerate"  # n = 12 < 30
